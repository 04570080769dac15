"""One video's maps straight into a batch's packed store, as the video finishes (``storage_format: zarr``).

:class:`PackedVideoStore` has the writing methods of :class:`~attention_visual.storage.files.store.AttentionStore`
that a capture uses (``save_steps``, ``save_aggregated``, ``mark_complete``, ``remove_video``,
``is_complete``), so :func:`~attention_visual.capture.maps_io.save_word_maps` writes either layout the
same way. What it writes equals what ``pack`` makes of the files layout written with the same options:
the same arrays, the same metadata (``storage_format`` and ``source`` say how ``unpack`` writes the
files: ``.npz``, compressed or not, or ``.pt``), the same completion record (less the seed files'
``checksums``, which never existed). One difference until the batch's end: each video's step averages
wait under ``_staged/<video_id>/`` (see :mod:`attention_visual.storage.packed.averages`).

:func:`packed_video_problems` verifies a finished video before a rerun trusts it.

Example:
    >>> store = PackedVideoStore(Path("batch/attention_maps.zarr"), dtype="float16")   # doctest: +SKIP
    >>> store.save_steps(step_metadata, stack)  # stack: [step, *leading, frame, y, x]  # doctest: +SKIP
    >>> store.mark_complete("prompt_001_vid_001", {"words": {"kiss": "kiss"}})         # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.durable.integrity import FileDigest, check_file
from attention_visual.storage.files.layout import check_video_id
from attention_visual.storage.files.store import check_store_options, stored_map
from attention_visual.storage.packed.documents import attributes_of, read_document
from attention_visual.storage.packed.reader import ZARR_JSON, is_packed_store
from attention_visual.storage.packed.writer import PACKED_FILES, PackedWriter
from attention_visual.storage.schema.metadata import MapMetadata


class PackedVideoStore:
    """Writes videos' maps into the packed store at ``path`` (created on first write).

    Args:
        path: the ``attention_maps.zarr`` folder.
        compress: how ``unpack`` writes ``.npz`` files (compressed or not); the store itself uses Blosc.
        dtype: ``"float32"`` or ``"float16"`` on disk.
        step_format: ``"numpy"`` or ``"torch"``: the file format ``unpack`` writes the steps in.
        aggregated_format: the same for the step averages (defaults to ``step_format``).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        compress: bool = True,
        dtype: str = "float32",
        step_format: str = "numpy",
        aggregated_format: str | None = None,
    ) -> None:
        check_store_options(dtype, step_format=step_format, aggregated_format=aggregated_format)
        self.path = Path(path)
        self.compress, self.dtype = compress, dtype
        self.step_format, self.aggregated_format = step_format, aggregated_format or step_format

    @functools.cached_property
    def _writer(self) -> PackedWriter:
        return PackedWriter(self.path)

    def _source(self, fmt: str, default: bool | None) -> dict[str, Any]:
        """The ``source`` attribute ``pack`` would record for seed files of format ``fmt``."""
        if fmt == "numpy":
            return {"npz_compressed": self.compress}
        return {} if default is None else {"npz_compressed": default}

    def _ensure_video(self, video_id: str) -> None:
        if not (self.path / check_video_id(video_id) / ZARR_JSON).is_file():
            self._writer.begin_video(video_id)

    def is_complete(self, video_id: str) -> bool:
        return packed_complete_record(self.path, video_id) is not None

    def remove_video(self, video_id: str) -> None:
        """Delete what the store holds of ``video_id`` (before redoing an unfinished video)."""
        if is_packed_store(self.path):
            self._writer.remove_video(video_id)

    def save_steps(self, metadata: Sequence[MapMetadata], stack: np.ndarray) -> list[Path]:
        """Store a word's steps, ``stack`` ``[step, *leading, frame, y, x]``, as one shard; return its folder."""
        if not metadata:
            raise AttentionDataError("save_steps needs at least one step")
        video_id = metadata[0].video_id
        folder = self.path / check_video_id(video_id)
        items = []
        for i, meta in enumerate(metadata):
            if meta.step_index is None:
                raise AttentionDataError("save_steps needs metadata.step_index; use save_aggregated for averages")
            arr, stored = stored_map(meta, stack[i], self.dtype, self.step_format, folder)  # [*leading, frame, y, x]
            items.append((stored, arr))
        self._ensure_video(video_id)
        return [self._writer.write_word(video_id, items, self._source(self.step_format, None))]

    def save_aggregated(self, metadata: MapMetadata, array: np.ndarray) -> Path:
        """Stage a word's step average (``[*leading, frame, y, x]``) until the batch's end."""
        folder = self.path / check_video_id(metadata.video_id)
        arr, stored = stored_map(metadata, array, self.dtype, self.aggregated_format, folder)
        self._ensure_video(metadata.video_id)
        # pack records a .pt file's step averages as compressed (it asks the .npz files only)
        source = self._source(self.aggregated_format, True)
        return self._writer.stage_average(metadata.video_id, stored, arr, source)

    def mark_complete(self, video_id: str, summary: dict[str, Any]) -> Path:
        """Record the video as finished, with its files' sizes and SHA-256 (call last); return its ``zarr.json``."""
        self._ensure_video(video_id)
        self._writer.mark_complete(video_id, summary)
        return self.path / video_id / ZARR_JSON


def packed_complete_record(store: Path, video_id: str) -> dict[str, Any] | None:
    """A video's completion record in the packed store at ``store``, or None (no such video, or unfinished).

    Raises:
        AttentionDataError: The group's ``zarr.json`` cannot be read.
    """
    meta = Path(store) / check_video_id(video_id) / ZARR_JSON
    if not meta.is_file():
        return None
    record = attributes_of(read_document(meta), meta).get("complete")  # no link, size-limited
    return dict(record) if isinstance(record, dict) else None


def packed_video_problems(store: Path, video_id: str, *, checksums: bool = True) -> list[tuple[str, str]]:
    """What is wrong with a video of the packed store: ``[(path, problem)]``, empty when it is finished and verifies.

    Paths are relative to the video's group (``kiss/c.0.0.0.0``). A record without ``packed_files``
    (a store packed before they were recorded) is trusted; ``checksums=False`` checks sizes only.
    """
    folder = Path(store) / check_video_id(video_id)
    try:
        record = packed_complete_record(store, video_id)
    except AttentionDataError:
        return [(ZARR_JSON, f"{ZARR_JSON} is unreadable")]
    if record is None:
        what = "is missing" if not (folder / ZARR_JSON).is_file() else "says the video is unfinished"
        return [(ZARR_JSON, f"{ZARR_JSON} {what}")]
    problems = []
    try:
        digests = [FileDigest.from_dict(d) for d in record.get(PACKED_FILES, [])]
    except AttentionDataError:
        return [(ZARR_JSON, f"{ZARR_JSON} lists unreadable {PACKED_FILES}")]
    for digest in digests:
        problem = check_file(folder, digest, checksums=checksums)
        if problem is not None:
            problems.append((digest.path, problem))
    return problems


__all__ = ["PackedVideoStore", "packed_complete_record", "packed_video_problems"]

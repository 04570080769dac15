"""Writing a packed store (layout: :mod:`attention_visual.storage.packed.reader`): :class:`PackedWriter`.

``pack`` writes a whole batch with it; ``storage_format: zarr`` writes each video with it as the video
finishes (:mod:`attention_visual.storage.packed.video`). Every file is written atomically (Zarr's
``LocalStore`` writes a ``*.partial`` file and renames it), and a video's group says ``complete`` only
after every array of the video is written, so a video interrupted half-way reads as unfinished.

A video's completion record lists its own files (``packed_files``: size and SHA-256 of each, paths
relative to the video's group, its ``zarr.json`` aside since it holds the record): a rerun verifies
them before trusting the video, as it verifies a files-layout ``_complete.json``'s ``checksums``.

Needs zarr (the ``analysis`` extra); imported on first use.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.durable.integrity import digest_file
from attention_visual.storage.files.layout import check_video_id, word_dir_name
from attention_visual.storage.packed.reader import (
    AGGREGATE_SHARD,
    AGGREGATES_GROUP,
    PACKED_KEY,
    PACKED_VERSION,
    STAGED_GROUP,
    ZARR_JSON,
    _json_normal,
    _split_metadata,
    _zarr,
    is_packed_store,
)
from attention_visual.storage.schema.metadata import MapMetadata

PACKED_FILES = "packed_files"
"""Key of a packed video's completion record that lists its files' sizes and SHA-256."""
PARTIAL_SUFFIX = ".partial"
"""Suffix of the temporary files Zarr writes before renaming them into place."""


class PackedWriter:
    """Writes a packed store (created when missing; several processes may open the same one).

    Example:
        >>> writer = PackedWriter(Path("batch/attention_maps.zarr"))                  # doctest: +SKIP
        >>> writer.begin_video("prompt_001_vid_001")                                  # doctest: +SKIP
        >>> writer.write_word("prompt_001_vid_001", steps)                            # doctest: +SKIP
        >>> writer.mark_complete("prompt_001_vid_001", {"words": ["kiss"]})           # doctest: +SKIP
        >>> writer.write_aggregates(averages_of_kiss)                                 # doctest: +SKIP
    """

    def __init__(
        self, path: Path | str, compressor: dict[str, Any] | None = None, aggregate_shard: int = AGGREGATE_SHARD
    ) -> None:
        zarr = _zarr()
        self.aggregate_shard = aggregate_shard
        self.path = Path(path)
        self._store = zarr.storage.LocalStore(str(self.path))
        if not is_packed_store(self.path):
            try:
                zarr.open_group(self._store, mode="w-", zarr_format=3, attributes={PACKED_KEY: PACKED_VERSION})
            except Exception:
                if not is_packed_store(self.path):  # another process created it meanwhile: use theirs
                    raise
        self._root = zarr.open_group(self._store, mode="r+")
        self._compressor = compressor or {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}

    def begin_video(self, video_id: str) -> None:
        """Create (or clear) the video's group; it stays incomplete until :meth:`mark_complete`."""
        self.remove_video(video_id)
        self._root.create_group(check_video_id(video_id), overwrite=True, attributes={"complete": None})

    def remove_video(self, video_id: str) -> None:
        """Delete every array of ``video_id``: its group and its staged step averages (not ``_aggregated/``)."""
        remove_packed_video(self.path, video_id)

    def _create(self, group: Any, name: str, shape: tuple[int, ...], dtype: Any, shard: int, attrs: Any) -> Any:
        return group.create_array(
            name=name,
            shape=shape,
            dtype=dtype,
            chunks=(1, *shape[1:]),
            shards=(max(1, shard), *shape[1:]),
            compressors=_zarr().codecs.BloscCodec(typesize=np.dtype(dtype).itemsize, **self._compressor),
            dimension_names=attrs.pop("dimension_names"),
            chunk_key_encoding={"name": "default", "separator": "."},  # a shard is one file: c.0.0.0.0
            attributes=attrs,
            overwrite=True,
        )

    def write_word(
        self, video_id: str, steps: Sequence[tuple[MapMetadata, np.ndarray]], source: dict[str, Any] | None = None
    ) -> Path:
        """Write one word's stored steps (in step order) as one sharded array; return its folder."""
        if not steps:
            raise AttentionDataError(f"{video_id}: a word without stored steps cannot be packed")
        metas = [m for m, _ in steps]
        _check_uniform(video_id, steps)
        data = np.stack([a for _, a in steps])  # [step, *leading, frame, y, x]
        base, overrides = _split_metadata(metas)
        word = metas[0].word
        attrs = {
            "dimension_names": ("step", *metas[0].axes),
            "word": word,
            "steps": [m.step_index for m in metas],
            "base": base,
            "overrides": overrides,
            "source": dict(source or {}),
        }
        array = self._create(self._root[check_video_id(video_id)], word_dir_name(word), data.shape, data.dtype,
                             data.shape[0], attrs)  # fmt: skip
        array[...] = data
        return self.path / video_id / word_dir_name(word)

    def _averages_array(self, group: Any, word: str, video_ids: Sequence[str], first: tuple[MapMetadata, np.ndarray],
                        shard: int, source: dict[str, Any] | None) -> Any:  # fmt: skip
        """An empty array ``[video, *leading, frame, y, x]`` of ``word``'s step averages (metadata set later)."""
        meta, array = first
        attrs = {"dimension_names": ("video", *meta.axes), "word": word, "videos": list(video_ids),
                 "base": {}, "overrides": [], "source": dict(source or {})}  # fmt: skip
        return self._create(group, word_dir_name(word), (len(video_ids), *array.shape), array.dtype, shard, attrs)

    def write_aggregates(
        self,
        word: str,
        video_ids: Sequence[str],
        read: Callable[[str], tuple[MapMetadata, np.ndarray]],
        source: dict[str, Any] | None = None,
    ) -> None:
        """Write ``word``'s step averages of ``video_ids`` (``read(video_id) -> (metadata, array)``) as one array.

        Reads and writes one shard (``aggregate_shard`` videos) at a time, so memory stays bounded.
        """
        if not video_ids:
            return
        first = read(video_ids[0])
        metas: list[MapMetadata] = []
        array: Any = None
        for start in range(0, len(video_ids), self.aggregate_shard):
            block_ids = video_ids[start : start + self.aggregate_shard]
            items = [first if v == video_ids[0] else read(v) for v in block_ids]
            _check_uniform(word, [first, *items])
            metas += [m for m, _ in items]
            if array is None:
                group = self._root.require_group(AGGREGATES_GROUP)
                array = self._averages_array(group, word, video_ids, first, self.aggregate_shard, source)
            array[start : start + len(items)] = np.stack([a for _, a in items])  # whole shards: no rewrite
        base, overrides = _split_metadata(metas)
        array.attrs.update({"base": base, "overrides": overrides})

    def stage_average(
        self, video_id: str, metadata: MapMetadata, average: np.ndarray, source: dict[str, Any] | None = None
    ) -> Path:
        """Write one video's step average of a word (``[*leading, frame, y, x]``) under ``_staged/<video_id>/``.

        It has the layout of ``_aggregated/<word_dir>`` with one video, so the batch's end moves it
        there unchanged (:func:`~attention_visual.storage.packed.averages.consolidate_averages`).
        """
        group = self._root.require_group(STAGED_GROUP).require_group(check_video_id(video_id))
        array = self._averages_array(group, metadata.word, [video_id], (metadata, average), 1, source)
        base, overrides = _split_metadata([metadata])
        array.attrs.update({"base": base, "overrides": overrides})
        array[0] = average
        return self.path / STAGED_GROUP / video_id / word_dir_name(metadata.word)

    def mark_complete(self, video_id: str, summary: dict[str, Any]) -> None:
        """Record the video as finished (call last, after every word is written).

        ``summary`` is stored as given, plus ``packed_files``: the size and SHA-256 of every file of the
        video's group, read back from the disk.
        """
        folder = self.path / check_video_id(video_id)
        covered = sorted(
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and p != folder / ZARR_JSON and not p.name.endswith(PARTIAL_SUFFIX)
        )
        digests = [digest_file(folder, rel).to_dict() for rel in covered]
        self._root[video_id].attrs.update({"complete": {**_json_normal(summary), PACKED_FILES: digests}})


def remove_packed_video(store: Path, video_id: str) -> None:
    """Delete ``video_id``'s group and staged step averages from the packed store ``store`` (no zarr needed).

    Its row in ``_aggregated/`` stays until the next consolidation leaves it out (the video is no longer
    complete by then, or it was redone and staged anew).
    """
    for folder in (Path(store) / check_video_id(video_id), Path(store) / STAGED_GROUP / video_id):
        if folder.is_dir():
            shutil.rmtree(folder)


def _check_uniform(label: str, items: Sequence[tuple[MapMetadata, np.ndarray]]) -> None:
    first_meta, first = items[0]
    for meta, arr in items:
        if meta.word != first_meta.word or arr.shape != first.shape or arr.dtype != first.dtype:
            raise AttentionDataError(
                f"{label}: maps of {meta.video_id}/{meta.word!r} ({arr.shape}, {arr.dtype}) differ from "
                f"{first_meta.video_id}/{first_meta.word!r} ({first.shape}, {first.dtype}); cannot pack them"
            )


__all__ = ["PACKED_FILES", "PackedWriter", "remove_packed_video"]

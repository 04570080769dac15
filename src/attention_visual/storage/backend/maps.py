"""One store of maps, whichever its layout: :class:`MapBackend` gives its reader, its writer (sink), a video's
completion record, its verification and its removal.

Get one with :func:`~attention_visual.storage.backend.placement.open_maps`, which applies the batch's rule
of where its maps are; nothing else in the package asks which layout a batch has.

Example:
    >>> maps = MapBackend(FILES, Path("outputs/demo/attention_maps"))
    >>> maps.completion_mark("prompt_001_vid_001")
    'attention_maps/prompt_001_vid_001/_complete.json'
    >>> MapBackend(PACKED, Path("outputs/demo/attention_maps.zarr")).write_format("numpy")
    'zarr'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attention_visual.storage.backend.protocols import BulkMapReader, MapSink
from attention_visual.storage.batch.layout import ATTENTION_MAPS_DIR, PACKED_STORE, STORES
from attention_visual.storage.files.layout import COMPLETE_MARK, PACKED_FORMAT, check_video_id
from attention_visual.storage.files.reader import AttentionStoreReader
from attention_visual.storage.files.store import AttentionStore
from attention_visual.storage.packed.reader import ZARR_JSON, PackedReader
from attention_visual.storage.packed.video import PackedVideoStore, packed_complete_record, packed_video_problems
from attention_visual.storage.packed.writer import PackedWriter, remove_packed_video

FILES = "files"
"""The files layout: one ``.npz`` (or ``.pt``) + JSON per map under ``attention_maps/``."""
PACKED = "packed"
"""The packed store: one Zarr v3 store ``attention_maps.zarr``."""
LAYOUT_FOLDERS = {FILES: ATTENTION_MAPS_DIR, PACKED: PACKED_STORE}
"""The folder of each layout in a batch folder."""


def map_sink(
    root: Path, storage_format: str, compress: bool, dtype: str, aggregated_format: str | None = None
) -> MapSink:
    """The store ``storage_format`` writes to: ``"numpy"``/``"torch"`` files under ``root``, or ``"zarr"``,
    the packed store ``root``."""
    if storage_format == PACKED_FORMAT:
        return PackedVideoStore(root, compress=compress, dtype=dtype, aggregated_format=aggregated_format)
    return AttentionStore(
        root, storage_format=storage_format, compress=compress, dtype=dtype, aggregated_format=aggregated_format
    )


@dataclass(frozen=True)
class MapBackend:
    """The maps of one store: ``layout`` (:data:`FILES` or :data:`PACKED`) at ``root``.

    A value (it pickles, it compares): open a reader from it where one is needed, e.g. in a dask task.
    """

    layout: str
    root: Path

    @property
    def batch_dir(self) -> Path | None:
        """The batch folder holding the store, None for a store folder of another name."""
        return self.root.parent if self.root.name in STORES else None

    def exists(self) -> bool:
        """Whether the store's folder exists (a new batch's does not until its first map)."""
        return self.root.is_dir()

    def reader(self) -> BulkMapReader:
        """A new reader of the store (its index is its own: one per pass keeps memory flat).

        Raises:
            NotFoundError: The store does not exist (or is not a packed store).
        """
        return PackedReader(self.root) if self.layout == PACKED else AttentionStoreReader(self.root)

    def write_format(self, configured: str) -> str:
        """The ``storage_format`` maps are written in: the layout wins over the ``configured`` one.

        A packed store gets ``zarr`` whatever the config says; the files layout the configured file
        format (``numpy`` when the config says ``zarr``, as in a ``zarr`` batch that was unpacked).
        """
        if self.layout == PACKED:
            return PACKED_FORMAT
        return "numpy" if configured == PACKED_FORMAT else configured

    def sink(self, configured: str, *, compress: bool, dtype: str, aggregated_format: str | None = None) -> MapSink:
        """The writer of this store, for maps of a config that says ``storage_format: configured``."""
        return map_sink(self.root, self.write_format(configured), compress, dtype, aggregated_format)

    def create(self) -> None:
        """Create the store if it is packed and missing (before several processes write into it)."""
        if self.layout == PACKED:
            PackedWriter(self.root)

    def completion_mark(self, video_id: str) -> str:
        """The file that says a video's maps are complete, relative to the batch folder.

        ``attention_maps/<video_id>/_complete.json``, or the video group's ``zarr.json`` in the packed store.
        """
        name = ZARR_JSON if self.layout == PACKED else COMPLETE_MARK
        return f"{self.root.name}/{check_video_id(video_id)}/{name}"

    def has_video(self, video_id: str) -> bool:
        """Whether the store holds anything of ``video_id`` (finished or not)."""
        folder = self.root / check_video_id(video_id)
        return (folder / ZARR_JSON).is_file() if self.layout == PACKED else folder.is_dir()

    def complete_record(self, video_id: str) -> dict[str, Any] | None:
        """The video's completion record (``_complete.json``'s content), None while it is unfinished.

        Raises:
            AttentionDataError: The record cannot be read.
        """
        if self.layout == PACKED:
            return packed_complete_record(self.root, video_id)
        return AttentionStore(self.root).completion_record(video_id)  # no link followed, size-limited

    def check_video(self, video_id: str, *, checksums: bool = True) -> list[tuple[str, str]]:
        """What is wrong with a video's maps: ``[(path, problem)]``, empty when it is finished and verifies.

        Paths are relative to the video's folder (``kiss/step_001.npz``, ``kiss/c.0.0.0.0``); every file the
        completion record lists is checked (size, and SHA-256 with ``checksums``).
        """
        if self.layout == PACKED:
            return packed_video_problems(self.root, video_id, checksums=checksums)
        if not (self.root / check_video_id(video_id) / COMPLETE_MARK).is_file():
            return [(COMPLETE_MARK, f"{COMPLETE_MARK} is missing")]
        return AttentionStore(self.root).check_video(video_id, checksums=checksums)

    def remove_video(self, video_id: str) -> None:
        """Delete what the store holds of ``video_id`` (before an unfinished video is redone)."""
        if self.layout == PACKED:
            remove_packed_video(self.root, video_id)
        else:
            AttentionStore(self.root).remove_video(video_id)


__all__ = ["FILES", "LAYOUT_FOLDERS", "PACKED", "MapBackend", "map_sink"]

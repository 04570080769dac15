"""What reads stored maps and what writes them, side by side: :class:`MapReader`, :class:`BulkMapReader`,
:class:`MapSink`.

Both layouts implement them: the files layout (:class:`~attention_visual.storage.files.reader.AttentionStoreReader`,
:class:`~attention_visual.storage.files.store.AttentionStore`) and the packed store
(:class:`~attention_visual.storage.packed.reader.PackedReader`,
:class:`~attention_visual.storage.packed.video.PackedVideoStore`). A batch's
:class:`~attention_visual.storage.backend.maps.MapBackend` hands out the pair of its layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from attention_visual.storage.files.store import AttentionInfo
from attention_visual.storage.schema.metadata import MapMetadata


@runtime_checkable
class MapReader(Protocol):
    """What a reader of stored maps answers; :class:`~attention_visual.visualization.AttentionAnalyzer` asks it.

    Missing videos, words or steps raise :class:`~attention_visual.errors.NotFoundError` naming what is
    available; unreadable data raises :class:`~attention_visual.errors.AttentionDataError` naming the file.
    """

    def list_videos(self, include_incomplete: bool = True) -> list[str]:
        """Video ids with stored maps, sorted; unfinished ones only with ``include_incomplete``."""
        ...

    def is_complete(self, video_id: str) -> bool:
        """True once every map of the video was written."""
        ...

    def list_words(self, video_id: str) -> list[str]:
        """The marked words of a video (original text), sorted."""
        ...

    def list_steps(self, video_id: str, word: str) -> list[int]:
        """Stored step indices of a word, ascending."""
        ...

    def read_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        """One step's map (``[*leading, frame, y, x]``) and its metadata."""
        ...

    def read_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        """The step-averaged map of a word."""
        ...


@runtime_checkable
class BulkMapReader(MapReader, Protocol):
    """A :class:`MapReader` that also reads a word's steps at once and can forget a video (both store readers)."""

    def read_steps(self, video_id: str, word: str) -> tuple[np.ndarray, list[MapMetadata]]:
        """Every stored step as stored, in step order: ``([step, *leading, frame, y, x], metadata per step)``."""
        ...

    def list_step_metadata(self, video_id: str, word: str) -> list[MapMetadata]:
        """The metadata of every stored step of a word, in step order, without reading the arrays."""
        ...

    def video_folder(self, video_id: str) -> Path:
        """The folder holding a video's maps (the newest mtime under it dates them)."""
        ...

    def release(self, video_id: str) -> None:
        """Forget what is cached about a video (a single pass over a large batch then keeps memory flat)."""
        ...


class MapSink(Protocol):
    """Where a capture writes one video's maps (:func:`~attention_visual.capture.maps_io.save_word_maps`).

    ``save_steps`` and ``save_aggregated`` store a word's maps, ``mark_complete`` comes last; a video
    without its mark is unfinished and ``remove_video`` clears it before it is written again.
    """

    def is_complete(self, video_id: str) -> bool: ...
    def remove_video(self, video_id: str) -> None: ...
    def save_steps(self, metadata: Sequence[MapMetadata], stack: np.ndarray) -> list[Path]: ...
    def save_aggregated(self, metadata: MapMetadata, array: np.ndarray) -> Path: ...
    def mark_complete(self, video_id: str, summary: dict[str, Any]) -> Path: ...


__all__ = ["BulkMapReader", "MapReader", "MapSink"]

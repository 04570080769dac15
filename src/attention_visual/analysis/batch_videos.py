"""The videos of a batch folder as the cross-video views need them: prompt, seed, words, where the maps are.

Read from ``manifest.json`` and the newer status files
(:func:`~attention_visual.storage.batch.manifest.current_records`). A video's maps are known when they
exist, in the files layout or packed (``done`` and ``interrupted`` videos; ``failed`` and ``pending``
ones have none).

Example:
    >>> [(v.video_id, v.seed) for v in batch_videos(Path("outputs/demo"))]     # doctest: +SKIP
    [('prompt_001_vid_001', 42), ('prompt_001_vid_002', 43)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attention_visual.storage.backend import find_maps
from attention_visual.storage.batch.manifest import VideoRecord, current_records


@dataclass(frozen=True)
class BatchVideo:
    """One video of a batch.

    Attributes:
        video_id: ``prompt_001_vid_001``.
        prompt_index: 1-based prompt number.
        video_index: 1-based video number within its prompt.
        seed: Its generator seed.
        words: Its marked words (original text).
        status: ``done`` | ``failed`` | ``pending`` | ``interrupted``.
        maps_root: The batch's store holding its maps (``BATCH_DIR/attention_maps`` or
            ``BATCH_DIR/attention_maps.zarr``, as :func:`~attention_visual.storage.backend.open_maps` finds
            them), None without maps.
        record: Its manifest entry (or newer status file).
        model: Its model's name (``VideoRecord.model_name``: a comparison's entry, else the model id's last
            part; None in manifests older than the field).
    """

    video_id: str
    prompt_index: int
    video_index: int
    seed: int
    words: tuple[str, ...]
    status: str
    maps_root: Path | None
    record: VideoRecord
    model: str | None = None


def batch_videos(batch_dir: Path | str) -> list[BatchVideo]:
    """Every planned video of ``batch_dir`` in batch order (see :class:`BatchVideo`).

    Raises:
        NotFoundError: Not a batch folder.
        AttentionDataError: The manifest is unreadable.
    """
    batch_dir = Path(batch_dir)
    store = find_maps(batch_dir)  # the batch's one layout, by the rule every command applies
    videos = []
    for record in current_records(batch_dir):
        has_maps = bool(record.paths.attention_maps) and store is not None and store.has_video(record.video_id)
        videos.append(
            BatchVideo(
                video_id=record.video_id,
                prompt_index=record.prompt_index,
                video_index=record.video_index,
                seed=record.seed,
                words=record.words,
                status=record.status,
                maps_root=store.root if has_maps and store is not None else None,
                record=record,
                model=record.model_name,
            )
        )
    return videos


__all__ = ["BatchVideo", "batch_videos"]

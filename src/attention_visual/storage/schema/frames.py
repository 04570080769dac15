"""Latent-frame ↔ video-frame mapping of Wan's causal 3-D VAE: the one place that computes it.

The capture stores the mapping in each map's metadata (``latent_to_video_frames``); the analyzer,
the renderer and the report read it back through :func:`frame_weights`, :func:`frame_average` and
:func:`video_frame_index`, which check it against the array and raise :class:`AttentionDataError`
when the two disagree (never a silent unweighted mean).

Wan's VAE compresses time by 4 with a causal first frame: latent frame 0 decodes to video
frame 0 alone, and latent frame k ≥ 1 decodes to video frames 4k−3 … 4k. A video of
``4n + 1`` frames therefore has ``n + 1`` latent frames.

>>> latent_frame_of_video_frame(0), latent_frame_of_video_frame(4), latent_frame_of_video_frame(5)
(0, 1, 2)
>>> list(video_frames_of_latent(2))
[5, 6, 7, 8]
>>> check_frame_mapping(((0, 0), (1, 4)), latent_frames=2, video_frames=5)
>>> check_frame_mapping(((0, 0), (1, 4)), latent_frames=3, video_frames=5)
Traceback (most recent call last):
attention_visual.errors.AttentionDataError: the map has 3 latent frames but latent_to_video_frames maps 2
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.schema.metadata import MapMetadata

WAN_TEMPORAL_FACTOR = 4


def latent_frame_of_video_frame(n: int, temporal_factor: int = WAN_TEMPORAL_FACTOR) -> int:
    """Index of the latent frame that produced video frame ``n``: ``(n + f - 1) // f``."""
    if n < 0:
        raise ValueError(f"video frame index must be >= 0, got {n}")
    return (n + temporal_factor - 1) // temporal_factor


def video_frames_of_latent(k: int, temporal_factor: int = WAN_TEMPORAL_FACTOR) -> range:
    """Video frames decoded from latent frame ``k`` (0 → [0]; k ≥ 1 → [f·k−f+1, f·k])."""
    if k < 0:
        raise ValueError(f"latent frame index must be >= 0, got {k}")
    if k == 0:
        return range(0, 1)
    return range(temporal_factor * k - temporal_factor + 1, temporal_factor * k + 1)


def num_latent_frames(num_video_frames: int, temporal_factor: int = WAN_TEMPORAL_FACTOR) -> int:
    """Latent frames of a ``temporal_factor·k + 1``-frame video."""
    return (num_video_frames - 1) // temporal_factor + 1


def latent_to_video_frame_ranges(
    num_latent: int, temporal_factor: int = WAN_TEMPORAL_FACTOR
) -> tuple[tuple[int, int], ...]:
    """``(first, last)`` inclusive video frames for each latent frame, as stored in metadata."""
    out = []
    for k in range(num_latent):
        frames = video_frames_of_latent(k, temporal_factor)
        out.append((frames.start, frames.stop - 1))
    return tuple(out)


def latent_to_video_frame_ranges_after_references(
    num_latent: int, num_reference: int, temporal_factor: int = WAN_TEMPORAL_FACTOR
) -> tuple[tuple[int, int], ...]:
    """As :func:`latent_to_video_frame_ranges` when the first ``num_reference`` latent frames are inputs.

    VACE's reference images add latent frames at the front that are dropped before decoding: each maps
    to the empty range ``(0, -1)`` (no video frame; weight ``last - first + 1 = 0``), and latent frame
    ``num_reference + k`` maps to the video frames of latent ``k``.

    >>> latent_to_video_frame_ranges_after_references(3, 1)
    ((0, -1), (0, 0), (1, 4))
    """
    if not 0 <= num_reference <= num_latent:
        raise ValueError(f"{num_reference} reference frames do not fit {num_latent} latent frames")
    video = latent_to_video_frame_ranges(num_latent - num_reference, temporal_factor)
    return ((0, -1),) * num_reference + video


def check_frame_mapping(
    ranges: Sequence[tuple[int, int]], latent_frames: int, video_frames: int, conditioning: Sequence[int] = ()
) -> None:
    """Check that ``ranges`` maps ``latent_frames`` latent frames onto video frames ``0 … video_frames-1``.

    Each latent frame owns a non-empty run of video frames, the runs follow each other without gap or
    overlap, and together they cover the video. A conditioning latent frame (``conditioning``, e.g. a
    VACE reference image dropped before decoding) may own none: the empty run ``(first, first - 1)``.

    Raises:
        AttentionDataError: The mapping contradicts the array (callers add the file's name).
    """
    if len(ranges) != latent_frames:
        raise AttentionDataError(
            f"the map has {latent_frames} latent frames but latent_to_video_frames maps {len(ranges)}"
        )
    expected_first = 0
    for k, (first, last) in enumerate(ranges):
        if first != expected_first or last < first - (1 if k in conditioning else 0):
            raise AttentionDataError(
                f"latent_to_video_frames[{k}] is ({first}, {last}); expected a run starting at video frame "
                f"{expected_first}"
            )
        expected_first = last + 1
    if expected_first != video_frames:
        raise AttentionDataError(
            f"latent_to_video_frames covers video frames 0–{expected_first - 1} but the video has {video_frames} frames"
        )


def _checked_ranges(metadata: MapMetadata, latent_frames: int | None) -> tuple[tuple[int, int], ...]:
    """The metadata's mapping, checked against ``latent_frames`` (default: its array's frame axis)."""
    frames = metadata.shape[-3] if latent_frames is None else latent_frames
    ranges = metadata.latent_to_video_frames
    try:
        check_frame_mapping(ranges, frames, metadata.video_dimensions.frames, metadata.conditioning_frames)
    except AttentionDataError as exc:
        where = f"video {metadata.video_id!r}, word {metadata.word!r}"
        where += f", step {metadata.step_index}" if metadata.step_index is not None else " (step average)"
        raise AttentionDataError(f"{where}: {exc}") from exc
    return ranges


def frame_weights(metadata: MapMetadata, latent_frames: int | None = None) -> np.ndarray:
    """``[frame]`` float32: how many video frames each latent frame produced (Wan: 1, 4, 4, …).

    Args:
        metadata: The map's metadata.
        latent_frames: Frames of the array the weights are for (default: the metadata's shape).

    Raises:
        AttentionDataError: The mapping contradicts the array.
    """
    ranges = _checked_ranges(metadata, latent_frames)
    return np.asarray([last - first + 1 for first, last in ranges], dtype=np.float32)


def frame_average(maps: np.ndarray, metadata: MapMetadata) -> np.ndarray:
    """``[..., y, x]`` float32: ``maps`` ``[..., frame, y, x]`` averaged over the *video's* frames.

    Each latent frame is weighted by the video frames it produced, so the result is the mean over the
    video frames a viewer sees.

    Raises:
        AttentionDataError: The mapping contradicts the array's frame axis.
    """
    weights = frame_weights(metadata, maps.shape[-3])  # [frame]
    return np.tensordot(maps, weights / weights.sum(), axes=([-3], [0])).astype(np.float32)


def video_frame_index(metadata: MapMetadata, latent_frames: int | None = None) -> np.ndarray:
    """``[video_frame]`` int64: the latent frame that produced each video frame.

    Raises:
        AttentionDataError: The mapping contradicts the array.
    """
    ranges = _checked_ranges(metadata, latent_frames)
    return np.repeat(np.arange(len(ranges), dtype=np.int64), [last - first + 1 for first, last in ranges])


__all__ = [
    "WAN_TEMPORAL_FACTOR",
    "check_frame_mapping",
    "frame_average",
    "frame_weights",
    "latent_frame_of_video_frame",
    "latent_to_video_frame_ranges",
    "latent_to_video_frame_ranges_after_references",
    "num_latent_frames",
    "video_frame_index",
    "video_frames_of_latent",
]

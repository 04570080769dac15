"""Map-frame ↔ video-frame mapping of a video VAE: the one place that computes it.

The capture stores the mapping in each map's metadata (``latent_to_video_frames``); the analyzer,
the renderer and the report read it back through :func:`frame_weights`, :func:`frame_average` and
:func:`video_frame_index`, which check it against the array and raise :class:`AttentionDataError`
when the two disagree (never a silent unweighted mean).

How a family's VAE and temporal patch relate the frames of a map to the frames of the video is a
:class:`FrameRule`, which the capture takes from the model family. A causal VAE that compresses
time by 4 (Wan, CogVideoX) decodes latent frame 0 to video frame 0 alone and latent frame k ≥ 1 to
video frames 4k−3 … 4k, so a video of ``4n + 1`` frames has ``n + 1`` latent frames. Where one token
covers several latent frames in time (``latent_frames_per_cell``), a map frame covers theirs.

>>> causal4 = FrameRule(temporal_factor=4)
>>> [latent_frame_of_video_frame(n, causal4) for n in (0, 4, 5)]
[0, 1, 2]
>>> list(video_frames_of_latent(2, causal4))
[5, 6, 7, 8]
>>> latent_to_video_frame_ranges(3, FrameRule(4, latent_frames_per_cell=2))
((0, 4), (5, 12), (13, 20))
>>> check_frame_mapping(((0, 0), (1, 4)), latent_frames=2, video_frames=5)
>>> check_frame_mapping(((0, 0), (1, 4)), latent_frames=3, video_frames=5)
Traceback (most recent call last):
attention_visual.errors.AttentionDataError: the map has 3 latent frames but latent_to_video_frames maps 2
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.schema.metadata import MapMetadata


@dataclass(frozen=True)
class FrameRule:
    """How the frames of a map (the token grid's time axis) map onto the frames of the video.

    Attributes:
        temporal_factor: Video frames per latent frame (4 for Wan and CogVideoX, 8 for LTX-Video).
        first_frame_alone: Latent frame 0 decodes to video frame 0 alone (a causal VAE), so a video
            has ``temporal_factor·k + 1`` frames; else latent frame k decodes to frames
            ``[f·k, f·k + f − 1]``.
        latent_frames_per_cell: Latent frames one grid cell covers in time (the temporal patch size;
            CogVideoX 1.5: 2).
        padding_latent_frames: Latent frames the model prepends before the first real one (they own
            no video frame; the first map frame covers fewer real latent frames).
    """

    temporal_factor: int
    first_frame_alone: bool = True
    latent_frames_per_cell: int = 1
    padding_latent_frames: int = 0

    def __post_init__(self) -> None:
        if self.temporal_factor < 1 or self.latent_frames_per_cell < 1 or self.padding_latent_frames < 0:
            raise ValueError(f"invalid frame rule {self}")

    def video_frames_of_latent(self, j: int) -> range:
        """Video frames decoded from (real) latent frame ``j``."""
        f = self.temporal_factor
        if not self.first_frame_alone:
            return range(f * j, f * j + f)
        return range(0, 1) if j == 0 else range(f * j - f + 1, f * j + 1)

    def latent_frames(self, num_video_frames: int) -> int:
        """Real latent frames of a video of ``num_video_frames`` frames."""
        f = self.temporal_factor
        return (num_video_frames - 1) // f + 1 if self.first_frame_alone else num_video_frames // f

    def for_video(self, num_video_frames: int) -> FrameRule:
        """This rule for a video of ``num_video_frames`` frames: its real latent frames padded in front to fill
        whole tokens (``latent_frames_per_cell``), as CogVideoX 1.5's pipelines pad an odd latent count.

        >>> FrameRule(4, latent_frames_per_cell=2).for_video(17).padding_latent_frames  # 5 latent frames
        1
        """
        pad = -self.latent_frames(num_video_frames) % self.latent_frames_per_cell
        return dataclasses.replace(self, padding_latent_frames=pad)

    def for_unknown_video(self) -> FrameRule:
        """This rule when the video's frame count is unknown: one latent frame short of whole tokens, the
        padding of the published frame counts (CogVideoX 1.5: 16k+1 frames, an odd latent count)."""
        return dataclasses.replace(self, padding_latent_frames=self.latent_frames_per_cell - 1)


def latent_frame_of_video_frame(n: int, rule: FrameRule) -> int:
    """Index of the map frame that shows video frame ``n``."""
    if n < 0:
        raise ValueError(f"video frame index must be >= 0, got {n}")
    f = rule.temporal_factor
    latent = (n + f - 1) // f if rule.first_frame_alone else n // f
    return (latent + rule.padding_latent_frames) // rule.latent_frames_per_cell


def video_frames_of_latent(k: int, rule: FrameRule) -> range:
    """Video frames shown by map frame ``k`` (one latent frame, or ``latent_frames_per_cell`` of them).

    Empty for a map frame made only of padding latent frames.
    """
    if k < 0:
        raise ValueError(f"latent frame index must be >= 0, got {k}")
    p, pad = rule.latent_frames_per_cell, rule.padding_latent_frames
    first, last = max(p * k - pad, 0), p * k + p - 1 - pad
    if last < first:
        return range(0, 0)
    return range(rule.video_frames_of_latent(first).start, rule.video_frames_of_latent(last).stop)


def num_latent_frames(num_video_frames: int, rule: FrameRule) -> int:
    """Map frames of a video of ``num_video_frames`` frames (padding latent frames included)."""
    latent = rule.latent_frames(num_video_frames) + rule.padding_latent_frames
    return -(-latent // rule.latent_frames_per_cell)


def latent_to_video_frame_ranges(num_latent: int, rule: FrameRule) -> tuple[tuple[int, int], ...]:
    """``(first, last)`` inclusive video frames for each map frame, as stored in metadata."""
    out = []
    start = 0
    for k in range(num_latent):
        frames = video_frames_of_latent(k, rule)
        if len(frames) == 0:  # padding only: the empty run at the current position
            out.append((start, start - 1))
            continue
        out.append((frames.start, frames.stop - 1))
        start = frames.stop
    return tuple(out)


def latent_to_video_frame_ranges_after_references(
    num_latent: int, num_reference: int, rule: FrameRule
) -> tuple[tuple[int, int], ...]:
    """As :func:`latent_to_video_frame_ranges` when the first ``num_reference`` latent frames are inputs.

    VACE's reference images add latent frames at the front that are dropped before decoding: each maps
    to the empty range ``(0, -1)`` (no video frame; weight ``last - first + 1 = 0``), and latent frame
    ``num_reference + k`` maps to the video frames of latent ``k``.

    >>> latent_to_video_frame_ranges_after_references(3, 1, FrameRule(4))
    ((0, -1), (0, 0), (1, 4))
    """
    if not 0 <= num_reference <= num_latent:
        raise ValueError(f"{num_reference} reference frames do not fit {num_latent} latent frames")
    video = latent_to_video_frame_ranges(num_latent - num_reference, rule)
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
    """``[frame]`` float32: how many video frames each latent frame produced (a causal 4× VAE: 1, 4, 4, …).

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
    "FrameRule",
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

"""Latent-frame ↔ video-frame mapping of Wan's causal 3-D VAE.

Wan's VAE compresses time by 4 with a causal first frame: latent frame 0 decodes to video
frame 0 alone, and latent frame k ≥ 1 decodes to video frames 4k−3 … 4k. A video of
``4n + 1`` frames therefore has ``n + 1`` latent frames.

>>> latent_frame_of_video_frame(0), latent_frame_of_video_frame(4), latent_frame_of_video_frame(5)
(0, 1, 2)
>>> list(video_frames_of_latent(2))
[5, 6, 7, 8]
"""

from __future__ import annotations

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


__all__ = [
    "WAN_TEMPORAL_FACTOR",
    "latent_frame_of_video_frame",
    "latent_to_video_frame_ranges",
    "latent_to_video_frame_ranges_after_references",
    "num_latent_frames",
    "video_frames_of_latent",
]

"""Figures of one word's map for notebooks: the map as a heatmap, and the map over frames of the video.

What ``capture.word_maps().plot(...)`` and ``.overlay(...)`` draw
(:class:`~attention_visual.capture.word_maps.CapturedMaps` hands its arrays and metadata here). The
figures are ``matplotlib.figure.Figure`` objects (no pyplot state); :class:`InlineFigure` adds the PNG
that Jupyter shows inline, and ``fig.savefig(path)`` writes them. The latent→video frame mapping is
read from the map's metadata through :mod:`attention_visual.storage.schema.frames`, which checks it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from attention_visual.errors import NotFoundError, RenderError
from attention_visual.storage.schema.frames import frame_average, video_frame_index
from attention_visual.storage.schema.metadata import MapMetadata


class InlineFigure(Figure):
    """A matplotlib ``Figure`` that Jupyter shows inline even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _when(metadata: MapMetadata, step: int | None) -> str:
    """The title's step: ``step 3 / 50`` (``step`` is 0-based, the title 1-based) or the step average."""
    return "mean of the captured steps" if step is None else f"step {step + 1} / {metadata.num_steps}"


def map_figure(
    grid: np.ndarray,
    metadata: MapMetadata,
    word: str,
    step: int | None = None,
    frame: int | None = None,
    colormap: str = "hot",
) -> InlineFigure:
    """One word's map ``grid`` ``[frame, y, x]`` as a heatmap figure.

    Args:
        grid: The map at one step, or the step average.
        metadata: A map's metadata of the word (its latent→video frame mapping and step count).
        word: The marked word, for the title.
        step: The 0-based denoising step ``grid`` is from; None: the step average.
        frame: A latent frame index (negative counts from the end); None: the mean over the *video's*
            frames (latent frames weighted by the video frames each produced).
        colormap: Any matplotlib colormap name.

    Raises:
        NotFoundError: No latent frame ``frame``.
        AttentionDataError: The metadata's frame mapping does not fit ``grid``.
    """
    frames = grid.shape[0]
    if frame is None:
        image = frame_average(grid, metadata)  # [y, x]
        where = "mean over the video's frames"
    else:
        if not -frames <= frame < frames:
            raise NotFoundError(f"no latent frame {frame}; the map has frames 0..{frames - 1}")
        image = grid[frame]  # [y, x]
        where = f"latent frame {frame % frames}"
    fig = InlineFigure(figsize=(5.0, 5.0 * image.shape[0] / image.shape[1] + 0.8), layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(image, cmap=colormap, interpolation="nearest")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="attention probability")
    ax.set_title(f"“{word}” — {_when(metadata, step)}, {where}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def overlay_figure(
    video: np.ndarray,
    grid: np.ndarray,
    metadata: MapMetadata,
    word: str,
    step: int | None = None,
    show: Sequence[int] | int = 4,
    alpha: float = 0.6,
    colormap: str = "hot",
) -> InlineFigure:
    """The map ``grid`` ``[frame, y, x]`` over frames of ``video`` ``[frame, H, W, 3]``, one panel per shown frame.

    Each video frame ``n`` is overlaid with the map of the latent frame that produced it (Wan: latent
    ``(n + 3) // 4``), stretched bilinearly over the frame; values are scaled to the map's own range.

    Args:
        video: The generated video (uint8, or float in ``[0, 1]``), as many frames as the metadata's video.
        grid: The map at one step, or the step average.
        metadata: A map's metadata of the word.
        word: The marked word, for the title.
        step: The 0-based denoising step ``grid`` is from; None: the step average.
        show: How many evenly spaced frames to show, or the video frame indices to show.
        alpha: Opacity of the heatmap, in ``[0, 1]``.
        colormap: Any matplotlib colormap name.

    Raises:
        RenderError: ``video`` is not ``[frame, H, W, 3]`` of the video's length, bad ``show`` or ``alpha``.
        AttentionDataError: The metadata's frame mapping does not fit ``grid``.
    """
    latent_of = video_frame_index(metadata, grid.shape[0])  # [video_frame] -> latent frame
    expected = latent_of.shape[0]
    if video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] != expected:
        raise RenderError(f"frames must be [frame, H, W, 3] with {expected} frames, got shape {video.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise RenderError(f"alpha must be in [0, 1], got {alpha}")
    picks = (
        [int(i) for i in np.linspace(0, expected - 1, min(show, expected)).round()]
        if isinstance(show, int)
        else [int(i) for i in show]
    )
    if not picks or any(not 0 <= i < expected for i in picks):
        raise RenderError(f"show must name video frames in 0..{expected - 1}, got {show}")
    height, width = video.shape[1:3]
    low, high = float(grid.min()), float(grid.max())
    fig = InlineFigure(figsize=(3.0 * len(picks), 3.0 * height / width + 0.6), layout="constrained")
    axes = fig.subplots(1, len(picks), squeeze=False)[0]
    for ax, n in zip(axes, picks, strict=True):
        k = int(latent_of[n])
        ax.imshow(video[n])
        ax.imshow(grid[k], cmap=colormap, alpha=alpha, vmin=low, vmax=high,
                  extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="bilinear")  # fmt: skip
        ax.set_title(f"frame {n} (latent {k})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"“{word}” — {_when(metadata, step)}", fontsize=9)
    return fig


__all__ = ["InlineFigure", "map_figure", "overlay_figure"]

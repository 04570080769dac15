"""Temporal comparison of several words of one video: how their attention evolves.

For each word, three measures of its map (:mod:`attention_visual.measures`, the definitions ``stats``
and the report use too) are followed across the denoising steps (each step's map averaged over the
video's frames) and across the video's latent frames (the step-averaged map):

* **mass**: the sum of the map (the attention the word receives, summed over the grid cells);
* **peak**: the map's largest cell;
* **entropy**: spatial entropy of the map as a distribution, divided by its maximum ``log(y·x)``:
  0 = all attention on one cell, 1 = spread evenly (an all-zero map: 1, the limit of a constant map).

The figure has these six line plots (2 rows × 3 columns, one line per word) above a grid of
small multiples: one row per word, its frame-averaged map at a few steps, on one shared
colour scale per word.

Example:
    >>> stack = np.zeros((4, 3, 2, 5), np.float32)  # [step, frame, y, x]
    >>> stack[:, :, 0, 0] = 1.0                      # all attention on one cell
    >>> metrics = temporal_metrics(stack, np.array([1.0, 4.0, 4.0]), steps=[0, 1, 2, 3])  # weights: Wan's 1, 4, 4
    >>> float(metrics.by_step["entropy"][0]), float(metrics.by_step["mass"][0])
    (0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from attention_visual.errors import AttentionDataError, RenderError
from attention_visual.measures import LABELS, measures
from attention_visual.render.fonts import check_text, font_families

#: The measures the comparison follows (defined in :mod:`attention_visual.measures`).
METRICS = ("mass", "peak", "entropy")


@dataclass(frozen=True)
class TemporalMetrics:
    """Measures of one word's maps. Arrays are ``[step]`` or ``[frame]`` float64."""

    steps: np.ndarray  # [step] int: the 0-based denoising step indices
    by_step: dict[str, np.ndarray]  # metric -> [step]
    by_frame: dict[str, np.ndarray]  # metric -> [frame]


def temporal_metrics(stack: np.ndarray, frame_weights: np.ndarray, steps: Sequence[int]) -> TemporalMetrics:
    """Statistics of ``stack`` ``[step, frame, y, x]`` across steps and across frames.

    Args:
        stack: one word's maps in step order.
        frame_weights: ``[frame]`` video frames per latent frame (Wan: 1, 4, 4, ...).
        steps: the 0-based denoising step index of each map.

    Raises:
        AttentionDataError: ``frame_weights`` does not have one weight per latent frame.
    """
    weights = np.asarray(frame_weights, dtype=np.float64)  # [frame]
    if weights.shape != (stack.shape[1],):
        raise AttentionDataError(f"{weights.shape[0]} frame weights for a stack of {stack.shape[1]} latent frames")
    per_step = np.tensordot(stack, weights / weights.sum(), axes=([1], [0]))  # [step, y, x]
    per_frame = stack.mean(axis=0)  # [frame, y, x]
    return TemporalMetrics(np.asarray(steps), measures(per_step, names=METRICS), measures(per_frame, names=METRICS))


def comparison_figure(
    words: Sequence[str],
    metrics: Sequence[TemporalMetrics],
    snapshots: Sequence[np.ndarray],
    snapshot_steps: Sequence[Sequence[int]],
    colormap: str = "hot",
    title: str = "",
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Figure:
    """Draw the comparison: 2×3 metric plots and a words × steps grid of small multiples.

    Args:
        words: the words compared.
        metrics: one :class:`TemporalMetrics` per word.
        snapshots: one ``[snapshot, y, x]`` array per word (frame-averaged maps).
        snapshot_steps: per word, the 0-based denoising step index of each snapshot (titles show it 1-based).
        colormap: matplotlib colormap of the snapshots.
        title: figure title.
        figsize: inches; default grows with the number of words.
        dpi: resolution.

    Returns:
        The figure (not attached to pyplot; save it with ``fig.savefig``).
    """
    if not words or len(words) != len(metrics) or len(words) != len(snapshots):
        raise RenderError("comparison needs one metrics entry and one snapshot set per word")
    for word in words:
        check_text(word)
    with matplotlib.rc_context({"font.family": list(font_families())}):  # words in any script, legend included
        n_words, n_cols = len(words), max(len(s) for s in snapshot_steps)
        figsize = figsize or (max(12.0, 2.2 * n_cols + 1.5), 7.0 + 1.9 * n_words)
        fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        outer = fig.add_gridspec(2, 1, height_ratios=[2.0 * 2.4, n_words * 1.9])
        top = outer[0].subgridspec(2, 3)
        colours = matplotlib.colormaps["tab10"]
        axis_labels = (("by_step", "denoising step (1 = the first)"), ("by_frame", "latent frame (0 = the first)"))
        for row, (axis_name, xlabel) in enumerate(axis_labels):
            for col, metric in enumerate(METRICS):
                ax = fig.add_subplot(top[row, col])
                for i, (word, m) in enumerate(zip(words, metrics, strict=True)):
                    values = getattr(m, axis_name)[metric]
                    x = m.steps + 1 if axis_name == "by_step" else np.arange(values.shape[0])
                    ax.plot(x, values, marker="o", markersize=3, color=colours(i % 10), label=word)
                ax.set_title(f"{LABELS[metric]} across {'steps' if row == 0 else 'frames'}", fontsize=9)
                ax.set_xlabel(xlabel, fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
                if row == 0 and col == 0:
                    ax.legend(fontsize=8)
        grid = outer[1].subgridspec(n_words, n_cols)
        for i, (word, snaps, steps) in enumerate(zip(words, snapshots, snapshot_steps, strict=True)):
            vmax = float(snaps.max()) if snaps.size and snaps.max() > snaps.min() else float(snaps.min()) + 1e-12
            vmin = float(snaps.min()) if snaps.size else 0.0
            image = None
            row_axes = []
            for j, step in enumerate(steps):
                ax = fig.add_subplot(grid[i, j])
                image = ax.imshow(snaps[j], cmap=colormap, vmin=vmin, vmax=vmax, interpolation="bilinear")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"“{word}” · step {step + 1}", fontsize=8)
                row_axes.append(ax)
            if image is not None:
                bar = fig.colorbar(image, ax=row_axes, shrink=0.9, pad=0.01)
                bar.ax.tick_params(labelsize=7)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig


def snapshot_positions(n_steps: int, count: int = 4) -> list[int]:
    """Indices of up to ``count`` evenly spaced steps among ``n_steps`` (first and last included)."""
    if n_steps <= count:
        return list(range(n_steps))
    return sorted({round(i * (n_steps - 1) / (count - 1)) for i in range(count)})


__all__ = [
    "METRICS",
    "TemporalMetrics",
    "comparison_figure",
    "snapshot_positions",
    "temporal_metrics",
]

"""The seed grid, drawn: one tile per seed of a word, then the seeds' mean and standard deviation.

The tiles come in as ``[row, seed, y, x]`` maps (a row per stored step, then the step average; each
tile one map of the word's video for one seed, see :mod:`attention_visual.analysis.seed_grid`).
:func:`seed_panels` adds the two summary columns and scales everything to [0, 1] for the colormap:

    seed 42    seed 43    ...    mean of 3    std · max 0.0123

The ``mean`` tile is the mean of *all* the seed tiles and the ``std`` tile their population standard
deviation (ddof 0), cell by cell, even when only the first ``shown`` seeds get a tile of their own.
Seed and mean tiles share one colour range (``normalization``); the std tile has its own, from 0 to
its maximum. The report's seed grid sprite (:mod:`attention_visual.report.batch_images`) and the
seed grid video (:func:`seed_grid_video`, ``attention-visual seeds``) are both made from these panels.

Example:
    >>> tiles = np.zeros((2, 3, 2, 5), np.float32); tiles[:, :, 0, 0] = 1.0   # [row, seed, y, x]
    >>> panels = seed_panels(tiles, "global")
    >>> panels.panels.shape, panels.std_max                                # 3 seeds, mean, std
    ((2, 5, 2, 5), 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from attention_visual.render.canvas import ColorbarSpec
from attention_visual.render.colormap import packed_lut
from attention_visual.render.normalize import NormalizationInfo, normalize_maps
from attention_visual.render.options import RenderOptions
from attention_visual.render.sources import StepVideo
from attention_visual.render.step_grid import figure_canvas


@dataclass(frozen=True)
class SeedPanels:
    """The seed grid scaled for the colormap.

    Attributes:
        panels: ``[row, shown + 2, y, x]`` float32 in [0, 1]: the shown seeds' tiles, the mean, the std.
        norm: The seed and mean tiles' colour range (the std tile's is ``0 .. std_max``).
        std_max: The largest standard deviation of any cell.
    """

    panels: np.ndarray
    norm: NormalizationInfo
    std_max: float


def normalize_std(std: np.ndarray, mode: str) -> np.ndarray:
    """The std tiles ``[row, 1, y, x]`` scaled to [0, 1] on their own (all zero, e.g. identical seeds: zeros)."""
    if not np.any(std > 0):
        return np.zeros_like(std, dtype=np.float32)  # no spread: the bottom of the colormap, no warning
    normed, _ = normalize_maps(std, mode)
    return normed


def seed_panels(tiles: np.ndarray, normalization: str, shown: int | slice | None = None) -> SeedPanels:
    """The panels of the seed grid of ``tiles`` ``[row, seed, y, x]``: the ``shown`` seeds (all), mean, std.

    ``shown``: the first ``shown`` seeds, or those of a slice (a page of them).

    Raises:
        RenderError: An unknown ``normalization``.
    """
    picked = slice(0, shown) if isinstance(shown, int) else shown if shown is not None else slice(None)
    mean = tiles.mean(axis=1, keepdims=True)  # [row, 1, y, x]
    std = tiles.std(axis=1, keepdims=True)  # [row, 1, y, x], ddof 0
    normed, norm = normalize_maps(np.concatenate([tiles[:, picked], mean], axis=1), normalization)
    panels = np.concatenate([normed, normalize_std(std, normalization)], axis=1)  # [row, shown + 2, y, x]
    return SeedPanels(panels, norm, float(std.max()) if std.size else 0.0)


def seed_grid_video(
    panels: SeedPanels, labels: Sequence[str], titles: Sequence[str], panel_aspect: float, options: RenderOptions
) -> StepVideo:
    """The lazy seed grid video: one frame per row of ``panels`` (blended frames between); encode with ``write_video``.

    Args:
        panels: The seed grid (:func:`seed_panels`).
        labels: One caption per panel (``seed 42 · r 0.91``, ..., ``mean of 3``, ``std · max 0.012``).
        titles: One title per row.
        panel_aspect: Width / height of a panel (the generated video's).
        options: Colormap, colorbar, frame size, fps and blended frames.
    """
    norm = panels.norm
    colorbar = ColorbarSpec(options.colormap, norm.vmin, norm.vmax, norm.label) if options.include_colorbar else None
    canvas = figure_canvas(
        options.figsize,
        options.dpi,
        panel_aspect=panel_aspect,
        n_panels=panels.panels.shape[1],
        panel_labels=list(labels),
        colorbar=colorbar,
    )
    return StepVideo(
        canvas,
        panels.panels,
        list(titles),
        packed_lut(options.colormap),
        options.fps,
        options.interpolation_steps,
        options.dpi,
    )


__all__ = ["SeedPanels", "normalize_std", "seed_grid_video", "seed_panels"]

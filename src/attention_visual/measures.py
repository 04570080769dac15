"""The measures of an attention map: one definition each, used by every plot, the report and ``stats``.

A map ``m`` is ``[..., y, x]``: the non-negative attention of the grid cells of one latent frame (or an
average of them) on one word. With ``n = y·x`` cells, mass ``M = Σ m`` and weights ``p = m / M``
(docs/analysis.md gives the same formulas):

* ``mass`` = ``M``: the sum of the map, **not** its mean;
* ``peak`` = ``max m``;
* ``entropy`` = ``−Σ p log p / log n`` (``0 · log 0 = 0``): 0 when one cell holds everything, 1 uniform;
* ``centroid_y``, ``centroid_x`` = ``Σ p · (cell centre in video pixels)`` (:class:`PixelGeometry`);
* ``spread`` = ``sqrt(Σ p · |cell centre − centroid|²)`` in video pixels;
* ``mask_area`` = the fraction of cells strictly above the map's mean (ConceptAttention's threshold).

**An empty map** (all zero, ``M = 0``) is the limit of a constant map: mass and peak 0, uniform weights,
so entropy 1, the centroid at the grid's centre and the spread of a uniform map; its mask is empty
(mask_area 0). Every measure of every map is therefore a finite number. A grid of one cell has entropy 0.

The functions here are the definitions written plainly, in float64, for any number of maps. The per-video
comparison plot uses them as they are; ``stats`` computes the same numbers in blocks of maps, in float32,
with :func:`attention_visual.analysis.measures.map_measures` (tested equal to these). :data:`LABELS` is
what a plot calls each measure. This module needs numpy only and imports nothing of the project, so
every layer may use it (``pyproject.toml``'s import contract).

Example:
    >>> m = np.zeros((2, 5)); m[1, 4] = 0.25; m[0, 0] = 0.75       # [y, x]: two cells hold everything
    >>> float(mass(m)), float(peak(m)), round(float(entropy(m)), 4)
    (1.0, 0.75, 0.2442)
    >>> float(entropy(np.zeros((2, 5))))                            # empty: the limit of a constant map
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

#: Every measure, in the statistics table's column order.
MEASURES = ("mass", "peak", "entropy", "centroid_y", "centroid_x", "spread", "mask_area")

#: What plots, titles and axes call each measure.
LABELS = {
    "mass": "mass (sum of the map)",
    "peak": "peak (largest cell)",
    "entropy": "entropy (0 one cell, 1 uniform)",
    "centroid_y": "centroid y (px)",
    "centroid_x": "centroid x (px)",
    "spread": "spread (px)",
    "mask_area": "mask area (cells above the mean)",
}

#: The entropy of an empty (all-zero) map: the limit of a constant map.
EMPTY_ENTROPY = 1.0


@dataclass(frozen=True)
class PixelGeometry:
    """Where the cells of a ``[y, x]`` grid lie in the generated video, in pixels.

    Cell ``(i, j)`` of a ``ny × nx`` grid over a ``height × width`` video has its centre at
    ``((i + ½)·height/ny, (j + ½)·width/nx)``: the pixels-per-cell factor (16 for Wan, times the
    spatial downsampling) follows from the video size and the stored grid.
    """

    height: int
    width: int
    ny: int
    nx: int

    @property
    def y_px(self) -> np.ndarray:
        """``[y]`` float64: the cell centres' row positions in video pixels."""
        return (np.arange(self.ny, dtype=np.float64) + 0.5) * (self.height / self.ny)

    @property
    def x_px(self) -> np.ndarray:
        """``[x]`` float64: the cell centres' column positions in video pixels."""
        return (np.arange(self.nx, dtype=np.float64) + 0.5) * (self.width / self.nx)


def masks(maps: np.ndarray, mass: np.ndarray | None = None) -> np.ndarray:
    """``[..., y·x]`` bool: the cells strictly above their map's mean (ConceptAttention's rule).

    The comparison is made in the maps' own precision; ``mass`` (``[...]``, the maps' sums) saves a pass
    when the caller has it.
    """
    flat = maps.reshape(*maps.shape[:-2], maps.shape[-2] * maps.shape[-1])  # [..., cell]
    total = flat.sum(axis=-1, dtype=np.float64) if mass is None else mass
    mean = np.asarray(total / flat.shape[-1]).astype(flat.dtype)  # [...]
    return np.asarray(flat > mean[..., None])


def _cells(maps: np.ndarray) -> np.ndarray:
    """``[..., y·x]`` float64."""
    arr = np.asarray(maps, dtype=np.float64)  # [..., y, x]
    return arr.reshape(*arr.shape[:-2], arr.shape[-2] * arr.shape[-1])


def weights(maps: np.ndarray) -> np.ndarray:
    """``[..., y, x]`` float64: each map divided by its mass; an empty map's weights are uniform."""
    arr = np.asarray(maps, dtype=np.float64)  # [..., y, x]
    total = arr.sum(axis=(-2, -1), keepdims=True)  # [..., 1, 1]
    uniform = np.full_like(arr, 1.0 / (arr.shape[-2] * arr.shape[-1]))
    return np.asarray(np.divide(arr, total, out=uniform, where=total > 0))


def mass(maps: np.ndarray) -> np.ndarray:
    """``[...]`` float64: the sum of each map ``[..., y, x]``."""
    return np.asarray(_cells(maps).sum(axis=-1))


def peak(maps: np.ndarray) -> np.ndarray:
    """``[...]`` float64: the largest cell of each map ``[..., y, x]``."""
    return np.asarray(_cells(maps).max(axis=-1))


def entropy(maps: np.ndarray) -> np.ndarray:
    """``[...]`` float64: ``−Σ p log p / log n`` of each map ``[..., y, x]`` (empty map: 1; one cell: 0)."""
    p = _cells(weights(maps))  # [..., cell]
    n = p.shape[-1]
    if n == 1:
        return np.zeros(p.shape[:-1])
    terms = -p * np.log(np.where(p > 0, p, 1.0))  # 0 · log 0 = 0
    empty = ~np.any(_cells(maps) > 0, axis=-1)  # [...]
    return np.asarray(np.where(empty, EMPTY_ENTROPY, terms.sum(axis=-1) / np.log(n)))


def centroid(maps: np.ndarray, geometry: PixelGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(centroid_y, centroid_x)``, each ``[...]`` float64 in video pixels, of each map ``[..., y, x]``."""
    p = weights(maps)  # [..., y, x]
    return np.asarray(p.sum(axis=-1) @ geometry.y_px), np.asarray(p.sum(axis=-2) @ geometry.x_px)


def spread(maps: np.ndarray, geometry: PixelGeometry) -> np.ndarray:
    """``[...]`` float64: the attention-weighted RMS distance from the centroid, in video pixels."""
    p = weights(maps)  # [..., y, x]
    cy, cx = centroid(maps, geometry)  # [...]
    dy = geometry.y_px - cy[..., None]  # [..., y]
    dx = geometry.x_px - cx[..., None]  # [..., x]
    var = (p * dy[..., :, None] ** 2).sum(axis=(-2, -1)) + (p * dx[..., None, :] ** 2).sum(axis=(-2, -1))
    return np.asarray(np.sqrt(var))


def mask_area(maps: np.ndarray) -> np.ndarray:
    """``[...]`` float64: the fraction of each map's cells strictly above its mean (:func:`masks`).

    Compared in float32, as ``stats`` does (exact for the stored float16 and float32 maps).
    """
    return np.asarray(masks(np.asarray(maps, dtype=np.float32)).mean(axis=-1, dtype=np.float64))


def measures(
    maps: np.ndarray, geometry: PixelGeometry | None = None, names: Sequence[str] = MEASURES
) -> dict[str, np.ndarray]:
    """``{name: [...] float64}`` for each measure of ``names`` (default all) of the maps ``[..., y, x]``.

    Raises:
        ValueError: An unknown name, or a centroid or spread asked for without ``geometry``.
    """
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; the measures are {', '.join(MEASURES)}")
    placed = {"centroid_y", "centroid_x", "spread"}.intersection(names)
    if placed and geometry is None:
        raise ValueError(f"{', '.join(sorted(placed))} need the grid's PixelGeometry")
    g = cast(PixelGeometry, geometry)  # only used by the measures that need it (checked above)
    definitions: dict[str, Callable[[], np.ndarray]] = {
        "mass": lambda: mass(maps),
        "peak": lambda: peak(maps),
        "entropy": lambda: entropy(maps),
        "centroid_y": lambda: centroid(maps, g)[0],
        "centroid_x": lambda: centroid(maps, g)[1],
        "spread": lambda: spread(maps, g),
        "mask_area": lambda: mask_area(maps),
    }
    return {name: definitions[name]() for name in names}


__all__ = [
    "EMPTY_ENTROPY",
    "LABELS",
    "MEASURES",
    "PixelGeometry",
    "centroid",
    "entropy",
    "mask_area",
    "masks",
    "mass",
    "measures",
    "peak",
    "spread",
    "weights",
]

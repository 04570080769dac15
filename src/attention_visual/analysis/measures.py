"""Per-map statistics, vectorised over any number of maps: ``[..., y, x]`` in, ``[...]`` out.

Definitions (docs/analysis.md gives them with formulas). For a map ``m`` of ``n = y·x`` cells with
mass ``M = Σ m`` and ``p = m / M``:

* ``mass`` = ``M``; ``peak`` = ``max m``;
* ``entropy`` = ``−Σ p log p / log n`` (0: one cell holds everything, 1: uniform);
* ``centroid_y``, ``centroid_x`` = ``Σ p · (cell centre in video pixels)``;
* ``spread`` = ``sqrt(Σ p · |cell centre − centroid|²)`` in video pixels;
* ``mask_area`` = fraction of cells strictly above the map's mean (ConceptAttention's threshold).

An all-zero map (``M = 0``) is treated as the limit of a constant map: uniform weights, so entropy 1,
the centroid at the grid's centre and the spread of a uniform map; its mask is empty.
Maps are attention probabilities, so never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Column names of :func:`map_measures`' output, in table order.
MEASURES = ("mass", "peak", "entropy", "centroid_y", "centroid_x", "spread", "mask_area")

_TINY = np.finfo(np.float32).tiny


@dataclass(frozen=True)
class PixelGeometry:
    """Where the cells of a ``[y, x]`` grid lie in the generated video, in pixels.

    Cell ``(i, j)`` of a ``ny × nx`` grid over a ``height × width`` video has its centre at
    ``((i + ½)·height/ny, (j + ½)·width/nx)``: the pixels-per-token factor (16 for Wan, times the
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

    ``mass`` (``[...]``, the maps' sums) saves a pass when the caller has it.
    """
    flat = maps.reshape(*maps.shape[:-2], -1)  # [..., cell]
    total = flat.sum(axis=-1, dtype=np.float64) if mass is None else mass
    mean = (total / flat.shape[-1]).astype(flat.dtype)  # [...]: compared in the maps' own precision
    return np.asarray(flat > mean[..., None])


def map_measures(maps: np.ndarray, geometry: PixelGeometry) -> dict[str, np.ndarray]:
    """Every measure of :data:`MEASURES` for each ``[y, x]`` map of ``maps`` (``[..., y, x]``).

    Returns a dict of float64 arrays of shape ``maps.shape[:-2]``.

    >>> g = PixelGeometry(height=32, width=80, ny=2, nx=5)
    >>> one = np.zeros((2, 5), np.float32); one[1, 4] = 1.0
    >>> {k: float(v) for k, v in map_measures(one, g).items() if k != "mask_area"}
    {'mass': 1.0, 'peak': 1.0, 'entropy': 0.0, 'centroid_y': 24.0, 'centroid_x': 72.0, 'spread': 0.0}
    """
    m = np.asarray(maps, dtype=np.float32)  # [..., y, x]
    ny, nx = m.shape[-2:]
    n = ny * nx
    rows = m.sum(axis=-1).astype(np.float64)  # [..., y]  (float32 pairwise sums of ≤ a few hundred cells)
    cols = m.sum(axis=-2).astype(np.float64)  # [..., x]
    mass = rows.sum(axis=-1)  # [...]
    empty = mass <= 0
    safe_mass = np.where(empty, 1.0, mass)
    flat = m.reshape(*m.shape[:-2], n)  # [..., cell]

    # H = log M − (1/M) Σ m log m   (0 · log 0 = 0 through the clamp)
    log_m = np.maximum(flat, _TINY)  # [..., cell]: one temporary, logged in place
    np.log(log_m, out=log_m)
    m_log_m = np.einsum("...i,...i->...", flat, log_m, dtype=np.float64)
    del log_m
    if n > 1:
        log_mass = np.log(safe_mass.astype(np.float32)).astype(np.float64)  # the cells' log precision: one-hot → 0
        entropy = (log_mass - m_log_m / safe_mass) / np.log(n)
        entropy = np.where(empty, 1.0, np.clip(entropy, 0.0, 1.0))
    else:
        entropy = np.zeros_like(mass)

    py = np.where(empty[..., None], 1.0 / ny, rows / safe_mass[..., None])  # [..., y] weights of rows
    px = np.where(empty[..., None], 1.0 / nx, cols / safe_mass[..., None])  # [..., x]
    y_px, x_px = geometry.y_px, geometry.x_px
    cy = py @ y_px
    cx = px @ x_px
    var = (py @ (y_px * y_px) - cy * cy) + (px @ (x_px * x_px) - cx * cx)
    spread = np.sqrt(np.maximum(var, 0.0))

    mask_area = np.count_nonzero(masks(m, mass), axis=-1) / n
    return {
        "mass": mass,
        "peak": m.max(axis=(-2, -1)).astype(np.float64),
        "entropy": entropy,
        "centroid_y": cy,
        "centroid_x": cx,
        "spread": spread,
        "mask_area": mask_area.astype(np.float64),
    }


def pair_measures(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """IoU of the two maps' masks and Pearson correlation of the maps, for ``[..., y, x]`` pairs.

    ``iou`` = ``|A ∩ B| / |A ∪ B|`` of the :func:`masks` (NaN when both masks are empty);
    ``pearson`` = ``Σ (a − ā)(b − b̄) / sqrt(Σ (a − ā)² · Σ (b − b̄)²)`` over the cells (NaN when a map is
    constant). Returns float64 arrays of shape ``a.shape[:-2]``.
    """
    ma, mb = masks(a), masks(b)  # [..., cell]
    inter = np.count_nonzero(ma & mb, axis=-1)
    union = np.count_nonzero(ma | mb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        fa = a.reshape(*a.shape[:-2], -1).astype(np.float64)  # [..., cell]
        fb = b.reshape(*b.shape[:-2], -1).astype(np.float64)
        fa = fa - fa.mean(axis=-1, keepdims=True)
        fb = fb - fb.mean(axis=-1, keepdims=True)
        denom = np.sqrt(np.einsum("...i,...i->...", fa, fa) * np.einsum("...i,...i->...", fb, fb))
        pearson = np.where(denom > 0, np.einsum("...i,...i->...", fa, fb) / np.where(denom > 0, denom, 1.0), np.nan)
    return {"iou": iou.astype(np.float64), "pearson": pearson}


__all__ = ["MEASURES", "PixelGeometry", "map_measures", "masks", "pair_measures"]

"""The measures of :mod:`attention_visual.measures`, fast: vectorised over any number of maps for ``stats``.

``[..., y, x]`` in, ``[...]`` out. The definitions, the labels and the rule for an empty (all-zero) map
are those of :mod:`attention_visual.measures` (docs/analysis.md gives the formulas);
:func:`map_measures` computes the same numbers in blocks of maps, in float32, a few times faster than
the plain definitions, and ``tests/analysis/test_measures.py`` checks that the two agree.
Maps are attention probabilities, so never negative.
"""

from __future__ import annotations

import functools

import numpy as np

from attention_visual.measures import EMPTY_ENTROPY, MEASURES, PixelGeometry, masks

_TINY = np.finfo(np.float32).tiny


@functools.cache
def _float16_m_log_m() -> np.ndarray:
    """``[65536]`` float32: ``m · log max(m, tiny)`` of every float16 bit pattern (a read-only constant).

    Looking float16 maps up in it is about three times as fast as ``np.log`` on float32 values with
    this project's x86-64 numpy (no SIMD float32 log below AVX-512).
    """
    values = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float64)
    with np.errstate(all="ignore"):  # NaN and ±inf patterns give what the float32 path gives
        table = (values * np.log(np.maximum(values, float(_TINY)))).astype(np.float32)
    table.flags.writeable = False
    return table


_HALF_TO_SINGLE = np.float32(2.0**112)  # 2^(127 − 15): from float16's exponent bias to float32's
_HALF_INF = 0x7C00  # the float16 bit patterns from here up are inf, NaN or negative


def as_float32(maps: np.ndarray) -> np.ndarray:
    """``maps`` as float32 (``[...]`` kept; float32 input is returned as is), exactly; float16 five times faster.

    Non-negative finite float16 values (attention maps) are converted by moving their bits into a
    float32 and scaling by 2^112, which is exact for normal and subnormal values alike; anything else
    (negative, inf, NaN) goes through ``astype``.
    """
    arr = np.asarray(maps)
    if arr.dtype != np.float16 or arr.size == 0:
        return np.asarray(arr, dtype=np.float32)
    codes = arr.view(np.uint16)  # [...]
    if int(codes.max()) >= _HALF_INF:
        return arr.astype(np.float32)
    bits = np.empty(codes.shape, dtype=np.uint32)  # [...]
    np.copyto(bits, codes)  # (faster here than astype)
    bits <<= 13  # float16 exponent and mantissa into float32's fields
    single = bits.view(np.float32)
    single *= _HALF_TO_SINGLE
    return single


_BLOCK = 128
"""Maps per block of :func:`map_measures`: the float32 temporaries of a block stay in the CPU cache."""


def _cell_sums(block: np.ndarray, ny: int, nx: int) -> tuple[np.ndarray, ...]:
    """Per map of ``block`` (``[map, cell]``, float16 or float32): the sums over its cells.

    Returns ``(rows [map, y], cols [map, x], Σ m log max(m, tiny) [map], peak [map], cells above the
    mean [map])``, float64 but the count. Float32 throughout (pairwise sums); float16 maps are converted
    exactly (:func:`as_float32`) and their ``m log m`` looked up in :func:`_float16_m_log_m`.
    """
    flat = as_float32(block)  # [map, cell]
    grid = flat.reshape(-1, ny, nx)  # [map, y, x]
    rows = np.matmul(grid, np.ones(nx, np.float32)).astype(np.float64)  # [map, y]
    cols = np.matmul(np.ones(ny, np.float32), grid).astype(np.float64)  # [map, x]
    if block.dtype == np.float16:
        cells = np.take(_float16_m_log_m(), block.view(np.uint16), mode="clip")  # [map, cell]
    else:
        cells = np.maximum(flat, _TINY)  # [map, cell]: one temporary, logged in place
        np.log(cells, out=cells)
        cells *= flat
    m_log_m = cells.sum(axis=-1).astype(np.float64)
    peak = flat.max(axis=-1).astype(np.float64)
    above = masks(grid, rows.sum(axis=-1)).view(np.uint8).sum(axis=-1, dtype=np.int32)
    return rows, cols, m_log_m, peak, above


def map_measures(maps: np.ndarray, geometry: PixelGeometry) -> dict[str, np.ndarray]:
    """Every measure of :data:`MEASURES` for each ``[y, x]`` map of ``maps`` (``[..., y, x]``).

    ``maps`` is float32, or float16 (read exactly, a little faster); anything else is converted to
    float32. Returns a dict of float64 arrays of shape ``maps.shape[:-2]``.

    One pass per quantity over the cells, in float32, :data:`_BLOCK` maps at a time: the row and column
    marginals (two matrix-vector products) give the mass, the centroid and the spread
    (``E[y²] − cy² + E[x²] − cx²``, O(y + x) per map); ``Σ m log m`` (pairwise float32 sums) gives the
    entropy as ``log M − Σ m log m / M``; one comparison gives the mask.
    ``tests/analysis/test_measures.py`` checks it against the plain definitions in float64.

    >>> g = PixelGeometry(height=32, width=80, ny=2, nx=5)
    >>> one = np.zeros((2, 5), np.float32); one[1, 4] = 1.0
    >>> {k: float(v) for k, v in map_measures(one, g).items() if k != "mask_area"}
    {'mass': 1.0, 'peak': 1.0, 'entropy': 0.0, 'centroid_y': 24.0, 'centroid_x': 72.0, 'spread': 0.0}
    """
    src = np.asarray(maps)
    if src.dtype not in (np.float16, np.float32):
        src = src.astype(np.float32)
    lead, (ny, nx) = src.shape[:-2], src.shape[-2:]
    n = ny * nx
    flat = src.reshape(-1, n)  # [map, cell]
    blocks = [_cell_sums(flat[i : i + _BLOCK], ny, nx) for i in range(0, flat.shape[0], _BLOCK)]
    if not blocks:
        blocks = [_cell_sums(flat, ny, nx)]  # no maps: empty results of the right shapes
    rows, cols, m_log_m, peak, above = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
    mass = rows.sum(axis=-1)  # [map]
    empty = mass <= 0
    safe_mass = np.where(empty, 1.0, mass)

    # H = log M − (1/M) Σ m log m   (0 · log 0 = 0 through the clamp)
    if n > 1:
        log_mass = np.log(safe_mass.astype(np.float32)).astype(np.float64)  # the cells' log precision
        entropy = (log_mass - m_log_m / safe_mass) / np.log(n)
        entropy = np.where(empty, EMPTY_ENTROPY, np.where(peak >= mass, 0.0, np.clip(entropy, 0.0, 1.0)))  # one cell: 0
    else:
        entropy = np.zeros_like(mass)

    py = np.where(empty[..., None], 1.0 / ny, rows / safe_mass[..., None])  # [map, y] weights of rows
    px = np.where(empty[..., None], 1.0 / nx, cols / safe_mass[..., None])  # [map, x]
    y_px, x_px = geometry.y_px, geometry.x_px
    cy = py @ y_px
    cx = px @ x_px
    var = (py @ (y_px * y_px) - cy * cy) + (px @ (x_px * x_px) - cx * cx)
    spread = np.sqrt(np.maximum(var, 0.0))
    values = {
        "mass": mass,
        "peak": peak,
        "entropy": entropy,
        "centroid_y": cy,
        "centroid_x": cx,
        "spread": spread,
        "mask_area": above / n,
    }
    return {k: v.reshape(lead) for k, v in values.items()}


def pair_measures(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """IoU of the two maps' masks and Pearson correlation of the maps, for ``[..., y, x]`` pairs.

    ``iou`` = ``|A ∩ B| / |A ∪ B|`` of the :func:`masks` (NaN when both masks are empty);
    ``pearson`` = ``Σ (a − ā)(b − b̄) / sqrt(Σ (a − ā)² · Σ (b − b̄)²)`` over the cells (NaN when a map is
    constant). Returns float64 arrays of shape ``a.shape[:-2]``.
    """
    a, b = as_float32(a), as_float32(b)  # [..., y, x]
    ma, mb = masks(a), masks(b)  # [..., cell]
    both = np.logical_and(ma, mb)  # [..., cell]
    inter = both.view(np.uint8).sum(axis=-1, dtype=np.int64)  # (counts as uint8 sums: faster than count_nonzero)
    np.logical_or(ma, mb, out=both)
    union = both.view(np.uint8).sum(axis=-1, dtype=np.int64)
    del both, ma, mb
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        fa = a.reshape(*a.shape[:-2], -1).astype(np.float64)  # [..., cell]: centred in place
        fb = b.reshape(*b.shape[:-2], -1).astype(np.float64)
        fa -= fa.mean(axis=-1, keepdims=True)
        fb -= fb.mean(axis=-1, keepdims=True)
        denom = np.sqrt(np.einsum("...i,...i->...", fa, fa) * np.einsum("...i,...i->...", fb, fb))
        pearson = np.where(denom > 0, np.einsum("...i,...i->...", fa, fb) / np.where(denom > 0, denom, 1.0), np.nan)
    return {"iou": iou.astype(np.float64), "pearson": pearson}


__all__ = ["MEASURES", "PixelGeometry", "as_float32", "map_measures", "masks", "pair_measures"]

"""Vectorised bilinear resizing of maps on the token grid to video resolution.

Each axis is resized with a small interpolation matrix, so a stack of maps is one pair of
matrix products: ``out = Wy @ maps @ Wx.T``. Sample positions use half-pixel centres (as
``torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False)``), so each token
covers its own block of pixels and a hot token at the top-left stays at the top-left.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def interpolation_matrix(src: int, dst: int) -> np.ndarray:
    """``[dst, src]`` float32 weights of 1-D linear interpolation with half-pixel centres."""
    if src <= 0 or dst <= 0:
        raise ValueError(f"sizes must be positive, got src={src}, dst={dst}")
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    pos = np.clip(pos, 0.0, src - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    weights = np.zeros((dst, src), dtype=np.float64)
    rows = np.arange(dst)
    np.add.at(weights, (rows, lo), 1.0 - frac)
    np.add.at(weights, (rows, hi), frac)
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


def upsample_bilinear(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``maps`` ``[..., h, w]`` to ``[..., height, width]`` (float32), bilinear.

    Example:
        >>> upsample_bilinear(np.eye(2, dtype=np.float32), 4, 4).shape
        (4, 4)
    """
    maps = np.asarray(maps, dtype=np.float32)
    h, w = maps.shape[-2:]
    if (h, w) == (height, width):
        return maps.copy()
    wy = interpolation_matrix(h, height)  # [height, h]
    wx = interpolation_matrix(w, width)  # [width, w]
    out: np.ndarray = np.matmul(np.matmul(wy, maps), wx.T)
    return out


__all__ = ["interpolation_matrix", "upsample_bilinear"]

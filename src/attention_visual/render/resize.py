"""Vectorised bilinear resizing of maps on the latent grid to video resolution.

Sample positions use half-pixel centres (as ``torch.nn.functional.interpolate(...,
mode="bilinear", align_corners=False)``), so each grid cell covers its own block of pixels and a hot
cell at the top-left stays at the top-left. Each axis is a gather and a lerp, without BLAS: on
small machines BLAS's worker threads spin against the video encoder running beside the renderer,
while this single-threaded path costs a few milliseconds per map, predictably.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def interpolation_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, frac)``, each ``[dst]``: 1-D linear interpolation with half-pixel centres."""
    if src <= 0 or dst <= 0:
        raise ValueError(f"sizes must be positive, got src={src}, dst={dst}")
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    pos = np.clip(pos, 0.0, src - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, src - 1)
    frac = (pos - lo).astype(np.float32)
    for arr in (lo, hi, frac):
        arr.setflags(write=False)
    return lo, hi, frac


def upsample_bilinear(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``maps`` ``[..., h, w]`` to ``[..., height, width]`` (float32), bilinear.

    Example:
        >>> upsample_bilinear(np.eye(2, dtype=np.float32), 4, 4).shape
        (4, 4)
    """
    values = np.asarray(maps, dtype=np.float32)  # [..., h, w]
    ylo, yhi, fy = interpolation_taps(values.shape[-2], height)
    xlo, xhi, fx = interpolation_taps(values.shape[-1], width)
    left = values[..., xlo]  # [..., h, width]
    cols = values[..., xhi] - left
    cols *= fx
    cols += left  # [..., h, width]
    top = cols[..., ylo, :]  # [..., height, width]
    out: np.ndarray = cols[..., yhi, :]
    out -= top
    out *= fy[:, None]
    out += top
    return out


__all__ = ["interpolation_taps", "upsample_bilinear"]

"""Colormaps as lookup tables, so colouring a frame is one ``np.take`` instead of a matplotlib call.

Example:
    >>> values = np.array([[0.0, 1.0]], dtype=np.float32)   # [y, x]
    >>> apply_colormap(values, colormap_lut("hot")).shape   # [y, x, RGB]
    (1, 2, 3)
    >>> apply_colormap_rgbx(values, packed_lut("hot")).shape  # [y, x, RGBX]: the fast path
    (1, 2, 4)
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import matplotlib
import numpy as np

from attention_visual.errors import RenderError

LUT_SIZE = 256


def colormap_names() -> list[str]:
    """Every colormap name matplotlib knows (including ``_r`` reversed ones), sorted."""
    return sorted(matplotlib.colormaps)


def check_colormap(name: object) -> str:
    """Return ``name`` if matplotlib knows it, else raise :class:`RenderError` suggesting close names."""
    if not isinstance(name, str) or not name:
        raise RenderError(f"colormap must be a matplotlib colormap name, got {name!r}")
    if name in matplotlib.colormaps:
        return name
    names = colormap_names()
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=4, cutoff=0.6)
    suggestions = [lowered[c] for c in close]
    hint = f"did you mean {', '.join(suggestions)}?" if suggestions else "e.g. hot, viridis, magma, inferno, jet"
    raise RenderError(f"unknown colormap {name!r}; {hint} (any matplotlib colormap name works)")


@lru_cache(maxsize=32)
def colormap_lut(name: str, size: int = LUT_SIZE) -> np.ndarray:
    """``[size, 3]`` uint8 RGB table of colormap ``name`` sampled evenly over [0, 1] (read-only)."""
    cmap = matplotlib.colormaps[check_colormap(name)].resampled(size)
    rgba = cmap(np.linspace(0.0, 1.0, size))  # [size, 4] float64
    lut = np.round(np.asarray(rgba)[:, :3] * 255.0).astype(np.uint8)  # [size, 3]
    lut.setflags(write=False)
    return lut


@lru_cache(maxsize=32)
def packed_lut(name: str, size: int = LUT_SIZE) -> np.ndarray:
    """``[size]`` uint32 table: colour ``i`` of :func:`colormap_lut` as the 4 bytes R, G, B, 255."""
    rgbx = np.full((size, 4), 255, dtype=np.uint8)  # [size, 4]
    rgbx[:, :3] = colormap_lut(name, size)
    packed = rgbx.view(np.uint32).reshape(size)  # [size], native order: the bytes stay R, G, B, X
    packed.setflags(write=False)
    return packed


def apply_colormap(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Colour ``values`` ``[...]`` in [0, 1] (clipped) through ``lut`` ``[n, 3]``: ``[..., 3]`` uint8."""
    rgb: np.ndarray = np.take(lut, lut_index(values, lut.shape[0]), axis=0)  # [..., 3]
    return rgb


def apply_colormap_rgbx(values: np.ndarray, lut: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Colour ``values`` ``[h, w]`` through a :func:`packed_lut` ``[n]`` into RGBX ``[h, w, 4]`` uint8.

    About 3× faster than :func:`apply_colormap`, and ``out`` may be a view into a larger
    RGBX frame (``frame[rows, cols]``), so the colours land in place without a copy.
    """
    return lookup_rgbx(lut_index(values, lut.shape[0]), lut, out)


def lookup_rgbx(index: np.ndarray, lut: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Colours ``[h, w, 4]`` uint8 RGBX of table indices ``index`` ``[h, w]`` in a :func:`packed_lut`."""
    if out is None:
        out = np.empty((*index.shape, 4), dtype=np.uint8)
    packed = out.view(np.uint32)[..., 0]  # [h, w]: one uint32 per RGBX pixel, a view of out
    np.take(lut, index, out=packed, mode="clip")
    return out


def lut_scaled(values: np.ndarray, size: int) -> np.ndarray:
    """``values`` ``[...]`` in [0, 1] (clipped) mapped to ``[0.5, size − 0.5]`` float32: truncation gives the index.

    Linear in ``values``, so a blend of two scaled maps truncates to the index of the blended map.
    """
    scaled: np.ndarray = np.clip(values, 0.0, 1.0).astype(np.float32, copy=False)  # [...]
    scaled *= np.float32(size - 1)
    scaled += np.float32(0.5)
    return scaled


def lut_index(values: np.ndarray, size: int) -> np.ndarray:
    """``values`` ``[...]`` in [0, 1] (clipped) as indices ``[...]`` into a table of ``size`` colours."""
    index: np.ndarray = lut_scaled(values, size).astype(np.uint8 if size <= 256 else np.intp)
    return index


__all__ = [
    "LUT_SIZE",
    "apply_colormap",
    "apply_colormap_rgbx",
    "check_colormap",
    "colormap_lut",
    "colormap_names",
    "lookup_rgbx",
    "lut_index",
    "lut_scaled",
    "packed_lut",
]

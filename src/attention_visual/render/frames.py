"""Per-frame pixel work in numpy: colour a map, blend it over a video frame, draw a progress bar.

Frames are RGBX: ``[H, W, 4]`` uint8 whose 4th byte is padding (ffmpeg reads them as
``rgb0``). Four bytes a pixel let a colour lookup write one uint32 per pixel straight into
the frame, and keep every copy contiguous; nothing here calls matplotlib.

Example:
    >>> lut = packed_lut("hot")
    >>> heat = heatmap_rgbx(np.eye(3, 4, dtype=np.float32), 48, 64, lut)   # [48, 64, 4]
    >>> video = np.zeros((48, 64, 4), dtype=np.uint8)
    >>> blend(video, heat, 0.6).shape
    (48, 64, 4)
"""

from __future__ import annotations

import numpy as np

from attention_visual.render.colormap import apply_colormap_rgbx, packed_lut
from attention_visual.render.resize import upsample_bilinear
from attention_visual.render.text import Box

__all__ = [
    "CHANNELS",
    "Box",
    "blend",
    "draw_progress",
    "heatmap_rgbx",
    "packed_lut",
    "premultiply",
]

#: Bytes per pixel of every frame rendered here (R, G, B, padding).
CHANNELS = 4
_ALPHA_ONE = 256  # blend weights are fixed point with 8 fractional bits


def heatmap_rgbx(values: np.ndarray, height: int, width: int, lut: np.ndarray) -> np.ndarray:
    """Upsample a normalised map ``[y, x]`` (values in [0, 1]) bilinearly and colour it.

    Args:
        values: ``[y, x]`` float in [0, 1].
        height: output rows.
        width: output columns.
        lut: a :func:`packed_lut`.

    Returns:
        ``[height, width, 4]`` uint8 RGBX.
    """
    upsampled = upsample_bilinear(values, height, width)  # [height, width]
    return apply_colormap_rgbx(upsampled, lut)  # [height, width, 4]


def premultiply(heat: np.ndarray, alpha: float) -> np.ndarray:
    """``heat`` ``[h, w, c]`` uint8 × fixed-point ``alpha``: ``[h, w, c]`` uint16, for :func:`blend`."""
    out: np.ndarray = np.multiply(heat, np.uint16(_alpha_weight(alpha)), dtype=np.uint16)
    return out


def blend(
    base: np.ndarray,
    heat: np.ndarray,
    alpha: float,
    out: np.ndarray | None = None,
    heat_premultiplied: np.ndarray | None = None,
) -> np.ndarray:
    """``(1 − alpha)·base + alpha·heat`` for ``[h, w, c]`` uint8 images, in 8.8 fixed point.

    Args:
        base: the video frame ``[h, w, c]`` uint8.
        heat: the coloured map ``[h, w, c]`` uint8.
        alpha: heat weight in [0, 1].
        out: where to write (``[h, w, c]`` uint8, may be a view into a larger frame).
        heat_premultiplied: ``premultiply(heat, alpha)``, when the same heatmap is reused.

    Returns:
        ``out`` (or a new array) ``[h, w, c]`` uint8.
    """
    weight = _alpha_weight(alpha)
    if out is None:
        out = np.empty(base.shape, dtype=np.uint8)
    if heat_premultiplied is None:
        heat_premultiplied = premultiply(heat, alpha)
    acc = np.multiply(base, np.uint16(_ALPHA_ONE - weight), dtype=np.uint16)  # [h, w, c]
    acc += heat_premultiplied
    acc += np.uint16(_ALPHA_ONE // 2)
    acc >>= 8
    np.copyto(out, acc, casting="unsafe")
    return out


def draw_progress(
    frame: np.ndarray,
    box: Box,
    fraction: float,
    fill: tuple[int, int, int] = (60, 110, 200),
    track: tuple[int, int, int] = (215, 215, 215),
) -> None:
    """Draw a horizontal progress bar into ``frame`` ``[H, W, c]`` uint8, ``fraction`` in [0, 1] filled."""
    rows, cols = box.slices
    frame[rows, cols, :3] = track
    filled = round(box.width * min(max(fraction, 0.0), 1.0))
    if filled > 0:
        frame[rows, box.x : box.x + filled, :3] = fill


def _alpha_weight(alpha: float) -> int:
    return round(min(max(alpha, 0.0), 1.0) * _ALPHA_ONE)

"""Text that changes from frame to frame ("step 12 / 50"), rendered once per distinct string.

Matplotlib draws each string once into a small transparent Agg canvas (a few milliseconds);
the coverage mask is cached and stamped into frames with numpy, so a 150-frame video whose
title changes at each of 50 steps draws text 50 times, not 150.

Example:
    >>> text = TextRenderer(fontsize=12, dpi=100)
    >>> mask = text.mask("step 3 / 50")    # [h, w] uint8 coverage
    >>> frame = np.zeros((40, 200, 3), dtype=np.uint8)
    >>> text.stamp(frame, "step 3 / 50", Box(0, 0, 200, 40), color=(255, 255, 255))
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from attention_visual.render.fonts import check_text, font_families

_CACHE_SIZE = 512


@dataclass(frozen=True)
class Box:
    """A pixel rectangle of a frame: top-left ``(x, y)``, ``width`` × ``height``."""

    x: int
    y: int
    width: int
    height: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices that select the box from a ``[H, W, ...]`` array."""
        return slice(self.y, self.y + self.height), slice(self.x, self.x + self.width)

    @property
    def right(self) -> int:
        """First column right of the box."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """First row below the box."""
        return self.y + self.height

    def inside(self, width: int, height: int) -> bool:
        """Whether the box lies within a ``width`` × ``height`` frame."""
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height


class TextRenderer:
    """Renders one-line strings to coverage masks with matplotlib, once per string.

    Args:
        fontsize: points.
        dpi: pixels per inch (as the rest of the frame).
        weight: matplotlib font weight (``"normal"``, ``"bold"``).
        max_width: widest string in pixels; longer ones are cut at the right.
    """

    def __init__(self, fontsize: float, dpi: int, weight: str = "normal", max_width: int = 4096) -> None:
        self.fontsize = fontsize
        self.dpi = dpi
        self.line_height = line_height(fontsize, dpi)
        self._figure = Figure(figsize=(max_width / dpi, self.line_height / dpi), dpi=dpi)
        self._figure.patch.set_alpha(0.0)
        self._canvas = FigureCanvasAgg(self._figure)
        self._artist = self._figure.text(
            2.0 / max_width,
            0.5,
            "",
            fontsize=fontsize,
            weight=weight,
            va="center_baseline",
            ha="left",
            fontfamily=list(font_families()),  # CJK and emoji words too
        )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def mask(self, text: str) -> np.ndarray:
        """``[line_height, w]`` uint8 coverage of ``text`` (0 = background, 255 = ink), cut at the right."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        check_text(text)
        self._artist.set_text(text)
        self._canvas.draw()
        alpha = np.asarray(self._canvas.buffer_rgba())[..., 3]  # [line_height', max_width]
        columns = np.flatnonzero(alpha.max(axis=0))
        width = int(columns[-1]) + 2 if columns.size else 1
        out = np.ascontiguousarray(alpha[: self.line_height, :width])  # [line_height, w]
        out.setflags(write=False)
        self._cache[text] = out
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return out

    def stamp(
        self,
        frame: np.ndarray,
        text: str,
        box: Box,
        color: tuple[int, int, int] = (0, 0, 0),
        align: str = "center",
    ) -> None:
        """Draw ``text`` into ``frame`` ``[H, W, 3 or 4]`` uint8, vertically centred in ``box``.

        ``align`` is ``"center"``, ``"left"`` or ``"right"`` within the box; ink outside the
        box is cut off.
        """
        mask = self.mask(text)  # [h, w]
        h = min(mask.shape[0], box.height)
        w = min(mask.shape[1], box.width)
        if h <= 0 or w <= 0:
            return
        x = box.x + {"left": 0, "right": box.width - w}.get(align, (box.width - w) // 2)
        y = box.y + (box.height - h) // 2
        top = (mask.shape[0] - h) // 2
        blend_mask(frame[y : y + h, x : x + w, :3], mask[top : top + h, :w], color)


def line_height(fontsize: float, dpi: int) -> int:
    """Pixel height of one line of :class:`TextRenderer` text (its masks' height): 1.5 × the font size, + 2."""
    return int(np.ceil(fontsize * dpi / 72.0 * 1.5)) + 2


def blend_mask(region: np.ndarray, mask: np.ndarray, color: tuple[int, int, int]) -> None:
    """Blend solid ``color`` into ``region`` ``[h, w, 3]`` uint8 by coverage ``mask`` ``[h, w]``, in place."""
    cover = mask.astype(np.uint16)[..., None]  # [h, w, 1]
    ink = np.asarray(color, dtype=np.uint16) * cover  # [h, w, 3]
    mixed = region.astype(np.uint16) * (255 - cover) + ink + 127  # [h, w, 3]
    region[...] = (mixed // 255).astype(np.uint8)


__all__ = ["Box", "TextRenderer", "blend_mask", "line_height"]

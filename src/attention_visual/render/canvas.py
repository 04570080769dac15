"""What every rendered frame background shares: the canvas, the colorbar and matplotlib drawing helpers.

A :class:`Canvas` is an RGB image plus the pixel boxes where per-frame content goes (heatmap panels,
the title line, the footer). Matplotlib draws it once (:func:`new_figure`, :func:`draw_colorbar`,
:func:`rasterize`); every frame then starts from a copy of it and numpy fills the boxes. The two
layouts that build canvases are :mod:`.step_grid` (step videos) and :mod:`.strip` (overlay videos).

Example:
    >>> line_px(9.0, 100) > text_px("Ágy", 9.0, 100)[1]
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from attention_visual.render.fonts import font_families
from attention_visual.render.text import Box

BACKGROUND = (255, 255, 255)
TITLE_PT = 14.0
LABEL_PT = 9.0
TICK_PT = 8.0
TICK_LEN, TICK_PAD = 3.0, 2.0  # points: the colorbar's tick marks and their gap to the values


@dataclass(frozen=True)
class ColorbarSpec:
    """A colorbar to draw: colormap, value range and label (the normalisation)."""

    colormap: str
    vmin: float
    vmax: float
    label: str


@dataclass(frozen=True)
class Canvas:
    """A static frame background and where the changing parts go.

    Attributes:
        image: ``[H, W, 4]`` uint8 RGBX background (read-only), ``H`` and ``W`` even.
        panels: heatmap boxes, in reading order.
        title: box of the per-frame title line, if any.
        footer: box of the per-frame timestamp line, if any.
        progress: box of the progress bar, if any.
        regions: every box of the layout by name, static ones included (strip canvases).
    """

    image: np.ndarray
    panels: tuple[Box, ...]
    title: Box | None = None
    footer: Box | None = None
    progress: Box | None = None
    regions: dict[str, Box] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def new_frame(self) -> np.ndarray:
        """A writable copy of the background, ``[H, W, 4]`` uint8 RGBX."""
        return self.image.copy()


def text_px(text: str, points: float, dpi: int, weight: str = "normal") -> tuple[int, int]:
    """``(width, height)`` in pixels of one line of ``text`` as matplotlib draws it."""
    renderer = RendererAgg(1, 1, dpi)
    font = FontProperties(family=list(font_families()), size=points, weight=weight)
    w, h, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
    return math.ceil(w), math.ceil(h)


def line_px(points: float, dpi: int, weight: str = "normal") -> int:
    """Height of a box that holds one line of text at ``points``, with a little air."""
    return text_px("Ágy", points, dpi, weight)[1] + max(4, round(0.5 * points * dpi / 72.0))


def fit_pt(text: str, points: float, dpi: int, room: int, weight: str = "normal") -> float:
    """``points``, or less so that ``text`` is at most ``room`` pixels long."""
    length = text_px(text, points, dpi, weight)[0]
    return points if length <= room else points * max(room, 1) / length * 0.98


def new_figure(width: int, height: int, dpi: int) -> tuple[Figure, FigureCanvasAgg]:
    """A ``width`` × ``height`` pixel figure on the :data:`BACKGROUND` colour and its Agg canvas."""
    face = (BACKGROUND[0] / 255.0, BACKGROUND[1] / 255.0, BACKGROUND[2] / 255.0)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=face)
    return fig, FigureCanvasAgg(fig)


def draw_colorbar(
    fig: Figure, box: Box, spec: ColorbarSpec, ticks: tuple[Sequence[float], Sequence[str]] | None = None
) -> None:
    """Draw the bar into ``box``; with ``ticks`` (values, texts) those and no label (the caller places it)."""
    width, height = fig.canvas.get_width_height()
    cax = fig.add_axes((box.x / width, 1.0 - (box.y + box.height) / height, box.width / width, box.height / height))
    vmax = spec.vmax if spec.vmax > spec.vmin else spec.vmin + 1.0
    mappable = ScalarMappable(norm=Normalize(spec.vmin, vmax), cmap=matplotlib.colormaps[spec.colormap])
    bar = fig.colorbar(mappable, cax=cax)
    if ticks is not None:
        bar.set_ticks(list(ticks[0]), labels=list(ticks[1]))
        bar.minorticks_off()
        bar.ax.tick_params(labelsize=TICK_PT, length=TICK_LEN, pad=TICK_PAD, width=0.6)
        bar.outline.set_linewidth(0.6)
        return
    bar.ax.tick_params(labelsize=TICK_PT)
    bar.ax.yaxis.get_offset_text().set_fontsize(TICK_PT)
    bar.set_label(spec.label, fontsize=TICK_PT)


def rasterize(canvas: FigureCanvasAgg, width: int, height: int) -> np.ndarray:
    """Draw ``canvas`` and return its pixels ``[height, width, 4]`` uint8 RGBX (padded/cropped to size)."""
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # [h', w', 4]
    image = np.empty((height, width, 4), dtype=np.uint8)  # [H, W, RGBX]
    image[...] = (*BACKGROUND, 255)
    h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
    image[:h, :w, :3] = rgba[:h, :w, :3]
    image.setflags(write=False)
    return image


__all__ = [
    "BACKGROUND",
    "LABEL_PT",
    "TICK_LEN",
    "TICK_PAD",
    "TICK_PT",
    "TITLE_PT",
    "Canvas",
    "ColorbarSpec",
    "draw_colorbar",
    "fit_pt",
    "line_px",
    "new_figure",
    "rasterize",
    "text_px",
]

"""Static frame backgrounds drawn once with matplotlib: panels, labels, colorbar.

A :class:`Canvas` is an RGB image plus the pixel boxes where per-frame content goes
(heatmap panels, the title line, the footer). Matplotlib draws it once; every frame then
starts from a copy of it and numpy fills the boxes. Two builders:

* :func:`figure_canvas`: a ``figsize × dpi`` frame for step videos, with a title band,
  a grid of panels of the video's aspect ratio (one, or one per latent frame), an optional
  colorbar at the right and an optional footer (timestamp and progress bar).
* :func:`strip_canvas`: pixel-exact panels of the video's own size side by side (overlay,
  or video | heatmap | overlay), an optional label band above and colorbar panel at the right.

Example:
    >>> bar = ColorbarSpec("hot", 0.0, 1.0, "attention")
    >>> canvas = figure_canvas((6, 4), 100, panel_aspect=832 / 480, colorbar=bar)
    >>> canvas.image.shape, len(canvas.panels)
    ((400, 600, 3), 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from attention_visual.render.options import even_ceil
from attention_visual.render.text import Box

BACKGROUND = (255, 255, 255)
TITLE_PT = 14.0
LABEL_PT = 9.0
TICK_PT = 8.0


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
    """

    image: np.ndarray
    panels: tuple[Box, ...]
    title: Box | None = None
    footer: Box | None = None
    progress: Box | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def new_frame(self) -> np.ndarray:
        """A writable copy of the background, ``[H, W, 4]`` uint8 RGBX."""
        return self.image.copy()


def figure_canvas(
    figsize: tuple[float, float],
    dpi: int,
    panel_aspect: float,
    n_panels: int = 1,
    panel_labels: Sequence[str] = (),
    colorbar: ColorbarSpec | None = None,
    footer: bool = False,
) -> Canvas:
    """Draw the static part of a step-video frame.

    Args:
        figsize: ``(width, height)`` inches.
        dpi: pixels per inch; the frame is ``figsize × dpi`` rounded up to even sizes.
        panel_aspect: width / height of each heatmap panel (the video's aspect ratio).
        n_panels: heatmaps shown at once (1, or one per latent frame when tiling).
        panel_labels: a small caption above each panel (empty: none).
        colorbar: a colorbar at the right, or None.
        footer: reserve a line and a progress bar at the bottom.
    """
    width, height = even_ceil(figsize[0] * dpi), even_ceil(figsize[1] * dpi)
    scale = dpi / 72.0
    margin = max(4, round(0.02 * min(width, height)))
    title_h = round(TITLE_PT * scale * 2.2)
    footer_h = round(LABEL_PT * scale * 2.0) + max(6, round(0.012 * height)) + margin if footer else 0
    bar_w = max(10, round(0.022 * width)) if colorbar else 0
    bar_room = bar_w + round(TICK_PT * scale * 9.0) if colorbar else 0
    region = Box(margin, title_h, width - 2 * margin - bar_room, height - title_h - footer_h - margin)
    label_h = round(LABEL_PT * scale * 1.8) if panel_labels else 0
    panels = _grid(region, n_panels, panel_aspect, gap=margin, label_h=label_h)

    fig, canvas = _figure(width, height, dpi)
    for box, text in zip(panels, panel_labels, strict=False):
        fig.text(
            (box.x + box.width / 2) / width,
            1.0 - (box.y - label_h / 2) / height,
            text,
            ha="center",
            va="center",
            fontsize=LABEL_PT,
        )
    if colorbar is not None and panels:
        top = min(b.y for b in panels) - label_h
        bottom = max(b.y + b.height for b in panels)
        _draw_colorbar(fig, Box(width - margin - bar_room + margin // 2, top, bar_w, bottom - top), colorbar)
    image = _rgb(canvas, width, height)
    footer_box = progress_box = None
    if footer:
        text_h = round(LABEL_PT * scale * 2.0)
        footer_box = Box(margin, height - footer_h, width - 2 * margin, text_h)
        progress_box = Box(margin, height - footer_h + text_h, width - 2 * margin, max(6, round(0.012 * height)))
    return Canvas(image, panels, Box(0, 0, width, title_h), footer_box, progress_box)


def strip_canvas(
    panel_width: int,
    panel_height: int,
    n_panels: int,
    dpi: int,
    panel_labels: Sequence[str] = (),
    colorbar: ColorbarSpec | None = None,
    heading: str = "",
) -> Canvas:
    """Draw the static part of an overlay frame: ``n_panels`` video-sized panels side by side.

    The panels keep the video's exact pixel size; the canvas is padded to even sizes.
    ``heading`` is written above the colorbar (e.g. the word).
    """
    scale = dpi / 72.0
    label_h = round(LABEL_PT * scale * 1.8) if panel_labels else 0
    side_w = round(TICK_PT * scale * 12.0) + 12 if colorbar else 0
    width = even_ceil(panel_width * n_panels + side_w)
    height = even_ceil(panel_height + label_h)
    panels = tuple(Box(i * panel_width, label_h, panel_width, panel_height) for i in range(n_panels))
    if not panel_labels and colorbar is None:
        image = np.zeros((height, width, 4), dtype=np.uint8)  # [H, W, RGBX]
        image[..., 3] = 255
        image.setflags(write=False)
        return Canvas(image, panels)
    fig, canvas = _figure(width, height, dpi)
    for box, text in zip(panels, panel_labels, strict=False):
        fig.text(
            (box.x + box.width / 2) / width,
            1.0 - label_h / 2 / height,
            text,
            ha="center",
            va="center",
            fontsize=LABEL_PT,
        )
    if colorbar is not None:
        x0 = n_panels * panel_width
        head_h = round(LABEL_PT * scale * 2.2) if heading else 0
        pad = max(4, round(0.04 * panel_height))
        if heading:
            fig.text(
                (x0 + side_w / 2) / width,
                1.0 - (label_h + head_h / 2) / height,
                heading,
                ha="center",
                va="center",
                fontsize=LABEL_PT,
                weight="bold",
            )
        bar = Box(x0 + 6, label_h + head_h + pad, max(8, round(0.1 * side_w)), panel_height - head_h - 2 * pad)
        if bar.height > 8:
            _draw_colorbar(fig, bar, colorbar)
    image = _rgb(canvas, width, height)
    return Canvas(image, panels)


def _grid(region: Box, n: int, aspect: float, gap: int, label_h: int) -> tuple[Box, ...]:
    """Lay ``n`` panels of ``aspect`` (w/h) out in the grid that makes them largest, centred in ``region``."""
    best: tuple[float, int, int, float, float] | None = None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cell_w = (region.width - (cols - 1) * gap) / cols
        cell_h = (region.height - (rows - 1) * gap) / rows - label_h
        if cell_w <= 0 or cell_h <= 0:
            continue
        pw = min(cell_w, cell_h * aspect)
        if best is None or pw > best[0]:
            best = (pw, cols, rows, pw, pw / aspect)
    if best is None:
        raise ValueError(f"no room for {n} panels in {region.width}x{region.height} px; use a larger figsize")
    _, cols, rows, pw_f, ph_f = best
    pw, ph = max(1, math.floor(pw_f)), max(1, math.floor(ph_f))
    total_w = cols * pw + (cols - 1) * gap
    total_h = rows * (ph + label_h) + (rows - 1) * gap
    x0 = region.x + (region.width - total_w) // 2
    y0 = region.y + (region.height - total_h) // 2
    boxes = []
    for i in range(n):
        r, c = divmod(i, cols)
        boxes.append(Box(x0 + c * (pw + gap), y0 + r * (ph + label_h + gap) + label_h, pw, ph))
    return tuple(boxes)


def _figure(width: int, height: int, dpi: int) -> tuple[Figure, FigureCanvasAgg]:
    face = (BACKGROUND[0] / 255.0, BACKGROUND[1] / 255.0, BACKGROUND[2] / 255.0)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=face)
    return fig, FigureCanvasAgg(fig)


def _draw_colorbar(fig: Figure, box: Box, spec: ColorbarSpec) -> None:
    width, height = fig.canvas.get_width_height()
    cax = fig.add_axes((box.x / width, 1.0 - (box.y + box.height) / height, box.width / width, box.height / height))
    vmax = spec.vmax if spec.vmax > spec.vmin else spec.vmin + 1.0
    mappable = ScalarMappable(norm=Normalize(spec.vmin, vmax), cmap=matplotlib.colormaps[spec.colormap])
    bar = fig.colorbar(mappable, cax=cax)
    bar.ax.tick_params(labelsize=TICK_PT)
    bar.ax.yaxis.get_offset_text().set_fontsize(TICK_PT)
    bar.set_label(spec.label, fontsize=TICK_PT)


def _rgb(canvas: FigureCanvasAgg, width: int, height: int) -> np.ndarray:
    """Draw ``canvas`` and return its pixels ``[height, width, 4]`` uint8 RGBX (padded/cropped to size)."""
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # [h', w', 4]
    image = np.empty((height, width, 4), dtype=np.uint8)  # [H, W, RGBX]
    image[...] = (*BACKGROUND, 255)
    h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
    image[:h, :w, :3] = rgba[:h, :w, :3]
    image.setflags(write=False)
    return image


__all__ = ["BACKGROUND", "Canvas", "ColorbarSpec", "figure_canvas", "strip_canvas"]

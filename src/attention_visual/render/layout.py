"""Static frame backgrounds drawn once with matplotlib: panels, labels, colorbar.

A :class:`Canvas` is an RGB image plus the pixel boxes where per-frame content goes
(heatmap panels, the title line, the footer). Matplotlib draws it once; every frame then
starts from a copy of it and numpy fills the boxes. Two builders:

* :func:`figure_canvas`: a ``figsize × dpi`` frame for step videos, with a title band,
  a grid of panels of the video's aspect ratio (one, or one per latent frame), an optional
  colorbar at the right and an optional footer (timestamp and progress bar).
* :func:`strip_canvas`: panels of an exact pixel size side by side (overlay, or video |
  heatmap | overlay) laid out by :func:`strip_layout`: title above, a caption per panel,
  the colorbar column at the right (bar | tick values | label), a timestamp line below,
  every part in its own box. Overlay videos size their panels with :func:`display_size`
  (small videos scaled up to :data:`MIN_PANEL_HEIGHT` rows, so the text stays readable).

Example:
    >>> bar = ColorbarSpec("hot", 0.0, 1.0, "attention")
    >>> canvas = figure_canvas((6, 4), 100, panel_aspect=832 / 480, colorbar=bar)
    >>> canvas.image.shape, len(canvas.panels)
    ((400, 600, 4), 1)
    >>> layout = strip_layout(*display_size(192, 128), 1, 100, colorbar=bar, title="“kiss”")
    >>> layout.panels[0].height, layout.title.bottom <= layout.panels[0].y
    (480, True)
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
from matplotlib.ticker import MaxNLocator

from attention_visual.render.fonts import check_text, font_families
from attention_visual.render.options import even_ceil
from attention_visual.render.text import Box, line_height

BACKGROUND = (255, 255, 255)
TITLE_PT = 14.0
LABEL_PT = 9.0
TICK_PT = 8.0
#: Font size of the per-frame timestamp line of overlay frames.
FOOTER_PT = 9.0
#: Overlay panels are at least this many pixels tall (smaller videos are scaled up).
MIN_PANEL_HEIGHT = 480
_TICK_LEN, _TICK_PAD = 3.0, 2.0  # points


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
            fontfamily=list(font_families()),
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


def display_size(width: int, height: int, min_height: int = MIN_PANEL_HEIGHT) -> tuple[int, int]:
    """``(width, height)`` at which a video of this size is shown in an overlay frame.

    A video at least ``min_height`` pixels tall keeps its exact size (832×480 stays 1:1); a
    smaller one is scaled up, keeping its aspect ratio, until it is ``min_height`` tall (both
    sides even), so that the text around it is readable next to it.

    Example:
        >>> display_size(192, 128), display_size(832, 480)
        ((720, 480), (832, 480))
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"video size must be positive, got {width}x{height}")
    if height >= min_height:
        return width, height
    scale = min_height / height
    return max(2, 2 * round(width * scale / 2)), even_ceil(min_height)


@dataclass(frozen=True)
class StripLayout:
    """Where everything of an overlay frame goes: pixel boxes and the font sizes that fit them.

    Every box lies inside the ``width`` × ``height`` frame and no two boxes share a pixel
    (:meth:`regions` lists them by name).

    Attributes:
        width: frame width, even.
        height: frame height, even.
        panels: the video-sized panels, left to right.
        labels: a caption box above each panel (empty: none).
        title: the title line above the panels, or None.
        colorbar: the colour bar itself, or None.
        ticks: the bar's tick marks and their values, right of it.
        colorbar_label: the label, rotated, right of the tick values.
        footer: the per-frame timestamp line below the panels, or None.
        title_pt: font size of the title (shrunk to fit its box).
        colorbar_label_pt: font size of the colorbar label (shrunk to fit its box).
        tick_values: where the bar's ticks are, in attention units.
        tick_texts: what they read.
    """

    width: int
    height: int
    panels: tuple[Box, ...]
    labels: tuple[Box, ...] = ()
    title: Box | None = None
    colorbar: Box | None = None
    ticks: Box | None = None
    colorbar_label: Box | None = None
    footer: Box | None = None
    title_pt: float = TITLE_PT
    colorbar_label_pt: float = LABEL_PT
    tick_values: tuple[float, ...] = ()
    tick_texts: tuple[str, ...] = ()

    def regions(self) -> dict[str, Box]:
        """Every box by name (``panel 0``, ``label 0``, ``title``, ``colorbar``, ...), None ones left out."""
        named: dict[str, Box | None] = {f"panel {i}": b for i, b in enumerate(self.panels)}
        named |= {f"label {i}": b for i, b in enumerate(self.labels)}
        named |= {"title": self.title, "colorbar": self.colorbar, "colorbar ticks": self.ticks}
        named |= {"colorbar label": self.colorbar_label, "footer": self.footer}
        return {name: box for name, box in named.items() if box is not None}


def strip_layout(
    panel_width: int,
    panel_height: int,
    n_panels: int,
    dpi: int,
    panel_labels: Sequence[str] = (),
    colorbar: ColorbarSpec | None = None,
    title: str = "",
    footer: bool = False,
) -> StripLayout:
    """Lay out an overlay frame: ``n_panels`` panels of exactly ``panel_width`` × ``panel_height``.

    From top to bottom: the title, one caption per panel, the panels with the colorbar column
    at their right (bar | tick values | rotated label), the footer line. Without any of
    these the frame is just the panels (padded to even sizes); otherwise a white margin
    surrounds everything. Text that would not fit its box is set smaller, never outside it.
    A colorbar needs panels at least about 40 px tall; below that it is left out.
    """
    scale = dpi / 72.0
    decorated = bool(panel_labels or colorbar or title or footer)
    m = max(4, round(6 * scale)) if decorated else 0  # margin
    x0 = y = m
    title_box = None
    title_pt = TITLE_PT
    if title:
        title_h = _line_px(TITLE_PT, dpi, "bold")
        span = n_panels * panel_width + (n_panels - 1) * m
        title_box = Box(x0, y, span, title_h)
        title_pt = _fit_pt(title, TITLE_PT, dpi, span - 4, "bold")
        y += title_h + m // 2
    label_h = _line_px(LABEL_PT, dpi) if panel_labels else 0
    labels = tuple(Box(x0 + i * (panel_width + m), y, panel_width, label_h) for i in range(len(panel_labels)))
    y += label_h
    panels = tuple(Box(x0 + i * (panel_width + m), y, panel_width, panel_height) for i in range(n_panels))
    x = panels[-1].right
    y = panels[-1].bottom
    bar = ticks = bar_label = None
    values: tuple[float, ...] = ()
    texts: tuple[str, ...] = ()
    label_pt = LABEL_PT
    tick_h = _line_px(TICK_PT, dpi)
    if colorbar is not None and panel_height - tick_h >= 16:
        x += round(1.5 * m)
        bar = Box(x, panels[0].y + tick_h // 2, max(8, round(10 * scale)), panel_height - 2 * (tick_h // 2))
        values, texts = _ticks(colorbar)
        tick_w = math.ceil((_TICK_LEN + _TICK_PAD) * scale) + max(_text_px(t, TICK_PT, dpi)[0] for t in texts) + 2
        ticks = Box(bar.right, panels[0].y, tick_w, panel_height)
        label_w = _line_px(LABEL_PT, dpi)
        bar_label = Box(ticks.right + m // 2, bar.y, label_w, bar.height)
        label_pt = _fit_pt(colorbar.label, LABEL_PT, dpi, bar.height - 4)
        x = bar_label.right
    footer_box = None
    if footer:
        y += m // 2
        footer_box = Box(x0, y, x - x0, line_height(FOOTER_PT, dpi))
        y = footer_box.bottom
    return StripLayout(
        even_ceil(x + m), even_ceil(y + m), panels, labels, title_box, bar, ticks, bar_label, footer_box,
        title_pt, label_pt, values, texts,
    )  # fmt: skip


def strip_canvas(
    panel_width: int,
    panel_height: int,
    n_panels: int,
    dpi: int,
    panel_labels: Sequence[str] = (),
    colorbar: ColorbarSpec | None = None,
    title: str = "",
    footer: bool = False,
) -> Canvas:
    """Draw the static part of an overlay frame laid out by :func:`strip_layout` (same arguments).

    The panels keep their exact pixel size; the title is drawn here (it does not change from
    frame to frame), the footer box is left empty for the per-frame timestamp.
    """
    layout = strip_layout(panel_width, panel_height, n_panels, dpi, panel_labels, colorbar, title, footer)
    width, height = layout.width, layout.height
    regions = layout.regions()
    if len(regions) == len(layout.panels):  # nothing but the video: black padding, no matplotlib
        image = np.zeros((height, width, 4), dtype=np.uint8)  # [H, W, RGBX]
        image[..., 3] = 255
        image.setflags(write=False)
        return Canvas(image, layout.panels, regions=regions)
    fig, canvas = _figure(width, height, dpi)

    def text(box: Box, words: str, fontsize: float, **style: object) -> None:
        centre = ((box.x + box.width / 2) / width, 1.0 - (box.y + box.height / 2) / height)
        check_text(words)
        family = list(font_families())
        fig.text(*centre, words, ha="center", va="center", fontsize=fontsize, fontfamily=family, **style)  # type: ignore[arg-type]

    for box, label in zip(layout.labels, panel_labels, strict=True):
        text(box, label, LABEL_PT)
    if layout.title is not None:
        text(layout.title, title, layout.title_pt, weight="bold")
    if colorbar is not None and layout.colorbar is not None and layout.colorbar_label is not None:
        _draw_colorbar(fig, layout.colorbar, colorbar, ticks=(layout.tick_values, layout.tick_texts))
        text(layout.colorbar_label, colorbar.label, layout.colorbar_label_pt, rotation=90)
    image = _rgb(canvas, width, height)
    return Canvas(image, layout.panels, footer=layout.footer, regions=regions)


def _ticks(spec: ColorbarSpec) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """A few round tick values within the bar's range and their shortest distinct texts (no offset text)."""
    vmax = spec.vmax if spec.vmax > spec.vmin else spec.vmin + 1.0
    span = vmax - spec.vmin
    values = [float(v) for v in MaxNLocator(nbins=5).tick_values(spec.vmin, vmax)]
    values = [v for v in values if spec.vmin - 1e-9 * span <= v <= vmax + 1e-9 * span] or [spec.vmin, vmax]
    texts: list[str] = []
    for digits in range(2, 9):
        texts = [f"{v + 0.0:.{digits}g}" for v in values]
        if len(set(texts)) == len(texts):
            break
    return tuple(values), tuple(texts)


def _text_px(text: str, points: float, dpi: int, weight: str = "normal") -> tuple[int, int]:
    """``(width, height)`` in pixels of one line of ``text`` as matplotlib draws it."""
    renderer = RendererAgg(1, 1, dpi)
    font = FontProperties(family=list(font_families()), size=points, weight=weight)
    w, h, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
    return math.ceil(w), math.ceil(h)


def _line_px(points: float, dpi: int, weight: str = "normal") -> int:
    """Height of a box that holds one line of text at ``points``, with a little air."""
    return _text_px("Ágy", points, dpi, weight)[1] + max(4, round(0.5 * points * dpi / 72.0))


def _fit_pt(text: str, points: float, dpi: int, room: int, weight: str = "normal") -> float:
    """``points``, or less so that ``text`` is at most ``room`` pixels long."""
    length = _text_px(text, points, dpi, weight)[0]
    return points if length <= room else points * max(room, 1) / length * 0.98


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


def _draw_colorbar(
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
        bar.ax.tick_params(labelsize=TICK_PT, length=_TICK_LEN, pad=_TICK_PAD, width=0.6)
        bar.outline.set_linewidth(0.6)
        return
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


__all__ = [
    "BACKGROUND",
    "FOOTER_PT",
    "MIN_PANEL_HEIGHT",
    "Canvas",
    "ColorbarSpec",
    "StripLayout",
    "display_size",
    "figure_canvas",
    "strip_canvas",
    "strip_layout",
]

"""The overlay frame: panels of an exact pixel size side by side, with every text in its own box.

:func:`strip_layout` lays out an overlay frame (overlay, or video | heatmap | overlay): title above,
a caption per panel, the colorbar column at the right (bar | tick values | label), a timestamp line
below, every part in its own box; :func:`strip_canvas` draws that layout once. Overlay videos size
their panels with :func:`display_size` (small videos scaled up to :data:`MIN_PANEL_HEIGHT` rows, so
the text stays readable).

Example:
    >>> bar = ColorbarSpec("hot", 0.0, 1.0, "attention")
    >>> layout = strip_layout(*display_size(192, 128), 1, 100, colorbar=bar, title="“kiss”")
    >>> layout.panels[0].height, layout.title.bottom <= layout.panels[0].y
    (480, True)
    >>> strip_canvas(layout).image.shape == (layout.height, layout.width, 4)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.ticker import MaxNLocator

from attention_visual.render.canvas import (
    LABEL_PT,
    TICK_LEN,
    TICK_PAD,
    TICK_PT,
    TITLE_PT,
    Canvas,
    ColorbarSpec,
    draw_colorbar,
    fit_pt,
    line_px,
    new_figure,
    rasterize,
    text_px,
)
from attention_visual.render.fonts import check_text, font_families
from attention_visual.render.options import even_ceil
from attention_visual.render.text import Box, line_height

#: Font size of the per-frame timestamp line of overlay frames.
FOOTER_PT = 9.0
#: Overlay panels are at least this many pixels tall (smaller videos are scaled up).
MIN_PANEL_HEIGHT = 480


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
        label_texts: the caption of each panel (as many as ``labels``).
        title_text: the title (empty: none).
        colorbar_spec: the colorbar drawn in ``colorbar``, or None.
        dpi: pixels per inch the font sizes are for.
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
    label_texts: tuple[str, ...] = ()
    title_text: str = ""
    colorbar_spec: ColorbarSpec | None = None
    dpi: int = 100

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
        title_h = line_px(TITLE_PT, dpi, "bold")
        span = n_panels * panel_width + (n_panels - 1) * m
        title_box = Box(x0, y, span, title_h)
        title_pt = fit_pt(title, TITLE_PT, dpi, span - 4, "bold")
        y += title_h + m // 2
    label_h = line_px(LABEL_PT, dpi) if panel_labels else 0
    labels = tuple(Box(x0 + i * (panel_width + m), y, panel_width, label_h) for i in range(len(panel_labels)))
    y += label_h
    panels = tuple(Box(x0 + i * (panel_width + m), y, panel_width, panel_height) for i in range(n_panels))
    x = panels[-1].right
    y = panels[-1].bottom
    bar = ticks = bar_label = None
    values: tuple[float, ...] = ()
    texts: tuple[str, ...] = ()
    label_pt = LABEL_PT
    tick_h = line_px(TICK_PT, dpi)
    if colorbar is not None and panel_height - tick_h >= 16:
        x += round(1.5 * m)
        bar = Box(x, panels[0].y + tick_h // 2, max(8, round(10 * scale)), panel_height - 2 * (tick_h // 2))
        values, texts = _ticks(colorbar)
        tick_w = math.ceil((TICK_LEN + TICK_PAD) * scale) + max(text_px(t, TICK_PT, dpi)[0] for t in texts) + 2
        ticks = Box(bar.right, panels[0].y, tick_w, panel_height)
        label_w = line_px(LABEL_PT, dpi)
        bar_label = Box(ticks.right + m // 2, bar.y, label_w, bar.height)
        label_pt = fit_pt(colorbar.label, LABEL_PT, dpi, bar.height - 4)
        x = bar_label.right
    footer_box = None
    if footer:
        y += m // 2
        footer_box = Box(x0, y, x - x0, line_height(FOOTER_PT, dpi))
        y = footer_box.bottom
    return StripLayout(
        even_ceil(x + m), even_ceil(y + m), panels, labels, title_box, bar, ticks, bar_label, footer_box,
        title_pt, label_pt, values, texts, tuple(panel_labels), title, colorbar if bar is not None else None, dpi,
    )  # fmt: skip


def strip_canvas(layout: StripLayout) -> Canvas:
    """Draw the static part of an overlay frame laid out by :func:`strip_layout`.

    The panels keep their exact pixel size; the title is drawn here (it does not change from
    frame to frame), the footer box is left empty for the per-frame timestamp.
    """
    width, height = layout.width, layout.height
    regions = layout.regions()
    if len(regions) == len(layout.panels):  # nothing but the video: black padding, no matplotlib
        image = np.zeros((height, width, 4), dtype=np.uint8)  # [H, W, RGBX]
        image[..., 3] = 255
        image.setflags(write=False)
        return Canvas(image, layout.panels, regions=regions)
    fig, canvas = new_figure(width, height, layout.dpi)

    def text(box: Box, words: str, fontsize: float, **style: object) -> None:
        centre = ((box.x + box.width / 2) / width, 1.0 - (box.y + box.height / 2) / height)
        check_text(words)
        family = list(font_families())
        fig.text(*centre, words, ha="center", va="center", fontsize=fontsize, fontfamily=family, **style)  # type: ignore[arg-type]

    for box, label in zip(layout.labels, layout.label_texts, strict=True):
        text(box, label, LABEL_PT)
    if layout.title is not None:
        text(layout.title, layout.title_text, layout.title_pt, weight="bold")
    spec = layout.colorbar_spec
    if spec is not None and layout.colorbar is not None and layout.colorbar_label is not None:
        draw_colorbar(fig, layout.colorbar, spec, ticks=(layout.tick_values, layout.tick_texts))
        text(layout.colorbar_label, spec.label, layout.colorbar_label_pt, rotation=90)
    image = rasterize(canvas, width, height)
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


__all__ = [
    "FOOTER_PT",
    "MIN_PANEL_HEIGHT",
    "StripLayout",
    "display_size",
    "strip_canvas",
    "strip_layout",
]

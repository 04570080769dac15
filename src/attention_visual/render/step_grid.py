"""The step-video frame: a title band, a grid of heatmap panels, a colorbar and a footer.

:func:`figure_canvas` draws the static part of a ``figsize × dpi`` frame: the panels have the video's
aspect ratio (one, or one per latent frame when tiling) and are laid out in the grid that makes
them largest; an optional colorbar sits at the right and an optional footer (timestamp and
progress bar) at the bottom.

Example:
    >>> bar = ColorbarSpec("hot", 0.0, 1.0, "attention")
    >>> canvas = figure_canvas((6, 4), 100, panel_aspect=832 / 480, colorbar=bar)
    >>> canvas.image.shape, len(canvas.panels)
    ((400, 600, 4), 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from attention_visual.render.canvas import (
    LABEL_PT,
    TICK_PT,
    TITLE_PT,
    Canvas,
    ColorbarSpec,
    draw_colorbar,
    new_figure,
    rasterize,
)
from attention_visual.render.fonts import font_families
from attention_visual.render.options import even_ceil
from attention_visual.render.text import Box


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

    fig, canvas = new_figure(width, height, dpi)
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
        draw_colorbar(fig, Box(width - margin - bar_room + margin // 2, top, bar_w, bottom - top), colorbar)
    image = rasterize(canvas, width, height)
    footer_box = progress_box = None
    if footer:
        text_h = round(LABEL_PT * scale * 2.0)
        footer_box = Box(margin, height - footer_h, width - 2 * margin, text_h)
        progress_box = Box(margin, height - footer_h + text_h, width - 2 * margin, max(6, round(0.012 * height)))
    return Canvas(image, panels, Box(0, 0, width, title_h), footer_box, progress_box)


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


__all__ = ["figure_canvas"]

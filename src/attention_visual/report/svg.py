"""Small SVG line charts for the report: plain markup, no plotting library, no script.

A chart is a few hundred bytes of SVG per line, written in microseconds (a matplotlib figure per video cost
~1.2 s of CPU). :func:`line_chart` draws one panel (lines, an optional band per line, the y range and the x
range as labels); :func:`chart_row` puts panels side by side in one ``<svg>`` that works inline in HTML and
as a ``.svg`` file (``<img src>``). Every text goes through :func:`attention_visual.report.escape.e`. A NaN
value leaves a gap in its line.

Example:
    >>> panel = line_chart([Series("dog", "#1f77b4", [1, 2, 3], [0.1, 0.3, 0.2])], "mass", "step")
    >>> svg = chart_row([panel], "one word")
    >>> svg.startswith("<svg") and "polyline" in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from attention_visual.report.escape import e

PANEL_WIDTH = 240
PANEL_HEIGHT = 160
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 10, 22, 34
LEGEND_MAX = 8
"""Panels list their lines' labels when they have at most this many lines."""


@dataclass(frozen=True)
class Series:
    """One line: ``y`` over ``x`` (NaN: a gap), with an optional band from ``low`` to ``high``."""

    label: str
    colour: str
    x: Sequence[float]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _number(value: float) -> str:
    return f"{value:.3g}"


def _segments(xs: Sequence[float], ys: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The runs of consecutive finite points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys, strict=True):
        if y is None or not math.isfinite(float(y)):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((float(x), float(y)))
    return [r for r in runs if r]


def line_chart(
    series: Sequence[Series],
    title: str,
    xlabel: str,
    width: int = PANEL_WIDTH,
    height: int = PANEL_HEIGHT,
    legend: bool = True,
) -> str:
    """One panel as an ``<svg>`` element of ``width`` × ``height`` user units (see the module docstring)."""
    xs = _finite([x for s in series for x in s.x])
    ys = _finite([y for s in series for y in (*s.y, *(s.low or ()), *(s.high or ()))])
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 == y0:
        pad = abs(y0) * 0.05 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def px(x: float) -> float:
        return round(_LEFT + (x - x0) / (x1 - x0) * plot_w, 1)

    def py(y: float) -> float:
        return round(_TOP + (y1 - y) / (y1 - y0) * plot_h, 1)

    parts = [
        f'<svg x="0" y="0" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<text x="{width / 2:g}" y="14" text-anchor="middle" class="t">{e(title)}</text>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" class="f"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">{_number(y1)}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">{_number(y0)}</text>',
        f'<text x="{_LEFT}" y="{_TOP + plot_h + 12}" text-anchor="middle">{_number(x0)}</text>',
        f'<text x="{_LEFT + plot_w}" y="{_TOP + plot_h + 12}" text-anchor="middle">{_number(x1)}</text>',
        f'<text x="{_LEFT + plot_w / 2:g}" y="{height - 6}" text-anchor="middle">{e(xlabel)}</text>',
    ]
    for s in series:
        if s.low is not None and s.high is not None:
            for upper, lower in zip(_segments(s.x, s.high), _segments(s.x, s.low), strict=False):
                ring = [*upper, *reversed(lower)]
                points = " ".join(f"{px(x):g},{py(y):g}" for x, y in ring)
                parts.append(f'<polygon points="{points}" fill="{e(s.colour)}" fill-opacity="0.18" stroke="none"/>')
        for run in _segments(s.x, s.y):
            points = " ".join(f"{px(x):g},{py(y):g}" for x, y in run)
            parts.append(f'<polyline points="{points}" stroke="{e(s.colour)}"><title>{e(s.label)}</title></polyline>')
    if legend and len(series) <= LEGEND_MAX:
        for i, s in enumerate(series):
            x, y = _LEFT + plot_w - 4, _TOP + 10 + 11 * i
            parts.append(f'<text x="{x}" y="{y}" text-anchor="end" style="fill:{e(s.colour)}">{e(s.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


STYLE = (
    "svg.chart text{font:10px system-ui,sans-serif;fill:#5b6474}svg.chart .t{font-size:11px;fill:#1d2330}"
    "svg.chart .f{fill:#fff;stroke:#dfe3ea}svg.chart polyline{fill:none;stroke-width:1.6}"
)
"""The charts' CSS: in the page's stylesheet for inline charts, inside the file of a standalone one."""


def chart_row(
    panels: Sequence[str],
    title: str,
    width: int = PANEL_WIDTH,
    height: int = PANEL_HEIGHT,
    standalone: bool = False,
) -> str:
    """``panels`` (of :func:`line_chart`) side by side in one ``<svg class="chart">`` labelled ``title``.

    ``standalone``: a ``.svg`` file's content (with its namespace and :data:`STYLE`), not inline markup.
    """
    total = width * len(panels)
    placed = "".join(f'<g transform="translate({i * width},0)">{panel}</g>' for i, panel in enumerate(panels))
    head = 'xmlns="http://www.w3.org/2000/svg" ' if standalone else ""
    style = f"<style>{STYLE}</style>" if standalone else ""
    return (
        f'<svg {head}viewBox="0 0 {total} {height}" width="{total}" height="{height}" '
        f'role="img" aria-label="{e(title)}" class="chart">{style}{placed}</svg>'
    )


__all__ = ["LEGEND_MAX", "PANEL_HEIGHT", "PANEL_WIDTH", "STYLE", "Series", "chart_row", "line_chart"]

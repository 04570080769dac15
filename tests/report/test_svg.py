"""The report's SVG line charts: valid standalone SVG, escaped text, gaps at NaN, bands, axis ranges."""

from __future__ import annotations

import math
from xml.etree import ElementTree

from attention_visual.report.svg import LEGEND_MAX, Series, chart_row, line_chart

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_lines_bands_gaps_and_ranges() -> None:
    nasty = '</svg><script>"x"&'
    series = [
        Series(nasty, "#112233", [1, 2, 3, 4], [0.0, 1.0, math.nan, 2.0]),
        Series("band", "#445566", [1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0], [0.5] * 4, [1.5] * 4),
    ]
    svg = chart_row([line_chart(series, f"title {nasty}", "step")], "row", standalone=True)
    root = _parse(svg)  # well-formed XML: every text was escaped
    assert "<script>" not in svg and nasty not in svg
    lines = root.findall(f".//{NS}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 1, 4]  # the NaN cuts the first line
    [band] = root.findall(f".//{NS}polygon")
    assert len(band.get("points", "").split()) == 8 and band.get("fill") == "#445566"
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert "2" in texts and "0" in texts and "1" in texts and "4" in texts  # y range 0–2, x range 1–4
    assert f"title {nasty}" in texts and nasty in texts  # the legend names each line


def test_flat_and_empty_series_still_draw() -> None:
    flat = line_chart([Series("a", "#000", [1, 1], [3.0, 3.0])], "flat", "x")
    empty = line_chart([Series("a", "#000", [], [])], "empty", "x")
    for svg in (flat, empty):
        _parse(chart_row([svg], "t", standalone=True))


def test_legend_only_for_few_lines() -> None:
    many = [Series(f"prompt {i}", "#000", [1, 2], [i, i + 1.0]) for i in range(LEGEND_MAX + 1)]
    root = _parse(chart_row([line_chart(many, "t", "x")], "t", standalone=True))
    assert not any((t.text or "").startswith("prompt") for t in root.iter(f"{NS}text"))
    inline = chart_row([line_chart(many[:2], "t", "x")], "t")
    assert "xmlns" not in inline and "<style>" not in inline  # inline charts take the page's stylesheet

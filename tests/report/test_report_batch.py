"""The report's batch view: statistics table, seed grids, centroid paths, curves, atlas, and its caches."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from attention_visual.analysis import STATS_COLUMNS, batch_stats
from attention_visual.report import assemble, write_report
from attention_visual.report.batch_images import curve_table, curves_svg
from attention_visual.report.batch_view import TABLE_COLUMNS, summary_rows
from support.batch import GRID, NASTY_PROMPT, NUM_STEPS, build_batch
from support.report_files import batch_view, page_data
from support.synthetic import write_batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batches") / "b"
    build_batch(folder, videos_per_prompt=3, statuses={"prompt_002_vid_003": "failed"})
    write_report(folder, comparison_plots=False)
    return folder


def _body(batch: Path) -> str:
    """The batch view's markup: its frame and every group (loaded from ``batch/view.js`` when opened)."""
    view = batch_view(batch / "report")
    return view["html"] + "".join(g["html"] for g in view["groups"])


def test_stats_open_in_pandas_and_fill_the_page_table(batch: Path) -> None:
    stats = pd.read_parquet(batch / "report" / "batch" / "stats.parquet")
    assert tuple(stats.columns) == STATS_COLUMNS
    # 5 done videos (prompt 1: 3 × 2 words, prompt 2: 2 × 2 words), steps + the step average, per latent frame.
    assert len(stats) == (3 * 2 + 2 * 2) * (NUM_STEPS + 1) * GRID[0]
    pd.testing.assert_frame_equal(stats, batch_stats(batch))  # the videos' rows, as write_stats makes them
    page = (batch / "report" / "index.html").read_text(encoding="utf-8")
    table = batch_view(batch / "report")["stats"]
    assert isinstance(table, dict) and table["columns"] == list(TABLE_COLUMNS)
    assert len(table["rows"]) == 3 * 2 + 2 * 2
    body = _body(batch)
    assert '<table id="stats-table">' in body and '<select id="word-filter">' in body
    assert 'id="model-filter"' not in body  # one model: no model filter (a comparison has one)
    assert 'href="batch/stats.parquet"' in body
    assert '<details class="batch" id="batch">' in page and "<table" not in page  # markup only once opened
    assert page_data(batch / "report" / "index.html")["batch_view"] == "batch/view.js"


def test_every_link_of_the_view_resolves(batch: Path) -> None:
    body = _body(batch)
    urls = re.findall(r'(?:href|src)="([^"]+)"', body) + re.findall(r"url\(&#x27;([^&]+)&#x27;\)", body)
    assert len(urls) > 10
    videos = {v for p in page_data(batch / "report" / "index.html")["prompts"] for v in p["videos"]}
    for url in urls:
        assert "://" not in url and not url.startswith("/"), url
        if url.startswith("#"):  # a centroid path's link to its video's card
            assert url[1:] in videos, url
            continue
        assert (batch / "report" / unquote(url)).resolve().is_file(), url


def test_seed_grids_hold_every_seed_then_mean_and_std(batch: Path) -> None:
    grids = {k: v for g in batch_view(batch / "report")["groups"] for k, v in g["maps"].items()}
    assert len(grids) == 4  # kiss, flowers (prompt 1), dog, beach (prompt 2)
    cols = sorted(v["cols"] for v in grids.values())
    assert cols == [2 + 2, 2 + 2, 3 + 2, 3 + 2] and all(v["rows"] == NUM_STEPS + 1 for v in grids.values())
    png = batch / "report" / "batch" / "seeds" / "kiss_prompt_001.png"
    with Image.open(png) as image:
        assert image.mode == "P" and image.size[0] % 5 == 0 and image.size[1] % (NUM_STEPS + 1) == 0
    # Every seed stored the same maps (support.batch): consistency 1, std 0.
    body = _body(batch)
    assert body.count('consistency <span class="score">1.00</span>') == 4
    assert "std · max 0" in body and "seed 42 · r 1.00" in body


def test_centroid_paths_are_drawn_over_the_videos(batch: Path) -> None:
    page = _body(batch)
    paths = re.findall(r'<polyline points="([^"]*)"', page)
    assert len(paths) == 3 * 2 + 2 * 2
    stats = pd.read_parquet(batch / "report" / "batch" / "stats.parquet")
    row = stats[(stats.video_id == "prompt_001_vid_001") & (stats.word == "kiss") & (stats.step == -1)]
    expected = " ".join(f"{x:g},{y:g}" for x, y in zip(row.centroid_x.round(2), row.centroid_y.round(2), strict=True))
    assert expected in paths
    assert len(paths[0].split()) == GRID[0] and 'data-frames="0,1,5"' in page  # latent k starts at video frame 4k−3
    posters = re.findall(r'<img src="(maps/[^"]+/poster.jpg)"', page)
    assert len(posters) == len(paths) and "<video" not in page  # drawn over a poster frame, not a player
    with Image.open(batch / "report" / posters[0]) as image:
        assert image.format == "JPEG" and image.size[0] > 0


def test_curves_and_no_atlas_without_block_axes(batch: Path) -> None:
    page = _body(batch)
    assert page.count('src="batch/curves/') == 4 and "batch/atlas/" not in page
    svg = ElementTree.parse(batch / "report" / "batch" / "curves" / "dog.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    lines = svg.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 3 and all(len(line.get("points", "").split()) == NUM_STEPS for line in lines)


def _stamps(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_only_what_changed_is_made_again(tmp_path: Path) -> None:
    """Seed groups, the table and cards are redone only for the prompt whose maps changed."""
    batch = tmp_path / "b"
    build_batch(batch, videos_per_prompt=2)
    write_report(batch, comparison_plots=False)
    report = batch / "report"
    old = _stamps(report)
    time.sleep(0.01)
    assemble(batch, comparison_plots=False)  # nothing changed: only the page itself is written
    assert {k for k, v in _stamps(report).items() if old[k] != v} == {"index.html"}
    source = batch / "attention_maps" / "prompt_001_vid_001" / "kiss" / "step_000.npz"
    later = source.stat().st_mtime_ns + 5 * 10**9
    os.utime(source, ns=(later, later))
    write_report(batch, comparison_plots=False)
    changed = {k for k, v in _stamps(report).items() if old[k] != v}
    assert {"maps/prompt_001_vid_001/assets.json", "batch/seeds/kiss_prompt_001.png"} <= changed
    assert not any(k.startswith(("maps/prompt_002", "batch/seeds/dog", "batch/seeds/beach")) for k in changed), changed
    assert "maps/prompt_001_vid_002/assets.json" not in changed and "cards/prompt_002_vid_001.js" not in changed


def test_summary_rows_and_curves_by_hand() -> None:
    base = {"marked_prompt": "a (dog)", "timestep": 1.0, "sigma": 0.5, "expert": None, "video_index": 1, "model": None}
    rows = []
    for video, seed, scale in (("v1", 1, 1.0), ("v2", 2, 3.0)):
        for step in (-1, 0):
            for frame in (0, 1):
                value = scale * (1 + frame) * (2 if step == 0 else 1)
                rows.append(
                    {**base, "video_id": video, "prompt_index": 1, "seed": seed, "word": "dog", "step": step,
                     "frame": frame, "mass": value, "peak": value, "entropy": value, "centroid_y": 0.0,
                     "centroid_x": 0.0, "spread": value, "mask_area": value}
                )  # fmt: skip
    stats = pd.DataFrame(rows)
    # v1's step average: frames 1 and 2 → mean 1.5; v2's: 3 and 6 → 4.5.
    assert summary_rows(stats) == [
        ["v1", None, 1, 1, "dog", 1.5, 1.5, 1.5, 1.5, 1.5],
        ["v2", None, 1, 2, "dog", 4.5, 4.5, 4.5, 4.5, 4.5],
    ]
    curves = curve_table(stats, "dog")
    # Step 0: v1 = 2 · 1.5 = 3, v2 = 2 · 4.5 = 9 → mean 6, population std 3.
    assert curves.loc[0, "mean_mass"] == pytest.approx(6.0) and curves.loc[0, "std_mass"] == pytest.approx(3.0)
    assert curves.loc[0, "seeds"] == 2
    # A comparison: the same prompt through two models is two curves (one seed each), labelled by model.
    stats["model"] = stats["video_id"].map({"v1": "wan", "v2": "ltx"})
    by_model = curve_table(stats, "dog").set_index("model")
    assert by_model.loc["wan", "mean_mass"] == pytest.approx(3.0) and by_model.loc["ltx", "mean_mass"] == 9.0
    assert (by_model["seeds"] == 1).all() and summary_rows(stats)[0][:2] == ["v1", "wan"]
    assert "wan · prompt 1 (1 seeds)" in curves_svg(stats, "dog")


def test_block_head_atlas_by_hand(tmp_path: Path) -> None:
    shape = (2, 2, 1, 2, 3)  # [block, head, frame, y, x]: non-square grid
    arr = np.full(shape, 1 / 6, dtype=np.float32)  # uniform maps: entropy 1, peak 1/6
    arr[0, 0] = 0.0
    arr[0, 0, 0, 1, 2] = 1.0  # block 0, head 0: one cell → entropy 0, peak 1
    stack = np.stack([arr, arr])  # [step, block, head, frame, y, x]
    maps = {(1, v): {"dog": stack} for v in (1, 2)}
    write_batch(tmp_path, ["a (dog)"], maps, axes=("block", "head", "frame", "y", "x"))
    write_report(tmp_path, comparison_plots=False)
    assert 'src="batch/atlas/dog.png"' in _body(tmp_path)
    assert (tmp_path / "report" / "batch" / "atlas" / "dog.png").is_file()
    values = json.loads((tmp_path / "report" / "batch" / "atlas" / "dog.json").read_text())  # what it drew
    assert values["videos"] == 2 and len(values["blocks"]) == 2
    np.testing.assert_allclose(values["entropy"], [[0.0, 1.0], [1.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(values["peak"], [[1.0, 1 / 6], [1 / 6, 1 / 6]], rtol=1e-6)


def test_user_strings_are_escaped_in_the_batch_view(tmp_path: Path) -> None:
    nasty = '</script><b>"x"&'
    build_batch(tmp_path / "b", prompts=(NASTY_PROMPT,), videos_per_prompt=2)
    write_report(tmp_path / "b", comparison_plots=False)
    for path in (tmp_path / "b" / "report" / "batch").rglob("*.js"):
        script = path.read_text(encoding="utf-8")
        assert "<" not in script and nasty not in script, path  # the markup travels JSON-escaped
    body = _body(tmp_path / "b")
    assert "<b>" not in body and "&lt;/script&gt;&lt;b&gt;&quot;x&quot;&amp;" in body
    stats = batch_view(tmp_path / "b" / "report")["stats"]
    assert isinstance(stats, dict) and nasty in {row[TABLE_COLUMNS.index("word")] for row in stats["rows"]}


def test_without_the_batch_view(tmp_path: Path) -> None:
    build_batch(tmp_path / "b", prompts=("a (cat)",), videos_per_prompt=1)
    page = write_report(tmp_path / "b", comparison_plots=False, batch_view=False).read_text(encoding="utf-8")
    assert 'id="batch"' not in page and not (tmp_path / "b" / "report" / "batch").exists()


def test_consistency_across_prompts_equals_the_seed_views(tmp_path: Path) -> None:
    from attention_visual.analysis import word_seed_views

    rng = np.random.default_rng(5)
    maps = {(p, v): {"dog": rng.random((2, 2, 2, 3), dtype=np.float32)} for p in (1, 2) for v in (1, 2, 3)}
    write_batch(tmp_path, ["a (dog)", "the (dog) again"], maps)
    write_report(tmp_path, comparison_plots=False)
    expected = word_seed_views(tmp_path, "dog").across
    assert expected is not None
    line = f'consistency across 2 prompts (6 videos): <span class="score">{expected.consistency:.2f}</span>'
    assert line in _body(tmp_path)

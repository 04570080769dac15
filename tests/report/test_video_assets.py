"""One video's report assets: what they hold, made once, made again only when their sources or files change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from attention_visual.analysis import batch_stats
from attention_visual.report import build_video_assets
from attention_visual.report.video_assets import ASSETS_FILE, POSTER_FILE, make_posters, read_video_assets
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.comparison import temporal_metrics
from support.batch import GRID, NUM_STEPS, WIDTH, build_batch

VIDEO = "prompt_001_vid_001"


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    build_batch(tmp_path / "b", prompts=("a (kiss) with (flowers)",), videos_per_prompt=2)
    return tmp_path / "b"


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_assets_hold_sprites_curves_paths_and_stats(batch: Path) -> None:
    assets = build_video_assets(batch, VIDEO)
    folder = batch / "report" / "maps" / VIDEO
    assert sorted(assets.words) == ["flowers", "kiss"] and assets.complete and assets.error is None
    assert sorted(assets.files) == sorted(["flowers.png", "kiss.png", POSTER_FILE, "stats.parquet"])
    kiss = assets.words["kiss"]
    assert kiss.sprite == f"maps/{VIDEO}/kiss.png" and kiss.info is not None and kiss.info.rows == NUM_STEPS
    assert kiss.steps == list(range(NUM_STEPS)) and kiss.grid == list(GRID)
    # The curves are the comparison's own measure of the same maps.
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    stack, metas = analyzer.step_stack(VIDEO, "kiss")
    expected = temporal_metrics(stack, analyzer.frame_weights(metas[0]), list(range(NUM_STEPS)))
    assert kiss.metrics is not None and kiss.metrics["steps"] == [0, 1, 2]
    np.testing.assert_allclose(kiss.metrics["by_step"]["entropy"], expected.by_step["entropy"], rtol=1e-5)
    np.testing.assert_allclose(kiss.metrics["by_frame"]["peak"], expected.by_frame["peak"], rtol=1e-5)
    # The path is the statistics table's centroid of the step-averaged map, per latent frame.
    stats = batch_stats(batch)
    rows = stats[(stats.video_id == VIDEO) & (stats.word == "kiss") & (stats.step == -1)].sort_values("frame")
    assert kiss.path is not None and [p[2] for p in kiss.path] == [0, 1, 5]  # latent k starts at video frame 4k−3
    np.testing.assert_allclose([p[:2] for p in kiss.path], rows[["centroid_x", "centroid_y"]], atol=0.005)
    # The video's own rows of the table, as write_stats makes them.
    own = pd.read_parquet(folder / "stats.parquet")
    pd.testing.assert_frame_equal(own, stats[stats.video_id == VIDEO].reset_index(drop=True))
    with Image.open(folder / POSTER_FILE) as poster:
        assert poster.format == "JPEG" and poster.size[0] == WIDTH
    assert read_video_assets(batch / "report", VIDEO) == assets


def test_assets_are_made_once_then_again_when_needed(batch: Path) -> None:
    folder = batch / "report" / "maps" / VIDEO
    first = build_video_assets(batch, VIDEO)
    stamps = _stamps(folder)
    assert build_video_assets(batch, VIDEO) == first and _stamps(folder) == stamps  # up to date: nothing written
    source = batch / "attention_maps" / VIDEO / "kiss" / "step_000.npz"
    later = source.stat().st_mtime_ns + 5 * 10**9
    os.utime(source, ns=(later, later))
    second = build_video_assets(batch, VIDEO)
    assert second.key != first.key and _stamps(folder)[ASSETS_FILE] != stamps[ASSETS_FILE]
    assert _stamps(folder)[POSTER_FILE] == stamps[POSTER_FILE]  # the video did not change: its poster is kept
    stamps = _stamps(folder)
    (folder / "kiss.png").write_bytes(b"")  # a file cut short (a power cut before its data reached the disk)
    build_video_assets(batch, VIDEO)
    assert (folder / "kiss.png").stat().st_size == second.files["kiss.png"]
    (folder / ASSETS_FILE).write_text('{"video_id": "prompt_0')  # a torn record
    third = build_video_assets(batch, VIDEO, colormap="viridis")
    assert third.words["kiss"].info is not None and third.words["kiss"].info.colormap == "viridis"


def test_videos_without_maps_or_unfinished(tmp_path: Path) -> None:
    statuses = {"prompt_001_vid_001": "failed", "prompt_001_vid_002": "interrupted"}
    build_batch(tmp_path / "b", prompts=("a (dog)",), videos_per_prompt=2, statuses=statuses)
    failed = build_video_assets(tmp_path / "b", "prompt_001_vid_001")
    assert failed.error == "no maps (failed)" and not failed.words and failed.poster is None
    interrupted = build_video_assets(tmp_path / "b", "prompt_001_vid_002")
    assert not interrupted.complete and interrupted.words["dog"].sprite is not None
    assert interrupted.stats is None and interrupted.stats_error == "the capture did not finish"


@pytest.mark.parametrize("video_id", ["../x", "a/b", ".hidden", ""])
def test_a_video_id_that_is_no_file_name_is_refused(batch: Path, video_id: str) -> None:
    from attention_visual.errors import AttentionDataError

    with pytest.raises(AttentionDataError, match="not a video id"):
        build_video_assets(batch, video_id)
    assert not (batch / "report").exists()


def test_posters_in_bulk_equal_one_by_one(batch: Path, tmp_path: Path) -> None:
    videos = sorted((batch / "videos").rglob("video_*.mp4"))
    one = build_video_assets(batch, VIDEO)
    assert one.poster is not None
    bulk = [(v, tmp_path / "bulk" / f"{n}.jpg") for n, v in enumerate(videos)] + [
        (tmp_path / "missing.mp4", tmp_path / "bulk" / "none.jpg")
    ]
    make_posters(bulk, chunk=1)
    assert (tmp_path / "bulk" / "0.jpg").read_bytes() == (batch / "report" / one.poster).read_bytes()
    assert not (tmp_path / "bulk" / "none.jpg").exists()
    assert json.loads((batch / "report" / "maps" / VIDEO / ASSETS_FILE).read_text())["poster"] == one.poster

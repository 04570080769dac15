"""The statistics and pair tables of synthetic batches, the ``stats`` command, and streaming memory."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attention_visual.analysis import PAIR_COLUMNS, STATS_COLUMNS, batch_stats, pair_stats, write_stats
from attention_visual.analysis.measures import PixelGeometry, map_measures
from attention_visual.cli.main import main
from support.synthetic import GRID, random_batch, save_video

VID = "prompt_001_vid_001"


def test_rows_columns_and_labels(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=2, steps=3)
    df = batch_stats(tmp_path)
    assert tuple(df.columns) == STATS_COLUMNS
    assert len(df) == 2 * 2 * (3 + 1) * GRID[0]  # videos × words × (steps + average) × frames
    first = df[(df.video_id == VID) & (df.word == "red car")]
    assert sorted(first.step.unique()) == [-1, 0, 1, 2]
    assert first[first.step == 1].timestep.unique().tolist() == [750.0]
    assert first[first.step == 1].sigma.unique().tolist() == [0.75]
    assert first[first.step == -1].timestep.isna().all()
    assert set(df.seed) == {0, 1}
    assert df.marked_prompt.iloc[0] == "a (dog) a (red car)"
    assert df.expert.isna().all()


def test_values_match_the_stored_maps(tmp_path: Path) -> None:
    one_hot = np.zeros((2, *GRID), np.float32)  # [step, frame, y, x]
    one_hot[0, 2, 1, 3] = 1.0
    one_hot[1] = 0.1
    save_video(tmp_path / "attention_maps", VID, {"dog": one_hot})
    df = batch_stats(tmp_path).set_index(["step", "frame"])
    row = df.loc[(0, 2)]
    assert (row.centroid_y, row.centroid_x, row.spread, row.entropy) == (24.0, 56.0, 0.0, 0.0)
    assert df.loc[(1, 0)].entropy == pytest.approx(1.0)
    average = one_hot.mean(axis=0)  # the stored step average gives the step == -1 rows
    expected = map_measures(average, PixelGeometry(height=32, width=80, ny=2, nx=5))
    for name in ("mass", "entropy", "centroid_x", "spread", "mask_area"):
        np.testing.assert_allclose(df.loc[-1][name].to_numpy(), expected[name], rtol=1e-6)


def test_leading_axes_reduced_like_the_analyzer(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((2, 2, 3, *GRID), dtype=np.float32)  # [step, pass, head, frame, y, x]
    save_video(
        tmp_path / "attention_maps",
        VID,
        {"dog": stack},
        axes=("pass", "head", "frame", "y", "x"),
        passes=("cond", "uncond"),
        guidance_pass="both",
    )
    geometry = PixelGeometry(height=32, width=80, ny=2, nx=5)
    for pass_name, index in (("cond", 0), ("uncond", 1)):
        df = batch_stats(tmp_path, pass_name=pass_name)
        expected = map_measures(stack[:, index].mean(axis=1), geometry)  # [step, frame]
        np.testing.assert_allclose(df[df.step >= 0].entropy.to_numpy(), expected["entropy"].ravel(), rtol=1e-5)


def test_pairs_table(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=2, steps=3, words=("dog", "cat", "red car"))
    pairs = pair_stats(tmp_path)
    assert tuple(pairs.columns) == PAIR_COLUMNS
    assert len(pairs) == 2 * 3 * (3 + 1) * GRID[0]  # videos × pairs × entries × frames
    assert set(zip(pairs.word_a, pairs.word_b, strict=True)) == {("cat", "dog"), ("cat", "red car"), ("dog", "red car")}
    assert pairs.iou.between(0, 1).all() and pairs.pearson.between(-1, 1).all()


def test_manifest_labels(tmp_path: Path) -> None:
    from support.batch import build_batch

    build_batch(tmp_path, videos_per_prompt=2)
    df = batch_stats(tmp_path)
    labels = df.groupby("video_id")[["prompt_index", "video_index"]].first()
    assert labels.loc["prompt_002_vid_001"].tolist() == [2, 1]
    assert labels.loc["prompt_001_vid_002"].tolist() == [1, 2]


def test_incomplete_videos_skipped_unless_asked(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=1)
    rng = np.random.default_rng(0)
    save_video(tmp_path / "attention_maps", "prompt_001_vid_009", {"dog": rng.random((1, *GRID))}, complete=False)
    assert set(batch_stats(tmp_path).video_id) == {VID}
    assert "prompt_001_vid_009" in set(batch_stats(tmp_path, include_incomplete=True).video_id)


def test_cli_writes_parquet_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    random_batch(tmp_path, videos=1)
    assert main(["stats", str(tmp_path)]) == 0
    default = tmp_path / "analysis" / "stats.parquet"
    assert capsys.readouterr().out.strip() == str(default.absolute())
    pd.testing.assert_frame_equal(pd.read_parquet(default), batch_stats(tmp_path))
    assert main(["stats", str(tmp_path), "--output", str(tmp_path / "s.csv"), "--pairs", str(tmp_path / "p.csv")]) == 0
    csv = pd.read_csv(tmp_path / "s.csv")
    assert tuple(csv.columns) == STATS_COLUMNS and len(csv) == len(batch_stats(tmp_path))
    assert tuple(pd.read_csv(tmp_path / "p.csv").columns) == PAIR_COLUMNS


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    random_batch(tmp_path, videos=1)
    assert main(["stats", str(tmp_path), "--output", str(tmp_path / "s.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "must end in .parquet or .csv" in err and err.count("\n") == 1


def _peak_bytes(batch: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        write_stats(batch, output=batch / "s.parquet", pairs=batch / "p.parquet")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_videos(tmp_path: Path) -> None:
    # Maps large enough (Wan's 5 × 30 × 52 latent grid, 4 steps) that a video's working set dominates the
    # peak, not the few KB per video of Parquet row-group metadata; the read-ahead holds one more video.
    grid = (5, 30, 52)
    small = random_batch(tmp_path / "small", videos=5, steps=4, grid=grid)
    large = random_batch(tmp_path / "large", videos=20, steps=4, grid=grid)
    _peak_bytes(small)  # warm caches and lazy imports
    ratio = _peak_bytes(large) / _peak_bytes(small)
    assert ratio < 1.2, ratio

"""open_batch: labelled dims and coordinates, values equal to the stored maps, lazy reading, packed too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attention_visual.analysis import open_batch, pack_batch
from attention_visual.errors import AttentionDataError
from attention_visual.storage import read_array
from support.synthetic import GRID, random_batch, random_maps, save_video

VID = "prompt_001_vid_001"


@pytest.mark.parametrize("packed", [False, True])
def test_dims_coords_and_values(tmp_path: Path, packed: bool) -> None:
    random_batch(tmp_path, videos=2, steps=3)
    rng = np.random.default_rng(9)
    save_video(tmp_path / "attention_maps", "prompt_002_vid_001", {"cat": random_maps(rng, 2, GRID)}, seed=5)
    expected = read_array(tmp_path / "attention_maps" / VID / "dog" / "step_002.npz")
    if packed:
        pack_batch(tmp_path)
    ds = open_batch(tmp_path)
    assert ds.attention.dims == ("video", "word", "step", "frame", "y", "x")
    assert ds.attention.shape == (3, 3, 3, *GRID)
    assert ds.word.values.tolist() == ["cat", "dog", "red car"]
    assert ds.seed.values.tolist() == [0, 1, 5]
    assert ds.y_px.values.tolist() == [8.0, 24.0] and ds.x_px.values.tolist() == [8.0, 24.0, 40.0, 56.0, 72.0]
    assert ds.timestep.sel(video=VID).values.tolist() == [1000.0, 750.0, 500.0]
    assert np.isnan(ds.timestep.sel(video="prompt_002_vid_001", step=2))  # that video stored two steps
    np.testing.assert_array_equal(ds.attention.sel(video=VID, word="dog", step=2).values, expected)
    assert np.isnan(ds.attention.sel(video=VID, word="cat").values).all()  # a word the video does not have
    agg = ds.aggregated.sel(video="prompt_002_vid_001", word="cat").values
    assert agg.shape == GRID and np.isfinite(agg).all()


def test_leading_axes_become_dims(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    stack = random_maps(rng, 2, (2, 3, *GRID))  # [step, pass, head, frame, y, x]
    save_video(
        tmp_path / "attention_maps", VID, {"dog": stack}, axes=("pass", "head", "frame", "y", "x"),
        passes=("cond", "uncond"), guidance_pass="both",
    )  # fmt: skip
    ds = open_batch(tmp_path)
    assert ds.attention.dims == ("video", "word", "step", "pass", "head", "frame", "y", "x")
    assert ds["pass"].values.tolist() == ["cond", "uncond"] and ds["head"].values.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(ds.attention.sel(video=VID, word="dog", step=1, **{"pass": "uncond"}), stack[1, 1])


def test_reading_is_lazy(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=2, steps=2)
    ds = open_batch(tmp_path)  # metadata only
    (tmp_path / "attention_maps" / VID / "dog" / "step_001.npz").write_bytes(b"broken")
    assert np.isfinite(ds.attention.sel(video="prompt_001_vid_002").values).all()  # other files: fine
    with pytest.raises(AttentionDataError, match=r"step_001\.npz"):
        ds.attention.sel(video=VID, word="dog").compute()


def test_different_grids_are_refused(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=1)
    rng = np.random.default_rng(0)
    save_video(tmp_path / "attention_maps", "prompt_002_vid_001", {"cat": random_maps(rng, 1, (3, 1, 5))})
    with pytest.raises(AttentionDataError, match="one grid per batch"):
        open_batch(tmp_path)


def test_word_averages_seed_and_packed(tmp_path: Path) -> None:
    from attention_visual.analysis import word_averages

    random_batch(tmp_path, videos=3, steps=2)
    seed = word_averages(tmp_path, "red car")
    assert seed.dims == ("video", "frame", "y", "x") and seed.seed.values.tolist() == [0, 1, 2]
    stored = read_array(next((tmp_path / "attention_maps" / "prompt_001_vid_002" / "aggregated").glob("red_car*.npz")))
    np.testing.assert_array_equal(seed.sel(video="prompt_001_vid_002").values, stored)
    pack_batch(tmp_path)
    assert word_averages(tmp_path, "red car").identical(seed)
    with pytest.raises(KeyError, match="no step-averaged map of word 'cat'"):
        word_averages(tmp_path, "cat")

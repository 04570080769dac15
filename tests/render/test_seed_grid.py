"""The seed grid's panels: shown seeds, then the mean and std of every seed, scaled for the colormap."""

from __future__ import annotations

import numpy as np
import pytest

from attention_visual.errors import RenderError
from attention_visual.render.options import RenderOptions
from attention_visual.render.seed_grid import seed_grid_video, seed_panels


def test_mean_and_std_cover_every_seed_even_when_fewer_are_shown() -> None:
    tiles = np.zeros((2, 4, 2, 3), np.float32)  # [row, seed, y, x]: non-square
    tiles[:, :, 0, 0] = [1.0, 2.0, 3.0, 6.0]  # one cell differs between the seeds
    got = seed_panels(tiles, "global", shown=2)
    assert got.panels.shape == (2, 2 + 2, 2, 3)  # seeds 0 and 1, the mean, the std
    assert (got.norm.vmin, got.norm.vmax) == (0.0, 3.0)  # seeds shown and the mean (3.0) share the range
    np.testing.assert_allclose(got.panels[0, :3, 0, 0], [1 / 3, 2 / 3, 1.0])
    assert got.std_max == pytest.approx(np.std([1.0, 2.0, 3.0, 6.0]))
    np.testing.assert_allclose(got.panels[:, 3, 0, 0], 1.0)  # the std's own range: 0 .. its maximum
    assert seed_panels(tiles, "global").panels.shape[1] == 4 + 2


def test_identical_seeds_have_a_flat_std_and_bad_modes_are_refused() -> None:
    tiles = np.ones((1, 3, 2, 3), np.float32)
    got = seed_panels(tiles, "per_step")
    assert got.std_max == 0.0 and not got.panels[:, -1].any()
    with pytest.raises(RenderError):
        seed_panels(tiles, "loudest")


def test_the_video_has_one_panel_per_column_and_one_frame_per_row() -> None:
    tiles = np.random.default_rng(0).random((3, 2, 2, 3), dtype=np.float32)
    panels = seed_panels(tiles, "global")
    options = RenderOptions(figsize=(5.0, 2.0), dpi=40, interpolation_steps=0)
    video = seed_grid_video(panels, ["a", "b", "mean of 2", "std"], ["s1", "s2", "avg"], 80 / 32, options)
    assert len(video.canvas.panels) == 4 and video.num_frames == 3
    assert len(list(video.frames())) == 3

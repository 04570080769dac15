"""The notebook figures of one map (what ``capture.word_maps().plot/overlay`` draw), from synthetic maps."""

from __future__ import annotations

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError, NotFoundError, RenderError
from attention_visual.visualization.map_figures import InlineFigure, map_figure, overlay_figure
from support.maps import FRAMES, HEIGHT, WIDTH, metadata, word_map


def test_the_map_is_averaged_over_the_videos_frames_or_shown_at_one_latent_frame() -> None:
    grid = word_map("kiss", step=3)  # [frame, y, x]: hot spot at (0, 0) of latent frame 2 only
    fig = map_figure(grid, metadata("kiss", 3), "kiss", step=3)
    assert isinstance(fig, InlineFigure) and fig._repr_png_().startswith(b"\x89PNG")
    shown = np.asarray(fig.axes[0].images[0].get_array())  # [y, x]
    weights = np.array([1.0, 4, 4, 4, 4]) / 17  # latent 0 → 1 video frame, then 4 each
    np.testing.assert_allclose(shown, np.tensordot(weights, grid, axes=([0], [0])), rtol=1e-6)
    assert fig.axes[0].get_title() == "“kiss” — step 4 / 4, mean over the video's frames"
    last = map_figure(grid, metadata("kiss", None), "kiss", frame=-1)
    np.testing.assert_array_equal(np.asarray(last.axes[0].images[0].get_array()), grid[4])
    assert last.axes[0].get_title() == "“kiss” — mean of the captured steps, latent frame 4"
    with pytest.raises(NotFoundError, match=r"no latent frame 5; the map has frames 0..4"):
        map_figure(grid, metadata("kiss", 3), "kiss", frame=5)
    with pytest.raises(AttentionDataError, match="the map has 4"):  # a mapping that does not fit: no silent mean
        map_figure(grid[:4], metadata("kiss", 3), "kiss")


def test_each_video_frame_is_under_the_latent_frame_that_produced_it() -> None:
    grid = word_map("flowers", step=1)
    video = np.random.default_rng(0).random((FRAMES, HEIGHT, WIDTH, 3))  # [frame, H, W, 3] in [0, 1]
    fig = overlay_figure(video, grid, metadata("flowers", 1), "flowers", step=1, show=[0, 4, 5, 16])
    assert [ax.get_title() for ax in fig.axes] == [
        "frame 0 (latent 0)", "frame 4 (latent 1)", "frame 5 (latent 2)", "frame 16 (latent 4)"
    ]  # fmt: skip
    np.testing.assert_array_equal(np.asarray(fig.axes[2].images[0].get_array()), video[5])
    np.testing.assert_array_equal(np.asarray(fig.axes[2].images[1].get_array()), grid[2])
    assert len(overlay_figure(video, grid, metadata("flowers", 1), "flowers", show=3).axes) == 3
    with pytest.raises(RenderError, match=f"with {FRAMES} frames"):
        overlay_figure(video[:3], grid, metadata("flowers", 1), "flowers")
    with pytest.raises(RenderError, match="alpha"):
        overlay_figure(video, grid, metadata("flowers", 1), "flowers", alpha=2.0)
    with pytest.raises(RenderError, match="show must name video frames"):
        overlay_figure(video, grid, metadata("flowers", 1), "flowers", show=[FRAMES])

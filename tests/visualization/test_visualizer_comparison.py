"""The temporal comparison figure and its statistics."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from attention_visual.errors import NotFoundError, RenderError
from attention_visual.visualization.attention_visualizer import AttentionVisualizer
from attention_visual.visualization.comparison import snapshot_positions, spatial_stats, temporal_metrics
from support.maps import GRID, NUM_STEPS, VIDEO_ID


def test_spatial_stats_of_known_maps() -> None:
    maps = np.zeros((3, 3, 4), np.float32)  # [map, y, x]
    maps[0, 1, 2] = 2.0  # one hot token
    maps[1] = 0.5  # uniform
    stats = spatial_stats(maps)
    assert stats["entropy"][0] == pytest.approx(0.0)
    assert stats["entropy"][1] == pytest.approx(1.0)
    assert np.isnan(stats["entropy"][2])  # all zero: no distribution
    assert stats["peak"][0] == 2.0 and stats["mass"][0] == pytest.approx(2.0 / 12)


def test_temporal_metrics_follow_steps_and_frames() -> None:
    stack = np.zeros((2, 3, 2, 2), np.float32)  # [step, frame, y, x]
    stack[0, 1, 0, 0] = 1.0
    stack[1, 1, 0, 0] = 3.0
    m = temporal_metrics(stack, np.array([1, 4, 4]), steps=[1, 2])
    assert list(m.steps) == [1, 2]
    assert m.by_step["peak"][1] == pytest.approx(3.0 * 4 / 9)  # frame 1 owns 4 of 9 video frames
    assert list(m.by_frame["peak"]) == pytest.approx([0.0, 2.0, 0.0])


def test_snapshot_positions() -> None:
    assert snapshot_positions(50, 4) == [0, 16, 33, 49]
    assert snapshot_positions(3, 4) == [0, 1, 2]


def test_comparison_png_has_the_expected_panels(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    out = tmp_path / "temporal.png"
    fig = visualizer.generate_temporal_comparison(VIDEO_ID, ["kiss", "flowers"], out, snapshots=3)
    titles = [ax.get_title() for ax in fig.axes]
    for metric in ("attention mass", "peak attention", "spatial entropy"):
        for axis in ("steps", "frames"):
            assert sum(metric in t and t.endswith(axis) for t in titles) == 1, (metric, axis)
    snapshots = [t for t in titles if "· step" in t]
    assert snapshots == [f"“{word}” · step {step}" for word in ("kiss", "flowers") for step in (1, 3, 4)]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["kiss", "flowers"]
    assert list(lines[0].get_xdata()) == list(range(1, NUM_STEPS + 1))
    frame_axes = next(ax for ax in fig.axes if ax.get_title().startswith("peak attention across frames"))
    kiss_by_frame = frame_axes.get_lines()[0].get_ydata()
    assert len(kiss_by_frame) == GRID[0] and int(np.argmax(kiss_by_frame)) == 2  # kiss peaks in latent frame 2
    image = iio.imread(out)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert [p.name for p in tmp_path.iterdir() if p.name != "attention_maps"] == ["temporal.png"]


def test_comparison_errors(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="available words: flowers, kiss"):
        visualizer.generate_temporal_comparison(VIDEO_ID, ["kiss", "dog"], tmp_path / "t.png")
    with pytest.raises(RenderError, match=r"cannot save a figure as t\.xyz"):
        visualizer.generate_temporal_comparison(VIDEO_ID, ["kiss"], tmp_path / "t.xyz")
    with pytest.raises(RenderError, match="at least one word"):
        visualizer.generate_temporal_comparison(VIDEO_ID, [])
    assert not (tmp_path / "t.png").exists()

"""The temporal comparison figure and its statistics."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from matplotlib.figure import Figure

from attention_visual.analysis.table import batch_stats
from attention_visual.errors import NotFoundError, RenderError
from attention_visual.measures import LABELS
from attention_visual.visualization.attention_visualizer import AttentionVisualizer
from attention_visual.visualization.comparison import snapshot_positions, temporal_metrics
from support.maps import GRID, NUM_STEPS, SCENE, VIDEO_ID, write_store
from support.synthetic import save_video


def test_temporal_metrics_follow_steps_and_frames() -> None:
    stack = np.zeros((2, 3, 2, 2), np.float32)  # [step, frame, y, x]
    stack[0, 1, 0, 0] = 1.0
    stack[1, 1, 0, 0] = 3.0
    m = temporal_metrics(stack, np.array([1, 4, 4]), steps=[0, 1])
    assert list(m.steps) == [0, 1]
    assert m.by_step["peak"][1] == pytest.approx(3.0 * 4 / 9)  # frame 1 owns 4 of 9 video frames
    assert list(m.by_frame["peak"]) == pytest.approx([0.0, 2.0, 0.0])
    assert m.by_step["mass"][1] == pytest.approx(3.0 * 4 / 9)  # mass: the sum of the map, not its mean
    assert list(m.by_frame["entropy"]) == [1.0, 0.0, 1.0]  # the empty frames: the limit of a constant map


def _plotted(fig: Figure, measure: str, across: str) -> dict[str, np.ndarray]:
    """``{word: y values}`` of the comparison panel of ``measure`` across ``steps`` or ``frames``."""
    ax = next(a for a in fig.axes if a.get_title() == f"{LABELS[measure]} across {across}")
    return {str(line.get_label()): np.asarray(line.get_ydata()) for line in ax.get_lines()}


def test_the_comparison_plot_and_stats_give_the_same_measures(tmp_path: Path) -> None:
    """The numbers the per-video plot draws are the ``stats`` table's for the same maps, an empty map included."""
    root = write_store(tmp_path / "attention_maps")  # kiss, flowers: 5 latent frames; stored average = step mean
    one_frame, other = (1, 3, 4), "prompt_002_vid_001"  # one latent frame: each step's frame average is a row
    rng = np.random.default_rng(5)
    maps = [rng.random(one_frame, dtype=np.float32) ** 3 for _ in range(NUM_STEPS)]
    maps[1][:] = 0.0  # an all-zero map
    save_video(root, other, {"dog": np.stack(maps)}, **SCENE)  # [step, frame, y, x]
    stats = batch_stats(root)
    viz = AttentionVisualizer(root, dpi=30)

    fig = viz.generate_temporal_comparison(other, ["dog"], snapshots=2)
    rows = stats[(stats.video_id == other) & (stats.step >= 0)].sort_values("step")
    for measure in ("mass", "peak", "entropy"):
        np.testing.assert_allclose(_plotted(fig, measure, "steps")["dog"], rows[measure], rtol=1e-6, err_msg=measure)
    assert rows.entropy.iloc[1] == 1.0 and rows["mass"].iloc[1] == 0.0

    fig = viz.generate_temporal_comparison(VIDEO_ID, ["kiss", "flowers"], snapshots=2)
    for word in ("kiss", "flowers"):
        average = stats[(stats.video_id == VIDEO_ID) & (stats.word == word) & (stats.step == -1)].sort_values("frame")
        for measure in ("mass", "peak", "entropy"):
            plotted = _plotted(fig, measure, "frames")[word]
            np.testing.assert_allclose(plotted, average[measure], rtol=1e-6, err_msg=f"{word} {measure}")


def test_snapshot_positions() -> None:
    assert snapshot_positions(50, 4) == [0, 16, 33, 49]
    assert snapshot_positions(3, 4) == [0, 1, 2]


def test_comparison_png_has_the_expected_panels(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    out = tmp_path / "temporal.png"
    fig = visualizer.generate_temporal_comparison(VIDEO_ID, ["kiss", "flowers"], out, snapshots=3)
    titles = [ax.get_title() for ax in fig.axes]
    for metric in ("mass (sum of the map)", "peak (largest cell)", "entropy (0 one cell, 1 uniform)"):
        for axis in ("steps", "frames"):
            assert sum(t == f"{metric} across {axis}" for t in titles) == 1, (metric, axis)
    snapshots = [t for t in titles if "· step" in t]
    assert snapshots == [f"“{word}” · step {step}" for word in ("kiss", "flowers") for step in (1, 3, 4)]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["kiss", "flowers"]
    assert list(lines[0].get_xdata()) == list(range(1, NUM_STEPS + 1))
    frame_axes = next(ax for ax in fig.axes if ax.get_title() == f"{LABELS['peak']} across frames")
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

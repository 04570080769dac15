"""AttentionVisualizer videos, decoded and checked: frame count, fps, size, codec, content."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError, NotFoundError, RenderError
from attention_visual.render.canvas import Canvas
from attention_visual.render.strip import display_size
from attention_visual.storage.schema.frames import FrameRule, video_frames_of_latent
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.attention_visualizer import AttentionVisualizer
from support.maps import (
    FPS,
    FRAMES,
    GRID,
    HEIGHT,
    HOT_FRAME,
    NUM_STEPS,
    VIDEO_ID,
    WIDTH,
    decode,
    frame_colour,
    write_store,
    write_video,
)


def test_step_video_has_one_frame_per_step_plus_blends(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    path = visualizer.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "steps.mp4", interpolation_steps=3)
    frames, meta = decode(path)
    assert len(frames) == NUM_STEPS + (NUM_STEPS - 1) * 3
    assert tuple(meta["size"]) == (200, 150)  # type: ignore[arg-type]  # figsize 4x3 at dpi 50
    assert float(meta["fps"]) == 5.0  # type: ignore[arg-type]
    assert str(meta["codec"]).startswith("h264")
    # The title changes with the step: step 1 and step 2 differ in the title band, blends in between.
    title = [f[:20].astype(int) for f in frames]
    assert np.abs(title[0] - title[4]).mean() > 3 * np.abs(title[0] - title[1]).mean()  # blend 1 shows "step 1"
    assert np.abs(title[0] - title[4]).max() > 100


def test_step_video_brightens_with_the_steps(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    path = visualizer.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "s.mp4", interpolation_steps=1)
    frames, _ = decode(path)
    canvas = visualizer.prepare_video(VIDEO_ID, "kiss").canvas  # type: ignore[attr-defined]
    box = canvas.panels[0]
    top_left = [f[box.y : box.y + 4, box.x : box.x + 4].astype(int).sum() for f in frames]
    assert top_left == sorted(top_left) and top_left[-1] > top_left[0]
    bottom_right = frames[-1][box.y + box.height - 4 : box.y + box.height, box.x + box.width - 4 : box.x + box.width]
    assert bottom_right.max() < 60  # the hot spot stays top-left, not transposed or flipped


def test_timestamp_and_colorbar_are_drawn(viz_store: Path, tmp_path: Path) -> None:
    plain = AttentionVisualizer(viz_store, figsize=(4, 3), dpi=50, include_colorbar=False)
    fancy = AttentionVisualizer(viz_store, figsize=(4, 3), dpi=50, include_colorbar=True)
    a, _ = decode(plain.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "a.mp4"))
    b, _ = decode(fancy.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "b.mp4", include_timestamp=True))
    source = fancy.prepare_video(VIDEO_ID, "kiss", include_timestamp=True)
    progress = source.canvas.progress  # type: ignore[attr-defined]
    assert progress is not None
    bar = [f[progress.y + progress.height // 2, progress.x : progress.x + progress.width, 0] for f in b]
    filled = [int((row < 140).sum()) for row in bar]  # the blue fill (red 60; track 215) grows with progress
    assert filled == sorted(filled) and filled[-1] > filled[0]
    # the colorbar: coloured (saturated) pixels right of the heatmap only when asked for
    for frames, viz, wanted in ((a, plain, False), (b, fancy, True)):
        box = viz.prepare_video(VIDEO_ID, "kiss").canvas.panels[0]  # type: ignore[attr-defined]
        right = frames[0][box.y : box.y + box.height, box.x + box.width + 2 :].astype(int)
        saturated = (right.max(axis=-1) - right.min(axis=-1) > 80).sum()
        assert (saturated > 20) == wanted


def test_tiled_and_single_frame_modes(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    tiled = visualizer.prepare_video(VIDEO_ID, "kiss", frame="tile")
    assert len(tiled.canvas.panels) == GRID[0]  # type: ignore[attr-defined]
    frames, _ = decode(visualizer.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "f2.mp4", frame=HOT_FRAME))
    other, _ = decode(visualizer.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "f1.mp4", frame=1))
    box = visualizer.prepare_video(VIDEO_ID, "kiss", frame=1).canvas.panels[0]  # type: ignore[attr-defined]
    corner = (box.y + 2, box.x + 2)
    far = (box.y + box.height - 3, box.x + box.width - 3)
    assert frames[-1][corner].min() > 200 and frames[-1][far].max() < 60  # the hot spot, top-left
    # latent frame 1 is a constant map: drawn flat (middle of the colormap), not stretched into noise
    assert np.abs(other[-1][corner].astype(int) - other[-1][far].astype(int)).max() < 12
    assert 60 < int(other[-1][corner][1]) < 120  # "hot" at 0.5 is orange (255, 88, 0)
    with pytest.raises(RenderError, match="latent frame 9 does not exist; this map has frames 0–4"):
        visualizer.prepare_video(VIDEO_ID, "kiss", frame=9)


def test_overlay_hot_spot_is_top_left_in_exactly_the_frames_of_its_latent_frame(
    viz_store: Path, viz_video: Path, tmp_path: Path
) -> None:
    viz = AttentionVisualizer(viz_store, include_colorbar=False, overlay_alpha=0.6)
    path = viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "overlay.mp4", original_video_path=viz_video)
    frames, meta = decode(path)
    assert tuple(meta["size"]) == display_size(WIDTH, HEIGHT) == (640, 480)  # type: ignore[arg-type]  # scaled up 10x
    assert len(frames) == FRAMES
    assert float(meta["fps"]) == FPS and str(meta["codec"]).startswith("h264")  # type: ignore[arg-type]
    owned = set(video_frames_of_latent(HOT_FRAME, FrameRule(4)))
    assert owned == {5, 6, 7, 8}
    for n, frame in enumerate(frames):
        top_left = frame[:6, :6].astype(int).mean(axis=(0, 1))  # RGB
        bottom_right = frame[-12:, -12:].astype(int).mean(axis=(0, 1))
        if n in owned:
            assert top_left.min() > 130, n  # hot colormap at 1 = white, at alpha 0.6
        else:
            assert top_left[0] < 40, n
        assert bottom_right[0] < 40, n
        # the video underneath plays in order: its green channel encodes the frame number
        expected_green = 0.4 * frame_colour(n)[1]
        assert abs(bottom_right[1] - expected_green) < 12, n


def test_overlay_from_one_step_and_side_by_side(viz_store: Path, viz_video: Path, tmp_path: Path) -> None:
    viz = AttentionVisualizer(viz_store, include_colorbar=True)
    path = viz.generate_attention_video(
        VIDEO_ID, "kiss", tmp_path / "sbs.mp4", original_video_path=viz_video, step=0, layout="side_by_side",
        include_timestamp=True,
    )  # fmt: skip
    frames, meta = decode(path)
    width, height = meta["size"]  # type: ignore[misc]
    assert len(frames) == FRAMES and width > 3 * WIDTH and height >= HEIGHT
    source = viz.prepare_video(VIDEO_ID, "kiss", viz_video, step=0, layout="side_by_side")
    canvas: Canvas = source.canvas  # type: ignore[attr-defined]
    video_box, heat_box, _ = canvas.panels
    frame = frames[6]  # owned by the hot latent frame
    assert (heat_box.width, heat_box.height) == display_size(WIDTH, HEIGHT)
    # step 0's hot spot is weaker than the last step's, but global normalisation makes it the peak (white)
    assert frame[heat_box.y + 2, heat_box.x + 2].min() > 200
    assert frame[heat_box.bottom - 3, heat_box.right - 3, 0] < 60
    assert abs(int(frame[video_box.y + 30, video_box.x + 30, 2]) - frame_colour(6)[2]) < 12  # raw video panel
    with pytest.raises(NotFoundError, match="available steps: 0, 1, 2, 3"):
        viz.prepare_video(VIDEO_ID, "kiss", viz_video, step=7)


def test_small_overlay_is_scaled_up_with_the_title_above_and_the_colorbar_beside(
    viz_store: Path, viz_video: Path, tmp_path: Path
) -> None:
    viz = AttentionVisualizer(viz_store, include_colorbar=True)
    path = viz.generate_attention_video(
        VIDEO_ID, "kiss", tmp_path / "o.mp4", original_video_path=viz_video, include_timestamp=True
    )
    frames, meta = decode(path)
    canvas = viz.prepare_video(VIDEO_ID, "kiss", viz_video, include_timestamp=True).canvas  # type: ignore[attr-defined]
    assert tuple(meta["size"]) == (canvas.width, canvas.height)  # type: ignore[arg-type]
    frame = frames[6].astype(int)  # [H, W, 3], owned by the hot latent frame
    ink = (255 - frame).max(axis=-1) > 100  # [H, W]: not the white background
    panel = canvas.panels[0]
    assert (panel.width, panel.height) == (640, 480)  # the 64x48 video, 10x: readable next to 9 pt text
    # the title is written above the video, across its width, and nowhere else above it
    above = ink[: panel.y]
    assert above[:, panel.x : panel.right].sum() > 100
    assert not above[:, panel.right + 2 :].any()
    # the colorbar column (bar, tick values, label) is right of the video, below the title's rows
    column = ink[:, panel.right + 2 :]
    rows = np.flatnonzero(column.any(axis=1))
    assert rows.size and rows.min() >= panel.y - 2 and rows.max() <= panel.bottom + 2
    title_rows = np.flatnonzero(ink[canvas.regions["title"].slices].any(axis=1)) + canvas.regions["title"].y
    assert title_rows.max() < rows.min()
    # the timestamp is on its own line below the video, and changes with the frame
    footer = canvas.footer
    assert footer is not None and footer.y >= panel.bottom
    assert ink[footer.slices].sum() > 50
    assert np.abs(frames[6][footer.slices].astype(int) - frames[0][footer.slices].astype(int)).max() > 100
    # the video shows through undisturbed where the map is cold: no text over it
    assert frame[panel.bottom - 8 : panel.bottom, panel.x : panel.x + 200].max() < 130


def test_mismatched_original_video_is_resampled_with_a_warning(
    viz_store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = write_video(tmp_path / "small.mp4", frames=9, width=32, height=24, fps=4)
    viz = AttentionVisualizer(viz_store, include_colorbar=False)
    with caplog.at_level(logging.WARNING):
        path = viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "o.mp4", original_video_path=small)
    assert "resampling" in caplog.text
    frames, meta = decode(path)
    assert len(frames) == FRAMES and tuple(meta["size"]) == display_size(WIDTH, HEIGHT)  # type: ignore[arg-type]


def test_unreadable_original_video_is_a_clear_error(viz_store: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    viz = AttentionVisualizer(viz_store)
    with pytest.raises(RenderError, match="cannot read original video"):
        viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "o.mp4", original_video_path=junk)
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(RenderError, match="would overwrite the original video"):
        viz.generate_attention_video(VIDEO_ID, "kiss", junk, original_video_path=junk)


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "h264"), ("avi", "mjpeg"), ("gif", "gif")])
def test_aggregated_video_holds_the_average(
    visualizer: AttentionVisualizer, tmp_path: Path, suffix: str, codec: str
) -> None:
    visualizer.options = visualizer.options.replace(static_duration=2.0, fps=4)
    path = visualizer.generate_attention_video(VIDEO_ID, "kiss", tmp_path / f"agg.{suffix}", use_aggregated=True)
    frames, meta = decode(path)
    assert len(frames) == 8 and str(meta["codec"]).startswith(codec)
    assert float(meta["fps"]) == pytest.approx(4.0, rel=0.05)  # type: ignore[arg-type]
    assert tuple(meta["size"]) == (200, 150)  # type: ignore[arg-type]
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() < 2  # held still


def test_aggregated_overlay_and_missing_aggregate_falls_back_to_steps(tmp_path: Path, viz_video: Path) -> None:
    root = write_store(tmp_path / "maps", aggregated=False)
    viz = AttentionVisualizer(root, include_colorbar=False)
    averaged = viz.generate_aggregated_attention_map(VIDEO_ID, "kiss")
    assert averaged.shape == GRID
    assert averaged[HOT_FRAME, 0, 0] == pytest.approx(np.mean([(s + 1) / NUM_STEPS for s in range(NUM_STEPS)]))
    assert viz.generate_aggregated_attention_map(VIDEO_ID, "kiss", aggregate_steps=False).shape == (NUM_STEPS, *GRID)
    source = viz.prepare_video(VIDEO_ID, "kiss", viz_video, use_aggregated=True)
    assert source.canvas.image.shape[:2] == (480, 640)  # type: ignore[attr-defined]  # no colorbar panel
    _, meta = viz._averaged(VIDEO_ID, "kiss")
    assert meta.steps_used == tuple(range(NUM_STEPS)) and meta.step_index is None
    path = viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "a.mp4", viz_video, use_aggregated=True)
    frames, _ = decode(path)
    assert len(frames) == FRAMES and frames[6][:4, :4].min() > 130


def test_stored_aggregate_is_preferred(viz_store: Path) -> None:
    viz = AttentionVisualizer(viz_store)
    stored = viz.analyzer.grid(viz.analyzer.load_aggregated(VIDEO_ID, "flowers"))
    assert np.array_equal(viz.generate_aggregated_attention_map(VIDEO_ID, "flowers"), stored)


def test_bad_requests_fail_before_touching_the_output(visualizer: AttentionVisualizer, tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(NotFoundError, match="available words: flowers, kiss"):
        visualizer.generate_attention_video(VIDEO_ID, "dog", out)
    with pytest.raises(NotFoundError, match="available videos: prompt_001_vid_001"):
        visualizer.generate_attention_video("prompt_009_vid_001", "kiss", out)
    with pytest.raises(RenderError, match="overlay_alpha"):
        visualizer.generate_attention_video(VIDEO_ID, "kiss", out, overlay_alpha=2.0)
    with pytest.raises(RenderError, match=r"suffix \.mp4 but the video format is 'gif'"):
        visualizer.generate_attention_video(VIDEO_ID, "kiss", out, video_format="gif")
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["keep.mp4", "attention_maps"])


def test_corrupted_map_is_a_data_error(viz_store: Path, tmp_path: Path) -> None:
    step_file = next((viz_store / VIDEO_ID / "kiss").glob("step_001.npz"))
    step_file.write_bytes(step_file.read_bytes()[:40])
    viz = AttentionVisualizer(AttentionAnalyzer(viz_store))
    with pytest.raises(AttentionDataError, match=r"step_001\.npz"):
        viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_constructor_arguments_mirror_the_config(viz_store: Path) -> None:
    from attention_visual.config.schema import VisualizationParams

    params = VisualizationParams()
    viz = AttentionVisualizer.from_params(viz_store, params)
    for key, value in params.to_dict().items():
        got = getattr(viz.options, key)
        assert (list(got) if isinstance(got, tuple) else got) == (list(value) if isinstance(value, tuple) else value)
    with pytest.raises(RenderError, match="unknown colormap"):
        AttentionVisualizer(viz_store, colormap="hott")


def test_matplotlib_draws_once_per_distinct_text_not_per_frame(
    visualizer: AttentionVisualizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    draws = []
    original = FigureCanvasAgg.draw

    def counting_draw(self: FigureCanvasAgg) -> None:
        draws.append(1)
        original(self)

    monkeypatch.setattr(FigureCanvasAgg, "draw", counting_draw)
    path = visualizer.generate_attention_video(
        VIDEO_ID, "kiss", tmp_path / "s.mp4", interpolation_steps=6, include_timestamp=True
    )
    frames, _ = decode(path)
    assert len(frames) == NUM_STEPS + (NUM_STEPS - 1) * 6 == 22
    assert len(draws) <= 1 + 2 * NUM_STEPS  # the canvas, then one title and one footer per step


def test_per_step_normalisation_makes_every_step_peak(viz_store: Path, tmp_path: Path) -> None:
    viz = AttentionVisualizer(viz_store, figsize=(4, 3), dpi=50, normalization="per_step")
    frames, _ = decode(viz.generate_attention_video(VIDEO_ID, "kiss", tmp_path / "p.mp4", interpolation_steps=0))
    box = viz.prepare_video(VIDEO_ID, "kiss").canvas.panels[0]  # type: ignore[attr-defined]
    corners = [int(f[box.y + 1, box.x + 1].astype(int).sum()) for f in frames]
    assert min(corners) > 600  # step 1's weak hot spot is as bright as step 4's: each step spans 0..1

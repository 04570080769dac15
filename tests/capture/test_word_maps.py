"""``capture.word_maps()``: still ``{word: ndarray}``, with the store's metadata, figures and in-memory videos."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from attention_visual.capture import AttentionCapture, CapturedMaps
from attention_visual.errors import NotFoundError, RenderError
from attention_visual.models import TINY_DEFAULTS
from attention_visual.visualization import AttentionAnalyzer, AttentionVisualizer

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
GRID = TINY_DEFAULTS.latent_grid  # (3, 2, 3): [frame, y, x], non-square


@pytest.fixture(scope="module")
def captured(tiny_pipe: Any) -> tuple[AttentionCapture, np.ndarray]:
    """A finished capture on the tiny model and its ``[frame, H, W, 3]`` video in [0, 1]."""
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=TINY_DEFAULTS.max_sequence_length) as cap:
        out = tiny_pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0),
                        **TINY_DEFAULTS.call_kwargs(), output_type="np")  # fmt: skip
    return cap, np.asarray(out.frames[0])


def test_word_maps_is_still_a_dict_of_arrays(captured: tuple[AttentionCapture, np.ndarray]) -> None:
    cap, _ = captured
    maps = cap.word_maps()
    assert isinstance(maps, dict) and isinstance(maps, CapturedMaps)
    assert list(maps) == ["kiss", "flowers"]
    steps = TINY_DEFAULTS.call_kwargs()["num_inference_steps"]
    assert maps["kiss"].shape == (steps, *GRID)  # [step, frame, y, x]
    assert [m.step_index for m in maps.metadata["kiss"]] == list(range(steps))
    np.testing.assert_array_equal(maps.grid("kiss", step=1), maps["kiss"][1])
    np.testing.assert_allclose(maps.grid("kiss"), maps["kiss"].mean(axis=0), rtol=1e-6)


def test_metadata_is_what_save_writes(captured: tuple[AttentionCapture, np.ndarray], tmp_path: Path) -> None:
    cap, _ = captured
    maps = cap.word_maps(video_id="v1", seed=3)
    cap.save(tmp_path, video_id="v1", seed=3)
    stored = AttentionAnalyzer(tmp_path).load_step("v1", "flowers", 1).metadata
    mine = maps.metadata["flowers"][1]
    assert dataclasses.replace(mine, storage_timestamp="") == dataclasses.replace(stored, storage_timestamp="")


def test_plot_shows_the_frame_weighted_map(captured: tuple[AttentionCapture, np.ndarray]) -> None:
    cap, _ = captured
    maps = cap.word_maps()
    fig = maps.plot("kiss", step=0)
    assert isinstance(fig, Figure)
    shown = np.asarray(fig.axes[0].images[0].get_array())  # [y, x]
    weights = np.array([1.0, 4.0, 4.0])  # Wan: latent 0 → 1 video frame, then 4 each
    expected = np.tensordot(weights / weights.sum(), maps["kiss"][0], axes=([0], [0]))
    np.testing.assert_allclose(shown, expected, rtol=1e-5)
    one = maps.plot("flowers", frame=2)
    np.testing.assert_allclose(np.asarray(one.axes[0].images[0].get_array()), maps.grid("flowers")[2], rtol=1e-6)
    with pytest.raises(NotFoundError, match="captured steps"):
        maps.plot("kiss", step=99)
    with pytest.raises(NotFoundError, match="captured words: kiss, flowers"):
        maps.plot("dog")


def test_overlay_puts_each_frame_under_its_latent_map(captured: tuple[AttentionCapture, np.ndarray]) -> None:
    cap, video = captured
    maps = cap.word_maps()
    fig = maps.overlay(video, "flowers", show=[0, 1, 8])
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    latent = [np.asarray(ax.images[1].get_array()) for ax in fig.axes]  # [y, x] over each frame
    grid = maps.grid("flowers")
    for got, k in zip(latent, (0, 1, 2), strict=True):  # frames 0, 1, 8 ← latent frames 0, 1, 2
        np.testing.assert_array_equal(got, grid[k])
    np.testing.assert_array_equal(np.asarray(fig.axes[2].images[0].get_array()), video[8])
    with pytest.raises(RenderError, match="frames must be"):
        maps.overlay(video[:3], "flowers")


def test_visualizer_renders_the_same_from_memory_as_from_a_store(
    captured: tuple[AttentionCapture, np.ndarray], tmp_path: Path
) -> None:
    cap, _ = captured
    cap.save(tmp_path, video_id="captured", store_aggregated=False)
    options = {"figsize": (3, 2), "dpi": 40, "interpolation_steps": 0}
    from_store = AttentionVisualizer(AttentionAnalyzer(tmp_path), **options)
    from_memory = AttentionVisualizer.from_maps(cap.word_maps(), **options)
    for kwargs in ({}, {"use_aggregated": True}):
        a = list(from_store.prepare_video("captured", "kiss", **kwargs).frames())
        b = list(from_memory.prepare_video("captured", "kiss", **kwargs).frames())
        assert len(a) == len(b) > 0
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    out = from_memory.generate_attention_video("captured", "flowers", tmp_path / "flowers.gif")
    assert out.stat().st_size > 0
    with pytest.raises(NotFoundError, match="available words: flowers, kiss"):
        from_memory.generate_attention_video("captured", "dog", tmp_path / "dog.gif")

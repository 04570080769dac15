"""The report's map sprites: layout, colours through the render LUT, labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attention_visual.render.colormap import colormap_lut
from attention_visual.report.images import (
    MAX_SCALE,
    css_gradient,
    frame_labels,
    tile_scale,
    write_sprite,
)
from attention_visual.storage import AttentionStore
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from support.batch import GRID, NUM_STEPS, build_batch, map_metadata, word_map

VIDEO = "prompt_001_vid_001"


@pytest.fixture
def analyzer(tmp_path: Path) -> AttentionAnalyzer:
    build_batch(tmp_path / "b", prompts=("a (kiss) with (flowers)",), videos_per_prompt=1)
    return AttentionAnalyzer(tmp_path / "b" / "attention_maps")


def _tiles(png: Path, rows: int, cols: int) -> np.ndarray:
    """``[row, col, h, w]`` palette indices of a sprite."""
    index = np.asarray(Image.open(png))  # [H, W] uint8 (palette mode)
    h, w = index.shape[0] // rows, index.shape[1] // cols
    return index.reshape(rows, h, cols, w).transpose(0, 2, 1, 3)


def test_sprite_layout_steps_by_mean_plus_latent_frames(analyzer: AttentionAnalyzer, tmp_path: Path) -> None:
    png = tmp_path / "kiss.png"
    info = write_sprite(analyzer, VIDEO, "kiss", png)
    frames, y, x = GRID
    assert (info.rows, info.cols) == (NUM_STEPS, 1 + frames)
    scale = info.tile_height // y
    assert scale == tile_scale((y, x), info.rows * info.cols) and info.tile_width == x * scale
    image = Image.open(png)
    assert image.mode == "P" and image.size == (info.cols * info.tile_width, info.rows * info.tile_height)
    palette = np.asarray((image.getpalette() or [])[: 256 * 3], dtype=np.uint8).reshape(256, 3)
    np.testing.assert_array_equal(palette, colormap_lut("hot"))
    tiles = _tiles(png, info.rows, info.cols)  # [row, col, h, w]
    for step in range(NUM_STEPS):
        for col in range(info.cols):
            tile = tiles[step, col]
            # Each token is a scale × scale block; the hot token (word 0: row 0, column step % x) is brightest.
            hot = np.unravel_index(int(np.argmax(tile)), tile.shape)
            assert (hot[0] // scale, hot[1] // scale) == (0, step % x), (step, col)
            assert (tile[::scale, ::scale].repeat(scale, 0).repeat(scale, 1) == tile).all()
    assert tiles.max() == 255 and tiles[-1, -1].max() == 255  # global range: last step, last frame (×1.5)
    assert tiles[-1, 1].max() < tiles[-1, -1].max() and tiles[-1, 1].max() < tiles[-1, 0].max()
    assert info.vmax == pytest.approx(1.5 * (0.2 + 0.1 * (NUM_STEPS - 1)))
    assert info.step_labels[0] == "step 1/3 · t=1000" and len(info.frame_labels) == info.cols


def test_tile_scale_keeps_small_grids_visible_and_big_sprites_bounded() -> None:
    assert tile_scale((2, 3), 12) == MAX_SCALE
    assert tile_scale((30, 52), 50 * 22) == 1  # Wan 480p: 30 × 52 tokens, 50 steps × (1 + 21) columns
    assert tile_scale((8, 8), 10) == 6
    assert tile_scale((8, 8), 100_000) == 1


def test_labels_and_gradient(analyzer: AttentionAnalyzer) -> None:
    meta = analyzer.load_step(VIDEO, "kiss", 0).metadata
    assert frame_labels(meta, 3) == (
        "all frames (weighted mean)",
        "latent frame 1/3 · video frame 1",
        "latent frame 2/3 · video frames 2–5",
        "latent frame 3/3 · video frames 6–9",
    )
    lut = colormap_lut("hot")
    gradient = css_gradient("hot")
    assert gradient[0] == "#{:02x}{:02x}{:02x}".format(*lut[0]) and gradient[-1] == "#{:02x}{:02x}{:02x}".format(
        *lut[-1]
    )


def test_uncond_only_maps_are_shown_with_their_pass(tmp_path: Path) -> None:
    store = AttentionStore(tmp_path / "attention_maps")
    for step in range(NUM_STEPS):
        meta = map_metadata(VIDEO, "kiss", step, "a (kiss)", GRID)
        store.save_step(dataclasses.replace(meta, passes=("uncond",), guidance_pass="uncond"), word_map(step, 0))
    store.mark_complete(VIDEO, {})
    info = write_sprite(AttentionAnalyzer(tmp_path / "attention_maps"), VIDEO, "kiss", tmp_path / "kiss.png")
    assert info.rows == NUM_STEPS and info.norm_label.endswith("· uncond pass")

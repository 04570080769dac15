"""Colormap lookup tables and the explicit normalisation modes."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from attention_visual.errors import AttentionDataError, RenderError
from attention_visual.render.colormap import (
    apply_colormap,
    apply_colormap_rgbx,
    check_colormap,
    colormap_lut,
    packed_lut,
)
from attention_visual.render.normalize import normalize_maps

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)


@pytest.mark.parametrize("name", ["hot", "viridis", "magma_r", "coolwarm"])
def test_lut_matches_matplotlib(name: str) -> None:
    values = np.linspace(0, 1, 256, dtype=np.float32)  # [256]
    expected = np.round(matplotlib.colormaps[name](values)[:, :3] * 255).astype(np.uint8)  # [256, 3]
    got = apply_colormap(values, colormap_lut(name))  # [256, 3]
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_rgbx_path_equals_rgb_path_and_writes_in_place() -> None:
    values = np.random.default_rng(0).random((7, 9), dtype=np.float32)  # [y, x]
    rgb = apply_colormap(values, colormap_lut("viridis"))
    frame = np.zeros((10, 12, 4), dtype=np.uint8)  # [H, W, RGBX]
    out = apply_colormap_rgbx(values, packed_lut("viridis"), out=frame[1:8, 2:11])
    assert np.shares_memory(out, frame)
    assert np.array_equal(frame[1:8, 2:11, :3], rgb)
    assert (frame[1:8, 2:11, 3] == 255).all()
    assert (frame[0] == 0).all()  # outside the box untouched


def test_values_are_clipped() -> None:
    lut = colormap_lut("hot")
    got = apply_colormap(np.array([-1.0, 2.0], dtype=np.float32), lut)
    assert np.array_equal(got, lut[[0, -1]])


@pytest.mark.parametrize(("name", "suggestion"), [("virdis", "viridis"), ("Hot", "hot"), ("magma_R", "magma_r")])
def test_unknown_colormap_suggests_close_names(name: str, suggestion: str) -> None:
    with pytest.raises(RenderError, match=f"unknown colormap '{name}'.*did you mean .*{suggestion}"):
        check_colormap(name)


def test_unknown_colormap_without_close_names_gives_examples() -> None:
    with pytest.raises(RenderError, match=r"e\.g\. hot, viridis"):
        check_colormap("qqqqzzzz")


def _stack() -> np.ndarray:
    stack = np.zeros((2, 3, 2, 5), dtype=np.float32)  # [step, frame, y, x]
    stack[0, 0, 0, 0] = 1.0
    stack[1, 2, 1, 4] = 4.0
    stack[1, 1] = 2.0  # a constant frame
    return stack


def test_global_uses_one_range() -> None:
    normed, info = normalize_maps(_stack(), "global")
    assert (info.vmin, info.vmax, info.relative) == (0.0, 4.0, False)
    assert normed[0, 0, 0, 0] == pytest.approx(0.25)
    assert normed[1, 2, 1, 4] == 1.0
    assert "global" in info.label


def test_per_step_scales_each_step() -> None:
    normed, info = normalize_maps(_stack(), "per_step")
    assert normed[0, 0, 0, 0] == 1.0 and normed[1, 2, 1, 4] == 1.0
    assert normed[1, 1, 0, 0] == pytest.approx(0.5)
    assert (info.vmin, info.vmax, info.relative) == (0.0, 1.0, True)


def test_per_frame_scales_each_map_and_keeps_flat_maps_flat() -> None:
    normed, info = normalize_maps(_stack(), "per_frame")
    assert normed[0, 0, 0, 0] == 1.0
    assert (normed[1, 1] == 0.5).all()  # constant non-zero map: middle of the colormap
    assert (normed[0, 1] == 0.0).all()  # all-zero map: bottom
    assert info.flat_maps == 4  # frames [0,1], [0,2], [1,0], [1,1]


def test_percentile_clips_outliers() -> None:
    rng = np.random.default_rng(0)
    stack = rng.random((1, 1, 20, 20)).astype(np.float32)  # [step, frame, y, x]
    stack[0, 0, 0, 0] = 100.0  # an outlier
    normed, info = normalize_maps(stack, "percentile")
    assert info.vmax < 1.0 and normed[0, 0, 0, 0] == 1.0
    assert normed.mean() > 0.3  # the outlier does not squash the rest to black
    assert "percentile" in info.label


def test_percentile_of_a_sparse_map_falls_back_to_min_max() -> None:
    stack = np.zeros((1, 1, 10, 10), dtype=np.float32)
    stack[0, 0, 3, 3] = 1.0  # 99 % zeros: 2nd and 98th percentiles coincide
    normed, _ = normalize_maps(stack, "percentile")
    assert normed[0, 0, 3, 3] == 1.0 and normed.sum() == 1.0


@pytest.mark.parametrize("mode", ["global", "per_step", "per_frame", "percentile"])
def test_all_zero_and_constant_maps_render_flat(mode: str) -> None:
    zeros, _ = normalize_maps(np.zeros((2, 2, 3, 4), np.float32), mode)
    assert (zeros == 0).all()
    noisy_constant = np.full((2, 2, 3, 4), 0.25, np.float32)
    noisy_constant[0, 0, 0, 0] += 1e-9  # float round-off is not structure
    const, _ = normalize_maps(noisy_constant, mode)
    assert (const == 0.5).all()


def test_nan_is_a_data_error_and_bad_mode_a_render_error() -> None:
    bad = np.zeros((1, 1, 2, 2), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(AttentionDataError, match="NaN"):
        normalize_maps(bad, "global")
    with pytest.raises(RenderError, match="normalization must be one of"):
        normalize_maps(np.zeros((1, 1, 2, 2), np.float32), "minmax")

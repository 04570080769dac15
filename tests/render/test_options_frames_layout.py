"""Render options validation, per-frame pixel work and the static canvases."""

from __future__ import annotations

import numpy as np
import pytest

from attention_visual.errors import RenderError
from attention_visual.render.canvas import ColorbarSpec
from attention_visual.render.colormap import packed_lut
from attention_visual.render.frames import blend, draw_progress, heatmap_rgbx
from attention_visual.render.options import RenderOptions
from attention_visual.render.resize import upsample_bilinear
from attention_visual.render.step_grid import figure_canvas
from attention_visual.render.strip import strip_canvas, strip_layout
from attention_visual.render.text import Box, TextRenderer

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"overlay_alpha": 1.5}, r"overlay_alpha must be in \[0, 1\], got 1.5"),
        ({"overlay_alpha": -0.1}, "overlay_alpha"),
        ({"fps": 0}, r"fps must be in \(0, 240\], got 0"),
        ({"fps": -3.0}, r"fps must be in \(0, 240\]"),
        ({"figsize": (12,)}, r"figsize must be two positive numbers \[width, height\]"),
        ({"figsize": ("a", 8)}, "figsize must be two positive numbers"),
        ({"figsize": (0.1, 8)}, r"figsize\[0\] \(width\) must be in \[0.64, 76.8\] inches"),
        ({"interpolation_steps": -1}, "interpolation_steps"),
        ({"interpolation_steps": 1.5}, "interpolation_steps must be an integer"),
        ({"static_duration": 0}, r"static_duration must be in \(0, 3600\]"),
        ({"video_format": "mkv"}, "video_format must be one of 'mp4', 'avi', 'gif'"),
        ({"normalization": "minmax"}, "normalization must be one of"),
        ({"colormap": "virdis"}, "did you mean viridis"),
        ({"include_colorbar": "yes"}, "include_colorbar must be true or false"),
    ],
)
def test_invalid_options_name_the_key(change: dict[str, object], match: str) -> None:
    with pytest.raises(RenderError, match=match):
        RenderOptions(**change)  # type: ignore[arg-type]


def test_options_from_mapping_and_pixel_size() -> None:
    options = RenderOptions.from_mapping({"figsize": [6.01, 4], "fps": 8, "colormap": "viridis"})
    assert options.figsize == (6.01, 4.0)
    assert options.pixel_size == (602, 400)  # rounded up to even for H.264
    with pytest.raises(RenderError, match="unknown visualization_params key"):
        RenderOptions.from_mapping({"fsp": 3})


def test_blend_extremes_and_midpoint() -> None:
    base = np.full((2, 3, 4), 200, np.uint8)
    heat = np.full((2, 3, 4), 100, np.uint8)
    assert (blend(base, heat, 0.0) == 200).all()
    assert (blend(base, heat, 1.0) == 100).all()
    assert (np.abs(blend(base, heat, 0.5).astype(int) - 150) <= 1).all()


def test_heatmap_keeps_a_top_left_hot_spot_top_left() -> None:
    values = np.zeros((3, 4), np.float32)  # [y, x], non-square
    values[0, 0] = 1.0
    heat = heatmap_rgbx(values, 48, 64, packed_lut("gray"))  # [48, 64, 4]
    assert heat.shape == (48, 64, 4)
    assert heat[:8, :8, 0].min() > 200 and heat[24:, 32:, 0].max() < 10


@pytest.mark.wan
def test_upsampling_matches_torch_bilinear() -> None:
    import torch

    values = np.random.default_rng(1).random((2, 3, 4), dtype=np.float32)  # [n, y, x], non-square
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(values)[None], size=(30, 40), mode="bilinear", align_corners=False
    )[0].numpy()
    np.testing.assert_allclose(upsample_bilinear(values, 30, 40), ref, atol=2e-7)
    gray = heatmap_rgbx(values[0], 30, 40, packed_lut("gray"))[..., 0]
    expected = np.round(np.clip(ref[0], 0, 1) * 255)
    assert np.abs(gray.astype(int) - expected).max() <= 1


def test_progress_bar() -> None:
    frame = np.zeros((10, 20, 4), np.uint8)  # [h, w, RGBX]
    frame[..., 3] = 255
    draw_progress(frame, Box(0, 0, 20, 2), 0.5, fill=(255, 0, 0), track=(0, 0, 255))
    assert (frame[0, :10, 0] == 255).all() and (frame[0, 10:, 2] == 255).all()
    assert (frame[..., 3] == 255).all()


def test_text_is_rendered_once_per_string_and_stamped_in_its_box() -> None:
    text = TextRenderer(12, 100, max_width=300)
    mask = text.mask("step 3 / 50")
    assert text.mask("step 3 / 50") is mask  # cached
    assert mask.max() == 255
    frame = np.zeros((40, 300, 4), np.uint8)
    text.stamp(frame, "step 3 / 50", Box(100, 5, 200, 30), color=(255, 255, 255))
    assert frame[:, :100].max() == 0 and frame[5:35, 100:].max() > 200


def test_figure_canvas_panels_fit_with_aspect_and_even_size() -> None:
    bar = ColorbarSpec("hot", 0.0, 0.02, "attention (global range)")
    canvas = figure_canvas((6.01, 4), 100, 832 / 480, n_panels=5, panel_labels=[str(i) for i in range(5)], colorbar=bar,
                           footer=True)  # fmt: skip
    assert (canvas.width, canvas.height) == (602, 400)
    assert canvas.image.shape == (400, 602, 4) and not canvas.image.flags.writeable
    assert len(canvas.panels) == 5
    for box in canvas.panels:
        assert box.x >= 0 and box.y >= 0 and box.x + box.width <= 602 and box.y + box.height <= 400
        assert box.width / box.height == pytest.approx(832 / 480, rel=0.05)
    assert canvas.footer is not None and canvas.progress is not None and canvas.title is not None
    boxes = {(b.x, b.y) for b in canvas.panels}
    assert len(boxes) == 5  # no overlap of origins
    # the colorbar is drawn right of the panels: coloured pixels there
    right = canvas.image[:, max(b.x + b.width for b in canvas.panels) + 2 :, :3]
    assert (right.astype(int).std(axis=-1) > 30).any()


def test_strip_canvas_keeps_exact_video_panels() -> None:
    plain = strip_canvas(strip_layout(63, 47, 1, 100))
    assert plain.image.shape == (48, 64, 4) and plain.panels == (Box(0, 0, 63, 47),)
    side = strip_canvas(strip_layout(64, 48, 3, 100, panel_labels=("video", "attention", "overlay"),
                                     colorbar=ColorbarSpec("hot", 0, 1, "x"), title="“kiss”"))  # fmt: skip
    x = [b.x for b in side.panels]
    assert x[1] - x[0] == x[2] - x[1] > 64 and len({b.y for b in side.panels}) == 1
    assert all((b.width, b.height) == (64, 48) for b in side.panels)
    assert side.width % 2 == 0 and side.height % 2 == 0 and side.width > 3 * 64
    assert set(side.regions) >= {"title", "label 0", "label 2", "colorbar", "colorbar ticks", "colorbar label"}

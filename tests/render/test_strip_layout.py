"""The overlay frame layout: display size, boxes that never overlap, ink that stays in its box."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from attention_visual.render.canvas import ColorbarSpec
from attention_visual.render.strip import (
    MIN_PANEL_HEIGHT,
    StripLayout,
    display_size,
    strip_canvas,
    strip_layout,
)
from attention_visual.render.text import Box

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)

SIZES = [(48, 32), (192, 128), (832, 480), (1280, 720)]
SIDE_LABELS = ("video", "attention", "overlay")
TITLE = "“flowers” — mean of 4 steps"
#: the longest normalisation label (per_frame), and a tiny range whose ticks need many digits
BAR = ColorbarSpec("hot", 0.010012, 0.010047, "attention, normalised per frame (min→0, max→1)")


def _share_a_pixel(a: Box, b: Box) -> bool:
    """Boxes that only touch do not share a pixel."""
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def _layout(size: tuple[int, int], side_by_side: bool, colorbar: bool, footer: bool, dpi: int = 100) -> StripLayout:
    width, height = display_size(*size)
    labels = SIDE_LABELS if side_by_side else ()
    return strip_layout(width, height, len(labels) or 1, dpi, labels, BAR if colorbar else None, TITLE, footer)


@pytest.mark.parametrize(
    ("size", "shown"),
    [((48, 32), (720, 480)), ((192, 128), (720, 480)), ((64, 48), (640, 480)), ((100, 33), (1454, 480)),
     ((832, 480), (832, 480)), ((1280, 720), (1280, 720)), ((63, 481), (63, 481))],
)  # fmt: skip
def test_display_size_scales_small_videos_up_and_never_down(size: tuple[int, int], shown: tuple[int, int]) -> None:
    assert display_size(*size) == shown
    width, height = shown
    if size[1] < MIN_PANEL_HEIGHT:
        assert width % 2 == 0 and height % 2 == 0
        assert width / height == pytest.approx(size[0] / size[1], rel=0.01)


@pytest.mark.parametrize(
    ("size", "side_by_side", "colorbar", "footer"),
    list(itertools.product(SIZES, (False, True), (False, True), (False, True))),
)
def test_layout_boxes_are_inside_the_frame_and_pairwise_disjoint(
    size: tuple[int, int], side_by_side: bool, colorbar: bool, footer: bool
) -> None:
    layout = _layout(size, side_by_side, colorbar, footer)
    assert layout.width % 2 == 0 and layout.height % 2 == 0  # H.264 / yuv420p
    regions = layout.regions()
    for name, box in regions.items():
        assert box.width > 0 and box.height > 0, name
        assert box.inside(layout.width, layout.height), (name, box, layout.width, layout.height)
    for (a, box_a), (b, box_b) in itertools.combinations(regions.items(), 2):
        assert not _share_a_pixel(box_a, box_b), (a, box_a, b, box_b)
    panels = layout.panels
    assert len(panels) == (3 if side_by_side else 1)
    assert all((p.width, p.height) == display_size(*size) for p in panels)
    assert min(p.height for p in panels) >= min(MIN_PANEL_HEIGHT, size[1])
    # the title sits above the video, not in the colorbar column; the footer below everything
    assert layout.title is not None and layout.title.bottom <= min(p.y for p in panels)
    assert len(layout.labels) == (3 if side_by_side else 0)
    assert all(lab.bottom <= p.y for lab, p in zip(layout.labels, panels, strict=False))
    column = [b for b in (layout.colorbar, layout.ticks, layout.colorbar_label) if b is not None]
    assert len(column) == (3 if colorbar else 0)
    assert all(b.x >= panels[-1].right and b.y >= layout.title.bottom for b in column)
    if footer:
        assert layout.footer is not None
        assert all(layout.footer.y >= b.bottom for b in (*panels, *column))
    # the label is set small enough to fit its column
    if colorbar:
        assert layout.colorbar_label is not None and layout.colorbar_label_pt >= 6
        assert len(set(layout.tick_texts)) == len(layout.tick_texts) >= 2


def test_a_plain_overlay_is_just_the_video() -> None:
    layout = strip_layout(832, 480, 1, 100)
    assert (layout.width, layout.height) == (832, 480) and layout.regions() == {"panel 0": Box(0, 0, 832, 480)}


def _ink(image: np.ndarray) -> np.ndarray:
    """``[H, W]`` bool: pixels visibly different from the white background."""
    ink: np.ndarray = (255 - image[..., :3].astype(int)).max(axis=-1) > 40
    return ink


def _grown(box: Box, pad: int) -> Box:
    return Box(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad)


@pytest.mark.parametrize(("size", "side_by_side"), [((48, 32), False), ((192, 128), True), ((832, 480), False)])
def test_everything_drawn_stays_inside_its_own_box(size: tuple[int, int], side_by_side: bool) -> None:
    width, height = display_size(*size)
    labels = SIDE_LABELS if side_by_side else ()
    canvas = strip_canvas(strip_layout(width, height, len(labels) or 1, 100, labels, BAR, TITLE, footer=True))
    ink = _ink(canvas.image)  # [H, W]
    assert canvas.footer is not None and not ink[canvas.footer.slices].any()  # left for the timestamp
    for name, box in canvas.regions.items():
        if not name.startswith("panel") and name != "footer":
            assert ink[box.slices].any(), f"nothing drawn in {name}"
        ink[_grown(box, 2).slices] = False  # antialiased edges may touch the next pixel
    rows, cols = np.nonzero(ink)
    assert rows.size == 0, f"ink outside every box at (x, y) {list(zip(cols[:5], rows[:5], strict=True))}"
    # the title's ink and the colorbar column's ink do not share a row
    title = np.flatnonzero(_ink(canvas.image[canvas.regions["title"].slices]).any(axis=1)) + canvas.regions["title"].y
    column = [canvas.regions[k] for k in ("colorbar", "colorbar ticks", "colorbar label")]
    top = min(b.y + int(_ink(canvas.image[b.slices]).any(axis=1).argmax()) for b in column)
    assert title.max() < top

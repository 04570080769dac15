"""The one definition of each measure (:mod:`attention_visual.measures`) against hand-computed values.

Small non-square maps: 2 × 5 cells over an 80 × 32 video, 16 px per cell (centres: y 8, 24; x 8 … 72).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from attention_visual.measures import (
    EMPTY_ENTROPY,
    LABELS,
    MEASURES,
    PixelGeometry,
    entropy,
    mass,
    measures,
    weights,
)

GEOMETRY = PixelGeometry(height=32, width=80, ny=2, nx=5)


def one(m: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in measures(m, GEOMETRY).items()}


def test_two_cells() -> None:
    m = np.zeros((2, 5))
    m[0, 0], m[1, 4] = 1.0, 3.0  # weights 1/4 at (8, 8), 3/4 at (24, 72)
    got = one(m)
    assert got["mass"] == 4.0 and got["peak"] == 3.0  # mass: the sum, not the mean (0.4)
    assert got["entropy"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(10))
    assert (got["centroid_y"], got["centroid_x"]) == pytest.approx((20.0, 56.0))
    var = (0.25 * 12**2 + 0.75 * 4**2) + (0.25 * 48**2 + 0.75 * 16**2)
    assert got["spread"] == pytest.approx(math.sqrt(var))
    assert got["mask_area"] == pytest.approx(0.2)  # mean 0.4: two cells above it


def test_one_cell_holds_everything_and_a_uniform_map() -> None:
    hot = np.zeros((2, 5), np.float32)
    hot[1, 3] = 0.5
    assert one(hot) == {
        "mass": 0.5, "peak": 0.5, "entropy": 0.0, "centroid_y": 24.0, "centroid_x": 56.0, "spread": 0.0,
        "mask_area": pytest.approx(0.1),
    }  # fmt: skip
    flat = one(np.full((2, 5), 0.1))
    assert flat["entropy"] == pytest.approx(1.0) and flat["mask_area"] == 0.0
    assert flat["spread"] == pytest.approx(math.sqrt(64 + 512))  # var_y = 64, var_x = (32² + 16² + 0 + 16² + 32²)/5


def test_an_empty_map_is_the_limit_of_a_constant_map() -> None:
    got = one(np.zeros((2, 5), np.float32))
    uniform = one(np.full((2, 5), 0.1))
    assert got["mass"] == got["peak"] == got["mask_area"] == 0.0
    assert got["entropy"] == EMPTY_ENTROPY == 1.0
    assert {k: got[k] for k in ("centroid_y", "centroid_x", "spread")} == pytest.approx(
        {k: uniform[k] for k in ("centroid_y", "centroid_x", "spread")}
    )
    assert weights(np.zeros((2, 5))).sum() == pytest.approx(1.0)


def test_any_leading_axes_and_a_one_cell_grid() -> None:
    maps = np.random.default_rng(0).random((3, 4, 2, 5))  # [step, frame, y, x]
    got = measures(maps, GEOMETRY)
    assert all(v.shape == (3, 4) for v in got.values())
    np.testing.assert_allclose(got["mass"], maps.sum(axis=(-2, -1)))
    assert entropy(np.ones((4, 1, 1))).tolist() == [0.0] * 4  # one cell: nothing to spread over
    assert mass(np.zeros((0, 2, 5))).shape == (0,)


def test_names_labels_and_errors() -> None:
    assert set(LABELS) == set(MEASURES)
    assert LABELS["mass"] == "mass (sum of the map)"
    assert list(measures(np.ones((2, 5)), names=("entropy", "mass"))) == ["entropy", "mass"]
    with pytest.raises(ValueError, match="unknown measure"):
        measures(np.ones((2, 5)), GEOMETRY, names=("mean",))
    with pytest.raises(ValueError, match="centroid_x, spread need the grid's PixelGeometry"):
        measures(np.ones((2, 5)), names=("spread", "centroid_x"))

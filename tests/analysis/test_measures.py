"""Every statistic of ``stats`` against hand-computed values on small non-square maps (2 × 5 cells, 16 px each),
and against the one definition of each measure (:mod:`attention_visual.measures`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attention_visual import measures as definitions
from attention_visual.analysis.measures import PixelGeometry, as_float32, map_measures, pair_measures

GEOMETRY = PixelGeometry(height=32, width=80, ny=2, nx=5)  # centres: y 8, 24; x 8, 24, 40, 56, 72


def measures(m: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in map_measures(m, GEOMETRY).items()}


def test_cell_centres_in_video_pixels() -> None:
    assert GEOMETRY.y_px.tolist() == [8.0, 24.0]
    assert GEOMETRY.x_px.tolist() == [8.0, 24.0, 40.0, 56.0, 72.0]
    downsampled = PixelGeometry(height=480, width=832, ny=15, nx=26)  # 1.3B grid downsampled by 2: 32 px cells
    assert downsampled.y_px[0] == 16.0 and downsampled.x_px[-1] == 832 - 16.0


def test_one_hot_map() -> None:
    m = np.zeros((2, 5), np.float32)
    m[1, 3] = 0.5
    got = measures(m)
    assert got["mass"] == 0.5 and got["peak"] == 0.5
    assert got["entropy"] == 0.0
    assert (got["centroid_y"], got["centroid_x"]) == (24.0, 56.0)
    assert got["spread"] == 0.0
    assert got["mask_area"] == pytest.approx(0.1)


def test_uniform_map() -> None:
    got = measures(np.full((2, 5), 0.1, np.float32))
    assert got["entropy"] == pytest.approx(1.0, abs=1e-6)
    assert (got["centroid_y"], got["centroid_x"]) == pytest.approx((16.0, 40.0))
    # var_y = (8² + 8²)/2 = 64; var_x = (32² + 16² + 0 + 16² + 32²)/5 = 512
    assert got["spread"] == pytest.approx(math.sqrt(64 + 512))
    assert got["mask_area"] == 0.0  # no cell is strictly above the mean
    assert got["mass"] == pytest.approx(1.0)


def test_two_cells_known_centroid_spread_entropy() -> None:
    m = np.zeros((2, 5), np.float32)
    m[0, 0], m[1, 4] = 1.0, 3.0  # weights 1/4 at (8, 8), 3/4 at (24, 72)
    got = measures(m)
    assert got["centroid_y"] == pytest.approx(0.25 * 8 + 0.75 * 24)  # 20
    assert got["centroid_x"] == pytest.approx(0.25 * 8 + 0.75 * 72)  # 56
    var = (0.25 * 12**2 + 0.75 * 4**2) + (0.25 * 48**2 + 0.75 * 16**2)
    assert got["spread"] == pytest.approx(math.sqrt(var))
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(10)
    assert got["entropy"] == pytest.approx(h, rel=1e-6)
    assert got["mask_area"] == pytest.approx(0.2)  # mean 0.4: two cells above
    assert got["peak"] == 3.0 and got["mass"] == 4.0


def test_all_zero_map_is_defined() -> None:
    got = measures(np.zeros((2, 5), np.float32))
    assert got["mass"] == 0.0 and got["peak"] == 0.0
    assert got["entropy"] == 1.0  # the limit of a constant map
    assert (got["centroid_y"], got["centroid_x"]) == pytest.approx((16.0, 40.0))
    assert got["mask_area"] == 0.0
    assert all(math.isfinite(v) for v in got.values())


def test_random_maps_against_direct_formulas() -> None:
    rng = np.random.default_rng(0)
    maps = rng.random((4, 3, 2, 5), dtype=np.float32)  # [step, frame, y, x]
    got = map_measures(maps, GEOMETRY)
    assert got["entropy"].shape == (4, 3)
    m = maps[2, 1].astype(np.float64)
    p = m / m.sum()
    yy, xx = np.meshgrid(GEOMETRY.y_px, GEOMETRY.x_px, indexing="ij")
    cy, cx = (p * yy).sum(), (p * xx).sum()
    np.testing.assert_allclose(got["entropy"][2, 1], -(p * np.log(p)).sum() / np.log(10), rtol=1e-5)
    np.testing.assert_allclose(got["centroid_y"][2, 1], cy, rtol=1e-6)
    np.testing.assert_allclose(got["centroid_x"][2, 1], cx, rtol=1e-6)
    np.testing.assert_allclose(got["spread"][2, 1], np.sqrt((p * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum()), rtol=1e-5)
    assert got["mask_area"][2, 1] == (m > m.mean()).mean()


def test_pairs_iou_and_pearson() -> None:
    a = np.zeros((2, 5), np.float32)
    b = np.zeros((2, 5), np.float32)
    a[0, 0] = 1.0
    b[1, 4] = 1.0
    same = pair_measures(a, a)
    assert float(same["iou"]) == 1.0 and float(same["pearson"]) == pytest.approx(1.0)
    apart = pair_measures(a, b)
    assert float(apart["iou"]) == 0.0
    # cov = 0.9·(−0.1)·2 + 8·0.01 = −0.1; var = 0.81 + 9·0.01 = 0.9 → r = −1/9
    assert float(apart["pearson"]) == pytest.approx(-1 / 9)
    c = np.zeros((2, 5), np.float32)
    c[0, :2] = 1.0  # mask {(0,0), (0,1)}: IoU with a's {(0,0)} is 1/2
    assert float(pair_measures(a, c)["iou"]) == 0.5
    rng = np.random.default_rng(1)
    x, y = rng.random((2, 5)), rng.random((2, 5))
    assert float(pair_measures(x, y)["pearson"]) == pytest.approx(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def test_pairs_undefined_cases_are_nan() -> None:
    flat = np.full((2, 5), 0.1, np.float32)  # constant: empty mask, zero variance
    got = pair_measures(flat, flat)
    assert math.isnan(float(got["iou"])) and math.isnan(float(got["pearson"]))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_the_fast_path_equals_the_one_definition(dtype: type) -> None:
    """``stats``' block computation gives :mod:`attention_visual.measures`' numbers, map by map.

    Random non-square maps (with zeros, a one-hot, an all-zero and a tiny-mass map), both stored dtypes.
    """
    rng = np.random.default_rng(7)
    g = PixelGeometry(height=480, width=832, ny=7, nx=13)
    maps = rng.random((5, 3, 7, 13), dtype=np.float32) ** 4  # [step, frame, y, x]: peaked
    maps[maps < 0.05] = 0.0
    maps[0, 0] = 0.0
    maps[0, 1] = 0.0
    maps[0, 1, 3, 9] = 0.7
    maps[1, 2] *= 1e-3  # values in float16's subnormal range
    maps = maps.astype(dtype)
    got = map_measures(maps, g)
    want = definitions.measures(maps, g)  # every map at once, in float64
    assert list(got) == list(want) == list(definitions.MEASURES)
    for name in definitions.MEASURES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-9, err_msg=name)
    assert got["entropy"][0, 0] == want["entropy"][0, 0] == 1.0  # the all-zero map's limit, in both
    for k in np.ndindex(maps.shape[:2]):  # the definitions map by map give the same as all at once
        one = definitions.measures(maps[k], g)
        for name in definitions.MEASURES:
            np.testing.assert_allclose(one[name], want[name][k], rtol=1e-12, err_msg=f"{name} {k}")


def test_float16_maps_read_exactly_like_their_float32_values() -> None:
    rng = np.random.default_rng(3)
    half = (rng.random((4, 6, 9), dtype=np.float32) / 50).astype(np.float16)  # [frame, y, x]
    g = PixelGeometry(height=96, width=144, ny=6, nx=9)
    fast, plain = map_measures(half, g), map_measures(half.astype(np.float32), g)
    for name in fast:
        np.testing.assert_allclose(fast[name], plain[name], rtol=2e-7, err_msg=name)
    pairs_fast = pair_measures(half[:2], half[2:])
    pairs_plain = pair_measures(half[:2].astype(np.float32), half[2:].astype(np.float32))
    for name in pairs_fast:
        np.testing.assert_array_equal(pairs_fast[name], pairs_plain[name])


def test_float16_conversion_is_exact_for_every_bit_pattern() -> None:
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)  # incl. subnormal, inf, NaN
    finite = every[np.isfinite(every) & (every >= 0)]
    np.testing.assert_array_equal(as_float32(finite), finite.astype(np.float32))
    np.testing.assert_array_equal(as_float32(every), every.astype(np.float32))  # negative, inf, NaN: astype
    strided = finite[:-1].reshape(-1, 2)[:, ::-1].T  # not contiguous
    np.testing.assert_array_equal(as_float32(strided), strided.astype(np.float32))

"""Cross-seed views against hand-computed values: mean, std, per step, Pearson consistency, pooling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from attention_visual.analysis import (
    SeedAccumulator,
    batch_seed_views,
    consistency_score,
    pairwise_correlation,
    word_seed_views,
)
from attention_visual.errors import AttentionDataError, NotFoundError
from support.synthetic import write_batch

GRID = (2, 2, 3)  # [frame, y, x]: non-square

# Step-averaged maps of three seeds chosen so that b = 2a + 1 (r = +1) and c = 4 − a (r = −1 with a and b).
A = np.arange(12, dtype=np.float32).reshape(GRID)
B = 2 * A + 1
C = 4 - A


def _steps(avg: np.ndarray, delta: float = 0.5) -> np.ndarray:
    """``[step, frame, y, x]``: two steps whose mean is ``avg`` (avg − delta, avg + delta)."""
    return np.stack([avg - delta, avg + delta]).astype(np.float32)


def test_pearson_and_consistency_by_hand() -> None:
    corr = pairwise_correlation(np.stack([A, B, C]))
    np.testing.assert_allclose(corr, [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], atol=1e-12)
    assert consistency_score(np.stack([A, B, C])) == pytest.approx((1 - 1 - 1) / 3)
    assert consistency_score(np.stack([A, A, A])) == pytest.approx(1.0)
    # An explicit small case: x = (1, 2, 3), y = (1, 3, 2): r = 0.5.
    assert consistency_score(np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])) == pytest.approx(0.5)


def test_constant_maps_have_no_correlation() -> None:
    flat = np.full(GRID, 0.25, dtype=np.float32)
    corr = pairwise_correlation(np.stack([A, flat, B]))
    assert np.isnan(corr[1]).all() and np.isnan(corr[:, 1]).all() and corr[0, 2] == pytest.approx(1.0)
    assert consistency_score(np.stack([A, flat, B])) == pytest.approx(1.0)  # only the defined pair counts
    assert math.isnan(consistency_score(np.stack([A])))
    assert math.isnan(consistency_score(np.stack([flat, flat])))


def test_consistency_from_summed_unit_maps_equals_the_pairs() -> None:
    from attention_visual.analysis.seeds import consistency_of_sum, unit_maps

    rng = np.random.default_rng(3)
    maps = rng.random((7, 2, 3, 5))  # [video, frame, y, x]: non-square grid
    maps[2] = 0.25  # a constant map: no correlation, left out of the pairs
    unit, constant = unit_maps(maps)
    assert constant.tolist() == [False, False, True, False, False, False, False]
    total = unit[:3].sum(axis=0) + unit[3:].sum(axis=0)  # pooled from two groups
    assert consistency_of_sum(total, int((~constant).sum())) == pytest.approx(consistency_score(maps), abs=1e-12)
    assert math.isnan(consistency_of_sum(unit[0], 1))


def test_seed_views_of_one_prompt_by_hand(tmp_path: Path) -> None:
    maps = {(1, 1): {"dog": _steps(A)}, (1, 2): {"dog": _steps(B, 1.0)}, (1, 3): {"dog": _steps(C, 2.0)}}
    write_batch(tmp_path, ["a (dog)"], maps, seeds={(1, 1): 7, (1, 2): 8, (1, 3): 9})
    views = word_seed_views(tmp_path, "dog")
    view = views.by_prompt[1]
    assert view.seeds == (7, 8, 9) and view.video_ids == tuple(f"prompt_001_vid_00{v}" for v in (1, 2, 3))
    assert view.steps == (0, 1) and view.mean.shape == GRID and view.step_mean.shape == (2, *GRID)
    # Cell 0: A=0, B=1, C=4 -> mean 5/3, population variance ((5/3)² + (2/3)² + (7/3)²)/3 = 78/27.
    assert view.mean[0, 0, 0] == pytest.approx(5 / 3) and view.std[0, 0, 0] == pytest.approx(math.sqrt(78 / 27))
    # Every cell: mean = (A + 2A + 1 + 4 − A)/3 = (2A + 5)/3.
    np.testing.assert_allclose(view.mean, (2 * A + 5) / 3, rtol=1e-6)
    np.testing.assert_allclose(view.std, np.stack([A, B, C]).std(axis=0), rtol=1e-6)
    # Step 0 is avg − (0.5, 1, 2): mean (2A + 5)/3 − 3.5/3; step 1 the opposite.
    np.testing.assert_allclose(view.step_mean[0], (2 * A + 5 - 3.5) / 3, rtol=1e-6)
    np.testing.assert_allclose(view.step_mean[1], (2 * A + 5 + 3.5) / 3, rtol=1e-6)
    step0 = np.stack([A - 0.5, B - 1.0, C - 2.0])
    np.testing.assert_allclose(view.step_std[0], step0.std(axis=0), rtol=1e-6)
    assert view.consistency == pytest.approx(-1 / 3)
    assert views.across is not None and views.across.consistency == pytest.approx(-1 / 3)
    assert view.label == "dog · prompt 1 · 3 seeds"


def test_identical_seeds_are_consistent_with_zero_std(tmp_path: Path) -> None:
    maps = {(1, v): {"cat": _steps(A)} for v in (1, 2, 3)}
    write_batch(tmp_path, ["a (cat)"], maps)
    view = word_seed_views(tmp_path, "cat").by_prompt[1]
    assert view.consistency == pytest.approx(1.0)
    assert np.all(view.std == 0) and np.all(view.step_std == 0)
    np.testing.assert_array_equal(view.mean, A)


def test_across_prompts_pools_every_video_of_the_word(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    maps = {(p, v): {"dog": rng.random((3, *GRID), dtype=np.float32)} for p in (1, 2) for v in (1, 2, 3)}
    maps[(2, 1)] = {**maps[(2, 1)], "sky": rng.random((3, *GRID), dtype=np.float32)}
    write_batch(tmp_path, ["a (dog)", "a (dog) and the (sky)"], maps)
    views = batch_seed_views(tmp_path)
    assert set(views) == {"dog", "sky"}
    dog = views["dog"]
    assert set(dog.by_prompt) == {1, 2} and dog.across is not None
    every = np.stack([maps[(p, v)]["dog"] for p in (1, 2) for v in (1, 2, 3)])  # [video, step, frame, y, x]
    averaged = every.mean(axis=1)
    np.testing.assert_allclose(dog.across.mean, averaged.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dog.across.std, averaged.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dog.across.step_std, every.std(axis=0), rtol=1e-5)
    assert dog.across.prompt_indices == (1, 1, 1, 2, 2, 2) and dog.across.label == "dog · 2 prompts · 6 videos"
    flat = averaged.reshape(6, -1)
    expected = np.mean([np.corrcoef(flat[i], flat[j])[0, 1] for i in range(6) for j in range(i + 1, 6)])
    assert dog.across.consistency == pytest.approx(expected)
    np.testing.assert_allclose(dog.by_prompt[2].std, averaged[3:].std(axis=0), rtol=1e-5)
    assert views["sky"].by_prompt[2].video_ids == ("prompt_002_vid_001",)
    assert math.isnan(views["sky"].by_prompt[2].consistency)


def test_without_aggregated_maps_the_steps_are_averaged(tmp_path: Path) -> None:
    maps = {(1, 1): {"dog": _steps(A, 3.0)}, (1, 2): {"dog": _steps(B)}}
    write_batch(tmp_path, ["a (dog)"], maps, aggregated=False)
    view = word_seed_views(tmp_path, "dog").by_prompt[1]
    np.testing.assert_allclose(view.averaged, np.stack([A, B]), rtol=1e-6)


def test_one_prompt_only_and_unknown_words(tmp_path: Path) -> None:
    maps = {(p, v): {"dog": _steps(A + p + v)} for p in (1, 2) for v in (1, 2)}
    write_batch(tmp_path, ["a (dog)", "the (dog)"], maps)
    views = word_seed_views(tmp_path, "dog", prompt=2)
    assert set(views.by_prompt) == {2} and views.by_prompt[2].seeds == (201, 202)
    with pytest.raises(NotFoundError, match=r"no stored maps of 'cat'; marked words: 'dog'"):
        word_seed_views(tmp_path, "cat")
    with pytest.raises(NotFoundError, match="in prompt 3"):
        word_seed_views(tmp_path, "dog", prompt=3)


def test_prompts_with_other_grids_are_not_pooled(tmp_path: Path) -> None:
    other = np.ones((2, 3, 2, 2), dtype=np.float32)  # [step, frame, y, x]
    maps = {(1, 1): {"dog": _steps(A)}, (2, 1): {"dog": other}}
    write_batch(tmp_path, ["a (dog)", "the (dog)"], maps)
    views = word_seed_views(tmp_path, "dog")
    assert views.across is None and views.across_error is not None and "different maps" in views.across_error
    assert set(views.by_prompt) == {1, 2}


def test_accumulator_refuses_mismatched_steps() -> None:
    from support.synthetic import make_metadata

    acc = SeedAccumulator("dog", prompt_index=1)
    metas = [make_metadata(step=s, shape=GRID) for s in (0, 1)]
    acc.add("prompt_001_vid_001", 1, 1, _steps(A), A, metas)
    with pytest.raises(AttentionDataError, match="different maps"):
        acc.add("prompt_001_vid_002", 2, 1, _steps(A)[:1], A, metas[:1])
    with pytest.raises(NotFoundError):
        SeedAccumulator("cat").view()


def test_unfinished_captures_are_left_out(tmp_path: Path) -> None:
    maps = {(1, v): {"dog": _steps(A + v)} for v in (1, 2, 3)}
    write_batch(tmp_path, ["a (dog)"], maps)
    (tmp_path / "attention_maps" / "prompt_001_vid_002" / "_complete.json").unlink()  # as if interrupted
    view = word_seed_views(tmp_path, "dog").by_prompt[1]
    assert view.video_ids == ("prompt_001_vid_001", "prompt_001_vid_003")


def test_packed_batches_give_the_same_views(tmp_path: Path) -> None:
    from attention_visual.analysis.pack import pack_batch

    rng = np.random.default_rng(5)
    maps = {(1, v): {"dog": rng.random((2, *GRID), dtype=np.float32)} for v in (1, 2, 3)}
    write_batch(tmp_path, ["a (dog)"], maps)
    files_layout = word_seed_views(tmp_path, "dog").by_prompt[1]
    pack_batch(tmp_path)
    assert not (tmp_path / "attention_maps").exists()
    packed = word_seed_views(tmp_path, "dog").by_prompt[1]
    assert packed.video_ids == files_layout.video_ids and packed.consistency == pytest.approx(files_layout.consistency)
    np.testing.assert_allclose(packed.step_std, files_layout.step_std, rtol=1e-6)

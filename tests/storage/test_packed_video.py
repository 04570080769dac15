"""The packed store written video by video (``storage_format: zarr``): staging, the batch-end merge of the
step averages and its crash safety, verification of a finished video. Synthetic maps, no model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from attention_visual.analysis import word_averages
from attention_visual.storage.packed.averages import NEW_AGGREGATES, OLD_AGGREGATES, consolidate_averages
from attention_visual.storage.packed.reader import PackedReader
from attention_visual.storage.packed.video import PackedVideoStore, packed_video_problems
from support.synthetic import GRID, make_metadata

WORDS = ("dog", "red car")


def write_video(store: PackedVideoStore, video_id: str, seed: int, *, complete: bool = True) -> None:
    rng = np.random.default_rng(seed)
    for word in WORDS:
        stack = rng.random((2, *GRID), dtype=np.float32)  # [step, frame, y, x]
        steps = [make_metadata(word, step=s, video_id=video_id, num_steps=2) for s in (0, 1)]
        store.save_steps(steps, stack)
        base = dataclasses.replace(make_metadata(word, step=None, video_id=video_id), steps_used=(0, 1))
        store.save_aggregated(base, stack.mean(axis=0))
    if complete:
        store.mark_complete(video_id, {"video_id": video_id})


def averages(path: Path) -> dict[str, dict[str, np.ndarray]]:
    reader = PackedReader(path)
    out: dict[str, dict[str, np.ndarray]] = {}
    for word in WORDS:
        found = reader.aggregates(word)
        assert found is not None
        ids, data = found.read_all()  # [video, frame, y, x]
        out[word] = dict(zip(ids, data, strict=True))
    return out


def test_staged_averages_are_read_and_merged_in_video_order(tmp_path: Path) -> None:
    path = tmp_path / "attention_maps.zarr"
    store = PackedVideoStore(path)
    for i in (3, 1):
        write_video(store, f"prompt_001_vid_00{i}", i)
    write_video(store, "prompt_001_vid_002", 2, complete=False)  # unfinished: left out, left staged
    staged = PackedReader(path).find_aggregated("prompt_001_vid_003", "dog")
    assert staged is not None  # read from _staged/ before the merge
    assert consolidate_averages(path) == 2
    merged = averages(path)
    assert list(merged["dog"]) == ["prompt_001_vid_001", "prompt_001_vid_003"]
    assert np.array_equal(merged["dog"]["prompt_001_vid_003"], staged.attention_map)
    assert sorted(p.name for p in (path / "_staged").iterdir() if p.is_dir()) == ["prompt_001_vid_002"]
    assert consolidate_averages(path) == 0  # nothing new: nothing rewritten
    store.mark_complete("prompt_001_vid_002", {"video_id": "prompt_001_vid_002"})
    assert consolidate_averages(path) == 1
    assert list(averages(path)["red car"]) == [f"prompt_001_vid_00{i}" for i in (1, 2, 3)]
    assert not (path / "_staged").exists()


def test_a_merge_killed_between_its_renames_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "attention_maps.zarr"
    store = PackedVideoStore(path)
    write_video(store, "prompt_001_vid_001", 1)
    consolidate_averages(path)
    before = averages(path)
    write_video(store, "prompt_001_vid_002", 2)
    # killed after moving the live _aggregated/ aside, with the new one half built
    (path / "_aggregated").rename(path / OLD_AGGREGATES)
    (path / NEW_AGGREGATES).mkdir()
    assert consolidate_averages(path) == 1
    after = averages(path)
    assert np.array_equal(after["dog"]["prompt_001_vid_001"], before["dog"]["prompt_001_vid_001"])
    assert list(after["dog"]) == ["prompt_001_vid_001", "prompt_001_vid_002"]
    assert not (path / OLD_AGGREGATES).exists() and not (path / NEW_AGGREGATES).exists()


def test_a_redone_video_leaves_the_merged_averages_until_it_is_complete_again(tmp_path: Path) -> None:
    path = tmp_path / "attention_maps.zarr"
    store = PackedVideoStore(path)
    for i in (1, 2):
        write_video(store, f"prompt_001_vid_00{i}", i)
    consolidate_averages(path)
    store.remove_video("prompt_001_vid_002")  # being redone (and failed)
    assert consolidate_averages(path) == 0
    assert list(averages(path)["dog"]) == ["prompt_001_vid_001"]


def test_a_finished_video_is_verified_file_by_file(tmp_path: Path) -> None:
    path = tmp_path / "attention_maps.zarr"
    store = PackedVideoStore(path)
    write_video(store, "prompt_001_vid_001", 1)
    write_video(store, "prompt_001_vid_002", 2, complete=False)
    assert packed_video_problems(path, "prompt_001_vid_001") == []
    assert packed_video_problems(path, "prompt_001_vid_002") == [
        ("zarr.json", "zarr.json says the video is unfinished")
    ]
    assert packed_video_problems(path, "prompt_001_vid_009") == [("zarr.json", "zarr.json is missing")]
    shard = path / "prompt_001_vid_001" / "dog" / "c.0.0.0.0"
    shard.write_bytes(shard.read_bytes()[:-3])
    [(rel, problem)] = packed_video_problems(path, "prompt_001_vid_001", checksums=False)
    assert rel == "dog/c.0.0.0.0" and "truncated" in problem


def test_word_averages_see_the_staged_averages_before_the_batch_end(tmp_path: Path) -> None:
    path = tmp_path / "attention_maps.zarr"
    store = PackedVideoStore(path)
    for i in (1, 2):
        write_video(store, f"prompt_001_vid_00{i}", i)
    before = word_averages(path, "dog")  # nothing merged yet: all from _staged/
    assert before.video.values.tolist() == ["prompt_001_vid_001", "prompt_001_vid_002"]
    assert consolidate_averages(path) == 2
    write_video(store, "prompt_001_vid_003", 3)  # a video finished after the merge: staged again
    after = word_averages(path, "dog")
    assert after.video.values.tolist() == [f"prompt_001_vid_00{i}" for i in (1, 2, 3)]
    np.testing.assert_array_equal(after.sel(video=before.video.values).values, before.values)
    staged = PackedReader(path).find_aggregated("prompt_001_vid_003", "dog")
    assert staged is not None
    np.testing.assert_array_equal(after.sel(video="prompt_001_vid_003").values, staged.attention_map)

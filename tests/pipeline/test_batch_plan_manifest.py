"""The pure parts of the batch: the plan (ids, seeds, paths, ranks) and the manifest schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from attention_visual.errors import AttentionDataError, ConfigError
from attention_visual.pipeline.distributed import RankContext
from attention_visual.pipeline.plan import jobs_for_rank, plan_batch
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch import manifest as bm
from pipeline.pipeline_support import tiny_config
from support.synthetic import batch_manifest


def test_plan_numbers_prompts_and_videos_and_derives_seeds(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, generation={"seed": 7, "videos_per_prompt": 3})
    jobs = plan_batch(config)
    assert [j.video_id for j in jobs] == [
        "prompt_001_vid_001",
        "prompt_001_vid_002",
        "prompt_001_vid_003",
        "prompt_002_vid_001",
        "prompt_002_vid_002",
        "prompt_002_vid_003",
    ]
    assert [j.seed for j in jobs] == [7, 8, 9, 10, 11, 12]
    assert jobs[4].words == ("dog", "beach")
    assert jobs[4].prompt.clean == "a small dog runs on the beach"
    assert jobs[4].video_path == "videos/prompt_002/video_002.mp4"
    assert jobs[4].attention_maps_path == "attention_maps/prompt_002_vid_002"
    assert jobs[4].status_path == "status/prompt_002_vid_002.json"
    assert (
        jobs[0].attention_video_path("kiss", "overlay", "mp4")
        == "videos/prompt_001/attention_videos/prompt_001_vid_001_kiss_overlay.mp4"
    )
    assert jobs[0].attention_video_path("kiss", "attention", "gif", "batch_end") == (
        "attention_videos/prompt_001_vid_001_kiss_attention.gif"
    )


def test_attention_video_names_are_safe_for_any_word(tmp_path: Path) -> None:
    job = plan_batch(tiny_config(tmp_path, prompts=["a (../red car) and a (Red Car)"]))[0]
    assert job.words == ("../red car", "Red Car")
    paths = [job.attention_video_path(w, "attention", "mp4") for w in job.words]
    assert len(set(paths)) == 2
    for word, path in zip(job.words, paths, strict=True):
        folder, name = path.rsplit("/", 1)
        assert folder == "videos/prompt_001/attention_videos"
        assert name == f"prompt_001_vid_001_{word_dir_name(word)}_attention.mp4"
        assert ".." not in name and " " not in name


def test_ranks_split_videos_round_robin(tmp_path: Path) -> None:
    jobs = plan_batch(tiny_config(tmp_path, generation={"videos_per_prompt": 3}))
    shares = [jobs_for_rank(jobs, r, 4) for r in range(4)]
    assert [[j.index for j in s] for s in shares] == [[0, 4], [1, 5], [2], [3]]
    assert sorted(j.video_id for s in shares for j in s) == sorted(j.video_id for j in jobs)


def test_rank_context_reads_torchrun_environment() -> None:
    assert RankContext.from_env({}) == RankContext(0, 1, 0)
    ctx = RankContext.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_distributed, ctx.is_main) == (3, 4, 1, True, False)
    assert ctx.device("cpu") == "cpu"
    assert RankContext().device("cuda:1") == "cuda:1"  # a plain run keeps the configured device
    with pytest.raises(ConfigError, match="RANK"):
        RankContext.from_env({"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(ConfigError, match="not an integer"):
        RankContext.from_env({"WORLD_SIZE": "two"})


def _record(status: str = "done") -> bm.VideoRecord:
    return bm.VideoRecord(
        video_id="prompt_001_vid_002",
        index=1,
        prompt_index=1,
        video_index=2,
        marked_prompt="a (cat) and a (red car)",
        clean_prompt="a cat and a red car",
        words=("cat", "red car"),
        seed=43,
        word_dirs={"cat": "cat", "red car": word_dir_name("red car")},
        status=status,
        error=None if status == "done" else "OutOfMemoryError: CUDA out of memory",
        rank=1,
        started="2025-01-01T00:00:00+00:00",
        finished="2025-01-01T00:01:00+00:00",
        timings=bm.Timings(generation_s=1.23456, capture_save_s=0.5, video_write_s=0.1, render_s=None),  # 1.235
        paths=bm.VideoPaths("videos/prompt_001/video_002.mp4", "attention_maps/prompt_001_vid_002", ("a.mp4",)),
        renders=(bm.RenderRecord("cat", "attention", "per_video", "a.mp4", "done"),),
    )


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    manifest = batch_manifest(
        "demo_20250101-000000",
        [bm.PromptRecord(1, "a (cat)", "a cat", ("cat",), ("prompt_001_vid_001", "prompt_001_vid_002"))],
        [_record(), _record("failed")],
        world_size=2,
        versions={"torch": "2.13"},
    )
    path = tmp_path / "manifest.json"
    bm.write_manifest(path, manifest)
    data = json.loads(path.read_text())
    assert data["schema_version"] == bm.MANIFEST_SCHEMA_VERSION
    assert data["counts"] == {"done": 1, "failed": 1, "pending": 0, "interrupted": 0, "render_failures": 0}
    assert data["videos"][0]["timings"]["generation_s"] == 1.235  # rounded to ms
    assert data["videos"][0]["paths"]["attention_videos"] == ["a.mp4"]
    assert data["videos"][0]["token_dirs"] == _record().word_dirs and "word_dirs" not in data["videos"][0]  # stored key
    back = bm.read_manifest(path)
    assert back.videos[1] == _record("failed")
    assert back.prompts == manifest.prompts
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(AttentionDataError, match="schema version 99"):
        bm.read_manifest(path)


def test_status_files_are_read_leniently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "status" / "prompt_001_vid_002.json"
    assert bm.read_status(path) is None
    bm.write_status(path, _record())
    assert bm.read_status(path) == _record()
    data = json.loads(path.read_text())
    data["video"]["a_field_from_the_future"] = 1  # added fields are ignored
    path.write_text(json.dumps(data))
    assert bm.read_status(path) == _record()
    path.write_text('{"schema_version": 1, "video": {"video_id"')  # truncated by hand
    assert bm.read_status(path) is None
    assert "will be redone" in caplog.text
    with pytest.raises(AttentionDataError, match="status must be one of"):
        bm.VideoRecord.from_dict({**_record().to_dict(), "status": "great"})


def test_current_records_prefer_each_videos_newer_status_file(tmp_path: Path) -> None:
    pending = dataclasses.replace(_record("pending"), error=None)
    other = dataclasses.replace(pending, video_id="prompt_001_vid_003", index=2, video_index=3)
    manifest = batch_manifest("demo", [], [pending, other])
    bm.write_manifest(tmp_path / "manifest.json", manifest)
    bm.write_status(tmp_path / "status" / "prompt_001_vid_002.json", _record())  # finished since the manifest
    bm.write_status(tmp_path / "status" / "prompt_001_vid_003.json", _record())  # names another video: ignored
    assert bm.current_records(tmp_path) == [_record(), other]
    assert bm.current_records(tmp_path, manifest) == [_record(), other]

"""Verified resume: completion marks list sizes and checksums; a rerun redoes only what fails them.

Also: a batch is finished only after its report exists, and a rerun of a batch whose report is
missing makes only the report (no video is regenerated, no new batch starts).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from attention_visual.cli.video_cmd import listing
from attention_visual.config import Config
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline.summary import BatchResult
from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import batch_dirs, snapshot, tiny_config

pytestmark = pytest.mark.slow  # full tiny batches

CONFIG_PATH = Path("tiny_test.yaml")


def run(config: Config, pipe: Any) -> BatchResult:
    return run_batch(config, CONFIG_PATH, BatchOptions(progress=False), pipe=pipe)


def owned(files: dict[str, Any], video_id: str, video_path: str) -> dict[str, Any]:
    return {k: v for k, v in files.items() if video_id in k or k == video_path}


def test_status_and_store_marks_list_sizes_and_checksums(tmp_path: Path, fresh_tiny_pipe: Any) -> None:
    result = run(tiny_config(tmp_path, generation={"videos_per_prompt": 1}), fresh_tiny_pipe)
    batch = result.batch_dir
    status = json.loads((batch / "status/prompt_001_vid_001.json").read_text())["video"]
    listed = {f["path"]: f for f in status["files"]}
    assert set(listed) == {"videos/prompt_001/video_001.mp4", "attention_maps/prompt_001_vid_001/_complete.json"}
    video = batch / "videos/prompt_001/video_001.mp4"
    assert listed["videos/prompt_001/video_001.mp4"]["size"] == video.stat().st_size
    mark = json.loads((batch / "attention_maps/prompt_001_vid_001/_complete.json").read_text())
    covered = {c["path"] for c in mark["checksums"]}
    assert "kiss/step_000.npz" in covered and "aggregated/kiss_aggregated_metadata.json" in covered
    assert all(len(c["sha256"]) == 64 for c in mark["checksums"])


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_map_of_a_finished_video_is_found_and_only_that_video_is_redone(
    tmp_path: Path, fresh_tiny_pipe: Any, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    config = tiny_config(tmp_path)
    first = run(config, fresh_tiny_pipe)
    assert first.exit_code == 0
    batch = first.batch_dir
    step = batch / "attention_maps/prompt_001_vid_002/kiss/step_001.npz"
    data = step.read_bytes()
    if damage == "truncate":
        step.write_bytes(data[: len(data) // 2])
        # --list-available does not report the damaged word as fine.
        text = listing(AttentionAnalyzer(batch / "attention_maps"), "prompt_001_vid_002")
        assert "'kiss': DAMAGED: kiss/step_001.npz is truncated" in text
        assert "'flowers': 2 step(s)" in text
    else:  # same size, one byte changed: only the checksum tells
        step.write_bytes(data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:])
    before = snapshot(batch)
    others = {k: v for k, v in before.items() if "prompt_001_vid_002" not in k and "video_002" not in k}
    others = {k: v for k, v in others.items() if k.startswith(("videos/", "attention_maps/", "status/"))}

    with caplog.at_level(logging.WARNING):
        again = run(config, fresh_tiny_pipe)
    assert again.exit_code == 0 and again.batch_dir == batch
    assert (again.generated, again.skipped) == (1, 3)
    problem = "truncated" if damage == "truncate" else "corrupted"
    assert f"prompt_001_vid_002: attention_maps/prompt_001_vid_002/kiss/step_001.npz is {problem}" in caplog.text
    after = snapshot(batch)
    assert {k: after.get(k) for k in others} == others  # the other videos were not touched
    assert after[str(step.relative_to(batch))] != before[str(step.relative_to(batch))]


def test_a_damaged_video_file_is_found(tmp_path: Path, fresh_tiny_pipe: Any, caplog: pytest.LogCaptureFixture) -> None:
    config = tiny_config(tmp_path, generation={"videos_per_prompt": 1})
    batch = run(config, fresh_tiny_pipe).batch_dir
    video = batch / "videos/prompt_002/video_001.mp4"
    video.write_bytes(video.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = run(config, fresh_tiny_pipe)
    assert (again.generated, again.skipped) == (1, 1)
    assert "prompt_002_vid_001: videos/prompt_002/video_001.mp4 is truncated" in caplog.text


def test_a_batch_whose_report_is_missing_is_resumed_and_makes_only_the_report(
    tmp_path: Path, fresh_tiny_pipe: Any
) -> None:
    config = tiny_config(
        tmp_path,
        generation={"videos_per_prompt": 1},
        attention_analysis={"auto_generate_videos": True, "generate_report": True},
    )
    first = run(config, fresh_tiny_pipe)
    assert first.exit_code == 0
    batch = first.batch_dir
    assert (batch / "report/index.html").is_file()
    assert json.loads((batch / "manifest.json").read_text())["finished"]
    # As after an interruption while the report was written: no page, the manifest not finished yet.
    (batch / "report/index.html").unlink()
    manifest = json.loads((batch / "manifest.json").read_text())
    (batch / "manifest.json").write_text(json.dumps({**manifest, "finished": None}))
    media = ("videos/", "attention_maps/", "attention_videos/")
    videos = {k: v for k, v in snapshot(batch).items() if k.startswith(media)}

    again = run(config, fresh_tiny_pipe)
    assert again.exit_code == 0 and again.batch_dir == batch and batch_dirs(tmp_path) == [batch]
    assert (again.generated, again.skipped) == (0, 2)
    assert (batch / "report/index.html").is_file()
    assert json.loads((batch / "manifest.json").read_text())["finished"]
    after = snapshot(batch)
    assert {k: after.get(k) for k in videos} == videos
    # Finished now: the next run of the same config starts a new batch.
    assert run(config, fresh_tiny_pipe).batch_dir != batch

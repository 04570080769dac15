"""The batch loop in-process on the tiny pipeline: layout, failures, render failures, Ctrl-C, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from attention_visual.config import Config
from attention_visual.pipeline import BatchOptions, format_summary, run_batch
from attention_visual.pipeline import batch as batch_module
from attention_visual.pipeline.summary import BatchResult, resume_hint
from attention_visual.visualization import AttentionAnalyzer
from attention_visual.visualization.attention_visualizer import AttentionVisualizer
from pipeline.pipeline_support import batch_dirs, snapshot, tiny_config

pytestmark = pytest.mark.slow  # full tiny batches

CONFIG_PATH = Path("tiny_test.yaml")
QUIET = BatchOptions(progress=False)


def run(config: Config, pipe: Any, **kw: Any) -> BatchResult:
    return run_batch(config, CONFIG_PATH, QUIET, pipe=pipe, **kw)


def manifest_of(result: BatchResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((result.batch_dir / "manifest.json").read_text())
    return data


def test_batch_writes_every_file_and_the_report(tmp_path: Path, fresh_tiny_pipe: Any) -> None:
    config = tiny_config(
        tmp_path,
        generation={"videos_per_prompt": 1},
        attention_analysis={"auto_generate_per_video": True, "auto_generate_videos": True, "generate_report": True},
    )
    result = run(config, fresh_tiny_pipe)
    assert result.exit_code == 0, format_summary(result)
    batch = result.batch_dir
    assert batch.parent == tmp_path and batch.name.startswith("tiny_test_")
    assert result.report_error is None
    assert "report/index.html" in set(snapshot(batch))
    names = set(snapshot(batch))
    for vid, folder, words in (("prompt_001_vid_001", "prompt_001", ("kiss", "flowers")),
                               ("prompt_002_vid_001", "prompt_002", ("dog", "beach"))):  # fmt: skip
        assert f"videos/{folder}/video_001.mp4" in names
        assert f"status/{vid}.json" in names
        assert f"attention_maps/{vid}/_complete.json" in names
        for word in words:
            assert f"attention_maps/{vid}/{word}/step_001.npz" in names
            for kind in ("attention", "overlay"):
                assert f"videos/{folder}/attention_videos/{vid}_{word}_{kind}.mp4" in names
                assert f"attention_videos/{vid}_{word}_{kind}.mp4" in names
    assert not [n for n in names if ".tmp-" in n]
    manifest = manifest_of(result)
    assert manifest["counts"]["done"] == 2 and manifest["finished"] is not None
    video = manifest["videos"][1]
    assert (video["video_id"], video["seed"], video["status"], video["rank"]) == ("prompt_002_vid_001", 43, "done", 0)
    assert len(video["renders"]) == 8 and all(r["status"] == "done" for r in video["renders"])
    assert all((batch / p).is_file() for p in video["paths"]["attention_videos"])
    assert video["timings"]["generation_s"] > 0 and video["timings"]["render_s"] > 0
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    assert analyzer.load_step("prompt_002_vid_001", "beach", 1).metadata.seed == 43
    summary = format_summary(result)
    assert "2 of 2 videos done" in summary and "4 marked (beach, dog, flowers, kiss)" in summary


def test_a_failed_video_is_recorded_and_the_batch_goes_on(
    tmp_path: Path, fresh_tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_module.generate_video

    def flaky(pipe: Any, job: Any, *args: Any) -> Any:
        if job.video_id == "prompt_001_vid_002":
            real(pipe, job, *args)  # files are written, then the "GPU" runs out of memory
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore details")
        return real(pipe, job, *args)

    monkeypatch.setattr(batch_module, "generate_video", flaky)
    config = tiny_config(tmp_path)
    result = run(config, fresh_tiny_pipe)
    assert result.exit_code == 1
    assert result.failed == (
        ("prompt_001_vid_002", "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    )
    statuses = [v["status"] for v in manifest_of(result)["videos"]]
    assert statuses == ["done", "failed", "done", "done"]
    assert not (result.batch_dir / "videos/prompt_001/video_002.mp4").exists()
    assert not (result.batch_dir / "attention_maps/prompt_001_vid_002").exists()
    assert "failed videos (1):" in format_summary(result)

    monkeypatch.setattr(batch_module, "generate_video", real)
    before = snapshot(result.batch_dir / "videos") | snapshot(result.batch_dir / "attention_maps")
    again = run(config, fresh_tiny_pipe)
    assert again.batch_dir == result.batch_dir and again.exit_code == 0
    assert (again.generated, again.skipped) == (1, 3)
    after = snapshot(result.batch_dir / "videos") | snapshot(result.batch_dir / "attention_maps")
    assert {k: v for k, v in after.items() if k in before} == before


def test_a_failed_render_keeps_the_video_and_is_retried_on_resume(
    tmp_path: Path, fresh_tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = AttentionVisualizer.generate_attention_video

    def no_overlays(self: AttentionVisualizer, video_id: str, word: str, output: Any, **kw: Any) -> Path:
        if kw.get("original_video_path") is not None:
            raise RuntimeError("codec exploded")
        return real(self, video_id, word, output, **kw)

    monkeypatch.setattr(AttentionVisualizer, "generate_attention_video", no_overlays)
    config = tiny_config(  # render_workers 0: the renders run here, where the patch is
        tmp_path, prompts=["a (dog) runs"], generation={"videos_per_prompt": 1},
        attention_analysis={"auto_generate_per_video": True, "render_workers": 0},
    )  # fmt: skip
    result = run(config, fresh_tiny_pipe)
    assert result.exit_code == 1 and not result.failed
    overlay = "videos/prompt_001/attention_videos/prompt_001_vid_001_dog_overlay.mp4"
    assert result.render_failures == ((overlay, "RuntimeError: codec exploded"),)
    video = manifest_of(result)["videos"][0]
    assert video["status"] == "done"
    assert video["paths"]["attention_videos"] == [overlay.replace("overlay", "attention")]
    assert (result.batch_dir / "videos/prompt_001/video_001.mp4").is_file()
    assert AttentionAnalyzer(result.batch_dir / "attention_maps").is_complete("prompt_001_vid_001")

    monkeypatch.setattr(AttentionVisualizer, "generate_attention_video", real)
    kept = snapshot(result.batch_dir / "videos/prompt_001")
    again = run(config, fresh_tiny_pipe)
    assert again.exit_code == 0 and (again.generated, again.skipped) == (0, 1)
    assert (again.batch_dir / overlay).is_file()
    assert {k: v for k, v in snapshot(result.batch_dir / "videos/prompt_001").items() if k in kept} == kept
    assert [r["status"] for r in manifest_of(again)["videos"][0]["renders"]] == ["done", "done"]


def test_ctrl_c_stops_cleanly_and_the_rerun_completes(
    tmp_path: Path, fresh_tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_module.generate_video

    def interrupted(pipe: Any, job: Any, *args: Any) -> Any:
        if job.index == 1:
            raise KeyboardInterrupt
        return real(pipe, job, *args)

    monkeypatch.setattr(batch_module, "generate_video", interrupted)
    config = tiny_config(tmp_path)
    result = run(config, fresh_tiny_pipe)
    assert result.interrupted and result.exit_code == 130
    assert (
        resume_hint(result.batch_dir) == f"interrupted: run the same command again to resume batch {result.batch_dir}"
    )
    assert "3 not done" in format_summary(result)
    videos = manifest_of(result)["videos"]
    assert [v["status"] for v in videos] == ["done", "interrupted", "pending", "pending"]
    assert manifest_of(result)["finished"] is None

    monkeypatch.setattr(batch_module, "generate_video", real)
    before = snapshot(result.batch_dir)
    first = {k: v for k, v in before.items() if "prompt_001_vid_001" in k or k == "videos/prompt_001/video_001.mp4"}
    assert len(first) > 5
    again = run(config, fresh_tiny_pipe)
    assert again.batch_dir == result.batch_dir and again.exit_code == 0
    assert (again.generated, again.skipped) == (3, 1)
    after = snapshot(result.batch_dir)
    assert {k: after.get(k) for k in first} == first  # nothing finished was rewritten
    assert [v["status"] for v in manifest_of(again)["videos"]] == ["done"] * 4
    assert len(batch_dirs(tmp_path)) == 1


def test_a_prompt_without_marked_words_still_makes_its_video(tmp_path: Path, fresh_tiny_pipe: Any) -> None:
    config = tiny_config(
        tmp_path, prompts=["a dog on a beach"], generation={"videos_per_prompt": 1},
        attention_analysis={"auto_generate_per_video": True},
    )  # fmt: skip
    result = run(config, fresh_tiny_pipe)
    assert result.exit_code == 0
    video = manifest_of(result)["videos"][0]
    assert (video["status"], video["words"], video["paths"]["attention_maps"]) == ("done", [], None)
    assert (result.batch_dir / "videos/prompt_001/video_001.mp4").is_file()
    assert not (result.batch_dir / "attention_maps").exists()


def test_a_failing_report_is_one_line_and_does_not_raise(tmp_path: Path) -> None:
    error = batch_module._write_report(tmp_path / "not_a_batch")
    assert error is not None and error.startswith("NotFoundError: ") and "\n" not in error

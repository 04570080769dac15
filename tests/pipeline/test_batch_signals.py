"""SIGTERM and SIGHUP stop a batch like Ctrl-C: partial files removed, ffmpeg ended, manifest and hint written."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_visual.config import Config
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline import batch as batch_module
from attention_visual.pipeline.signals import Interrupted, interrupts_as_exceptions, raise_if_swallowed, signals_held
from attention_visual.pipeline.summary import BatchResult
from attention_visual.render.encoder import VideoWriter
from pipeline.chaos_support import alive, done_statuses, fork_cli, wait_exit
from pipeline.pipeline_support import snapshot, tiny_config, tiny_data, write_config

CONFIG_PATH = Path("tiny_test.yaml")


def run(config: Config, pipe: Any) -> BatchResult:
    return run_batch(config, CONFIG_PATH, BatchOptions(progress=False), pipe=pipe)


def test_sigterm_and_sighup_raise_once_and_the_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as info, interrupts_as_exceptions():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert info.value.exit_status == 143 and isinstance(info.value, KeyboardInterrupt)
    with interrupts_as_exceptions():
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)
        except Interrupted as exc:
            assert exc.exit_status == 129
            os.kill(os.getpid(), signal.SIGTERM)  # a second signal while cleaning up is ignored
            time.sleep(0.1)
    assert signal.getsignal(signal.SIGTERM) is before


class _SignalsInDel:
    """Sends SIGTERM to its own process from ``__del__``, where Python drops the handler's exception."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler runs between these bytecodes; its exception is ignored
            time.sleep(0.001)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop this test makes
def test_a_signal_held_while_a_worker_starts_stops_the_run_after_the_start() -> None:
    """signals_held: a SIGTERM while a child process starts interrupts neither the start nor the child's
    interpreter start-up; the parent is interrupted when the start is done, the child (which inherited
    the block) stops quietly once its handlers are in place."""
    from attention_visual.pipeline.workers import WorkerPool

    with pytest.raises(Interrupted) as info, interrupts_as_exceptions(), signals_held():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # not interrupted in here
        reached_the_end = True
    assert reached_the_end and info.value.signum == signal.SIGTERM
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # the block ended
    with WorkerPool(1, queue_size=1) as pool:  # started inside signals_held: the worker unblocked them
        worker = pool._pool[0].process
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGTERM)  # in its start-up (held) or in its loop: it ends quietly
        deadline = time.monotonic() + 30
        while worker.exitcode is None and time.monotonic() < deadline:  # the pool's dispatcher reaps it
            time.sleep(0.05)
        assert worker.exitcode == 0  # its own SIGTERM handler ran: not killed by the signal (-15)


def test_a_signal_dropped_inside_a_destructor_is_raised_at_the_next_safe_point() -> None:
    raise_if_swallowed()  # outside the context: nothing received, nothing raised
    with pytest.raises(Interrupted) as info, interrupts_as_exceptions():
        holder = _SignalsInDel()
        del holder  # "Exception ignored in ... __del__": the run would go on
        raise_if_swallowed()
    assert info.value.exit_status == 143
    raise_if_swallowed()  # the handlers are restored: nothing pending any more


def test_an_interrupted_encoder_ends_ffmpeg_and_removes_its_temporary_file(tmp_path: Path) -> None:
    frame = np.zeros((32, 48, 3), dtype=np.uint8)  # [H, W, 3]
    with pytest.raises(Interrupted), VideoWriter(tmp_path / "v.mp4", width=48, height=32, fps=8) as writer:
        writer.write(frame)
        ffmpeg = writer._proc
        assert ffmpeg is not None and ffmpeg.poll() is None
        raise Interrupted(signal.SIGTERM)
    assert ffmpeg.poll() is not None  # ended and reaped
    assert list(tmp_path.iterdir()) == []


def test_sigterm_in_the_batch_abandons_the_video_in_flight(
    tmp_path: Path, fresh_tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_module.generate_video

    def terminated_while_saving_maps(pipe: Any, job: Any, config: Any, batch_dir: Path, *args: Any) -> Any:
        if job.index == 1:  # a partial video and maps on disk, as when SIGTERM lands mid-video
            (batch_dir / job.attention_maps_path / "kiss").mkdir(parents=True)
            (batch_dir / job.attention_maps_path / "kiss" / "step_000.npz").write_bytes(b"partial")
            (batch_dir / job.video_path).write_bytes(b"partial")
            raise Interrupted(signal.SIGTERM)
        return real(pipe, job, config, batch_dir, *args)

    monkeypatch.setattr(batch_module, "generate_video", terminated_while_saving_maps)
    result = run(tiny_config(tmp_path), fresh_tiny_pipe)
    assert result.interrupted and result.exit_code == 143
    manifest = json.loads((result.batch_dir / "manifest.json").read_text())
    assert [v["status"] for v in manifest["videos"]] == ["done", "interrupted", "pending", "pending"]
    assert manifest["videos"][1]["error"] == "interrupted by SIGTERM"
    left = snapshot(result.batch_dir)
    assert not [k for k in left if "prompt_001_vid_002" in k and not k.startswith("status/")]
    assert "videos/prompt_001/video_002.mp4" not in left


def test_sigterm_with_renders_queued_records_them_and_the_rerun_makes_them(
    tmp_path: Path, fresh_tiny_pipe: Any
) -> None:
    """The render workers are still at the first videos' attention videos when SIGTERM stops the batch:
    those videos stay done, their status files list what was not made, and the rerun makes exactly that."""
    import torch

    from attention_visual.pipeline.generation import generate_video

    analysis = {"auto_generate_per_video": True, "generate_report": True, "render_workers": 1}
    config = tiny_config(tmp_path, batch_name="b", attention_analysis=analysis)

    def third_is_interrupted(job: Any, batch_dir: Path, maps: Any) -> Any:
        if job.index == 2:
            raise Interrupted(signal.SIGTERM)
        settings = batch_module.capture_settings(config)
        return generate_video(fresh_tiny_pipe, job, config, batch_dir, torch.device("cpu"), settings, maps)

    result = run_batch(config, CONFIG_PATH, BatchOptions(progress=False), generator=third_is_interrupted)
    assert result.exit_code == 143
    videos = json.loads((result.batch_dir / "manifest.json").read_text())["videos"]
    assert [v["status"] for v in videos] == ["done", "done", "interrupted", "pending"]
    queued = videos[1]["queued"]  # the worker was still at the first video's: its work had not started
    assert queued == [
        "videos/prompt_001/attention_videos/prompt_001_vid_002_kiss_attention.mp4",
        "videos/prompt_001/attention_videos/prompt_001_vid_002_kiss_overlay.mp4",
        "videos/prompt_001/attention_videos/prompt_001_vid_002_flowers_attention.mp4",
        "videos/prompt_001/attention_videos/prompt_001_vid_002_flowers_overlay.mp4",
        "report/maps/prompt_001_vid_002/assets.json",
    ]
    assert not (result.batch_dir / queued[0]).exists()
    assert not [k for k in snapshot(result.batch_dir) if ".tmp-" in k]

    again = run(config, fresh_tiny_pipe)
    assert again.exit_code == 0 and (again.generated, again.skipped) == (2, 2)
    manifest = json.loads((again.batch_dir / "manifest.json").read_text())
    assert manifest["finished"] and not [v["video_id"] for v in manifest["videos"] if v["queued"]]
    status = json.loads((again.batch_dir / "status/prompt_001_vid_002.json").read_text())["video"]
    assert {f["path"] for f in status["files"]} >= set(queued[:4])
    assert all((again.batch_dir / q).is_file() for q in queued)


def test_an_interruption_while_the_report_is_written_leaves_the_batch_unfinished(
    tmp_path: Path, fresh_tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def report_interrupted(batch_dir: Path) -> None:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(batch_module, "_write_report", report_interrupted)
    config = tiny_config(tmp_path, generation={"videos_per_prompt": 1}, attention_analysis={"generate_report": True})
    result = run(config, fresh_tiny_pipe)
    assert result.exit_code == 143
    manifest = json.loads((result.batch_dir / "manifest.json").read_text())
    assert manifest["counts"]["done"] == 2 and manifest["finished"] is None
    monkeypatch.undo()
    again = run(config, fresh_tiny_pipe)
    assert again.batch_dir == result.batch_dir and (again.generated, again.skipped) == (0, 2)
    assert (again.batch_dir / "report/index.html").is_file()


def test_a_rerun_removes_temporary_files_a_kill_9_left(tmp_path: Path, fresh_tiny_pipe: Any) -> None:
    config = tiny_config(tmp_path, batch_name="b", generation={"videos_per_prompt": 1})
    batch = run(config, fresh_tiny_pipe).batch_dir
    left = [
        batch / "videos/prompt_001/.video_001.mp4.tmp-k9abc.mp4",
        batch / "status/.prompt_001_vid_001.json.tmp-k9def",
        batch / ".manifest.json.tmp-k9ghi",
        batch / "attention_maps/prompt_002_vid_001/kiss/.step_000.npz.tmp-k9jkl",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    run(config, fresh_tiny_pipe)
    assert not [p for p in left if p.exists()]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_real_signal_to_generate_writes_the_manifest_and_the_resume_hint(
    tmp_path: Path, signum: int, status: int
) -> None:
    data = tiny_data(tmp_path / "out", batch_name="b", attention_analysis={"auto_generate_per_video": True})
    config = write_config(tmp_path / "c.yaml", data)
    batch = tmp_path / "out" / "b"
    pid = fork_cli(["generate", str(config), "--no-progress"], tmp_path / "log")
    while done_statuses(batch) < 1:  # the second video, or the first one's renders, are in flight
        assert alive(pid), (tmp_path / "log").read_text()[-3000:]
        time.sleep(0.005)
    os.kill(pid, signum)
    assert wait_exit(pid) == status
    log = (tmp_path / "log").read_text()
    assert log.rstrip().splitlines()[-1] == f"interrupted: run the same command again to resume batch {batch}"
    assert "Traceback" not in log
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["counts"]["done"] >= 1 and manifest["finished"] is None
    assert not [k for k in snapshot(batch) if ".tmp-" in k]

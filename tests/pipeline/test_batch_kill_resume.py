"""Resume for real: Ctrl-C (SIGINT) and then ``kill -9`` a running batch, rerun it, and check that
the rerun completes it without touching any finished file.

The runs are real processes that get real signals, forked from the test process (``chaos_support``:
no second start of torch per run)."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from attention_visual.config import load_config
from attention_visual.pipeline.plan import plan_batch
from attention_visual.pipeline.resume import expected_renders, is_video_finished
from attention_visual.storage.packed.reader import STAGED_GROUP
from attention_visual.visualization import AttentionAnalyzer
from pipeline.chaos_support import alive, fork_cli, wait_exit
from pipeline.pipeline_support import batch_dirs, snapshot, tiny_data, write_config
from support.processes import signal_run, wait_ended

TIMEOUT = 120


def done_count(output_dir: Path, *, queued: bool = False) -> int:
    """Status files saying ``done`` in the (single) batch folder under ``output_dir`` (``queued``: those
    that list files the render workers have not made yet)."""
    count = 0
    for path in output_dir.glob("*/status/*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            video = json.loads(path.read_text())["video"]
            count += video["status"] == "done" and (bool(video.get("queued")) or not queued)
    return count


def start(config: Path, log: Path) -> int:
    """``attention-visual generate CONFIG`` as a forked process writing to ``log``; its pid."""
    return fork_cli(["generate", str(config), "--no-progress"], log)


def wait_for_done(pid: int, log: Path, output_dir: Path, at_least: int, *, queued: bool = False) -> None:
    deadline = time.monotonic() + TIMEOUT
    while done_count(output_dir, queued=queued) < at_least:
        assert alive(pid), f"the batch ended early: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "timed out waiting for a finished video"
        time.sleep(0.02)


def finished_files(batch: Path, config_path: Path) -> dict[str, tuple[int, int, int]]:
    """Snapshot of every file that belongs to a finished video.

    A video stopped while its attention videos rendered (or waited for a render worker) is finished,
    but the rerun renders the missing ones and records them in its status file: that status file is
    left out.
    """
    config = load_config(config_path)
    files = snapshot(batch)
    keep = {}
    for job in plan_batch(config):
        if is_video_finished(batch, job, config):
            owned = (job.video_id, job.video_path)
            # (the packed store's staged step averages move into _aggregated/ when the batch ends)
            keep.update({k: v for k, v in files.items() if any(o in k for o in owned) and STAGED_GROUP not in k})
            status = json.loads((batch / job.status_path).read_text())["video"]
            if status["queued"] or not all((batch / rel).is_file() for rel in expected_renders(job, config)):
                del keep[job.status_path]
    return keep


@pytest.mark.slow
@pytest.mark.parametrize("storage_format", ["numpy", "zarr"])  # the files layout, the packed store
def test_interrupted_and_killed_batches_resume_without_rewriting_finished_files(
    tmp_path: Path, storage_format: str
) -> None:
    out = tmp_path / "outputs"
    analysis = {"auto_generate_per_video": True, "storage_format": storage_format}
    data = tiny_data(out, attention_analysis=analysis)  # 4 videos, ~1 s each
    config_path = write_config(tmp_path / "kill_demo.yaml", data)

    # 1. Ctrl-C after the first video: exit 130, the resume hint, an interrupted manifest.
    log = tmp_path / "interrupted.log"
    pid = start(config_path, log)
    wait_for_done(pid, log, out, 1)
    signal_run(pid, signal.SIGINT)
    code, err = wait_exit(pid, TIMEOUT), log.read_text()
    assert code == 130, err[-2000:]
    [batch] = batch_dirs(out)
    assert f"interrupted: run the same command again to resume batch {batch}" in err
    statuses = [v["status"] for v in json.loads((batch / "manifest.json").read_text())["videos"]]
    # The video in flight is "interrupted"; one stopped while its attention videos rendered stays "done".
    assert 1 <= statuses.count("done") < 4 and set(statuses) <= {"done", "interrupted", "pending"}

    # 2. kill -9 after one more video, while its attention videos wait for (or are in) a render worker.
    before = done_count(out)
    log = tmp_path / "killed.log"
    pid = start(config_path, log)
    wait_for_done(pid, log, out, before + 1)
    wait_for_done(pid, log, out, 1, queued=True)
    encoders = signal_run(pid, signal.SIGKILL)  # the render workers and their ffmpeg among them
    assert wait_exit(pid, TIMEOUT) == -signal.SIGKILL
    wait_ended(encoders)  # workers see their parent gone; an orphaned ffmpeg writes on until its input closes
    done_after_kill = done_count(out)
    assert done_after_kill < 4, "the batch finished before it could be killed"
    assert done_count(out, queued=True) >= 1  # what the workers had not made is recorded
    kept = finished_files(batch, config_path)
    assert len(kept) > 10

    # 3. The same command again: resumes the same batch, redoes only what is unfinished.
    log = tmp_path / "rerun.log"
    assert wait_exit(start(config_path, log), TIMEOUT) == 0, log.read_text()[-3000:]
    assert f"resuming batch {batch.name}: {done_after_kill} of 4 videos done" in log.read_text()
    assert batch_dirs(out) == [batch]
    after = snapshot(batch)
    assert {k: after.get(k) for k in kept} == kept  # nothing finished was rewritten
    manifest = json.loads((batch / "manifest.json").read_text())
    assert [v["status"] for v in manifest["videos"]] == ["done"] * 4 and manifest["finished"]
    assert all((batch / v["paths"]["video"]).is_file() for v in manifest["videos"])
    assert all(len(v["paths"]["attention_videos"]) == 4 and not v["queued"] for v in manifest["videos"])
    assert not [k for k in after if ".tmp-" in k]
    if storage_format == "zarr":
        assert not [k for k in after if STAGED_GROUP in k] and not (batch / "attention_maps").exists()
        analyzer = AttentionAnalyzer(batch / "attention_maps")  # reads the packed store
        for video in manifest["videos"]:
            for word in video["words"]:
                steps = analyzer.load_all_steps(video["video_id"], word)
                mean = np.mean([s.attention_map for s in steps], axis=0)
                average = analyzer.load_aggregated(video["video_id"], word).attention_map
                np.testing.assert_allclose(average, mean, rtol=1e-5, atol=1e-7)

"""One writer per batch: the OS lock, the refusal of a second run, and default names passing over held batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from attention_visual.cli.main import main
from attention_visual.errors import BatchBusyError
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline.plan import plan_batch
from attention_visual.pipeline.resume import choose_batch_dir, prepare_batch_dir
from attention_visual.storage.batch.lock import LOCK_FILE, BatchLock, read_holder
from pipeline.pipeline_support import snapshot, tiny_config, tiny_data, write_config

REPO_SRC = Path(__file__).resolve().parents[2] / "src"


def hold_in_child(batch: Path) -> subprocess.Popen[str]:
    """A child process that takes ``batch``'s lock and holds it until it is killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from attention_visual.storage.batch.lock import BatchLock
        lock = BatchLock.acquire(Path({str(batch)!r}))
        print("locked", flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO_SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_held_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    batch = tmp_path / "b"
    proc = hold_in_child(batch)
    try:
        with pytest.raises(
            BatchBusyError, match=rf"in use by another run \(generate, pid {proc.pid} on host .+ since 20"
        ):
            BatchLock.acquire(batch)
        assert read_holder(batch).pid == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)  # kill -9: the kernel releases the lock, nothing stale is left
        proc.wait()
    with BatchLock.acquire(batch) as lock:
        assert lock.held and read_holder(batch).pid == os.getpid()
    assert not lock.held and (batch / LOCK_FILE).is_file()


def test_a_second_generate_on_a_held_batch_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out", batch_name="busy"))
    proc = hold_in_child(tmp_path / "out" / "busy")
    try:
        assert main(["generate", str(config), "--no-progress"]) == 2
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attention-visual: error: batch folder")
    assert f"pid {proc.pid}" in err[0] and "--set batch_name=" in err[0]
    assert not (tmp_path / "out" / "busy" / "config.yaml").exists()  # nothing was prepared


def test_overwrite_of_a_held_batch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out", batch_name="busy"))
    (tmp_path / "out" / "busy").mkdir(parents=True)
    (tmp_path / "out" / "busy" / "keep.txt").write_text("the other run's")
    proc = hold_in_child(tmp_path / "out" / "busy")
    try:
        assert main(["generate", str(config), "--overwrite", "--no-progress"]) == 2
    finally:
        proc.kill()
        proc.wait()
    assert "--overwrite cannot clear a batch in use" in capsys.readouterr().err
    assert (tmp_path / "out" / "busy" / "keep.txt").read_text() == "the other run's"


def test_a_run_without_batch_name_starts_a_new_batch_beside_a_held_one(tmp_path: Path, fresh_tiny_pipe: Any) -> None:
    config = tiny_config(tmp_path, generation={"videos_per_prompt": 1})
    held = choose_batch_dir(config, Path("tiny_test.yaml"), plan_batch(config))
    prepare_batch_dir(held, config)  # an unfinished batch of the same config: normally resumed
    proc = hold_in_child(held.path)
    before = snapshot(held.path)
    try:
        result = run_batch(config, Path("tiny_test.yaml"), BatchOptions(progress=False), pipe=fresh_tiny_pipe)
    finally:
        proc.kill()
        proc.wait()
    assert result.exit_code == 0 and result.batch_dir != held.path and result.batch_dir.parent == tmp_path
    assert snapshot(held.path) == before

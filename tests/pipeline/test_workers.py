"""The worker pool: spawned processes, a bounded queue, failures, deaths, stopping, and parents that die."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attention_visual.pipeline.workers import WorkerPool
from pipeline.pipeline_support import cli_env
from pipeline.worker_tasks import die, fail, log_warning, pid, sleep, square


def _alive(process_id: int) -> bool:
    """Whether the process runs (a zombie nobody reaped yet counts as ended)."""
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{process_id}/status")
    return not (status.is_file() and "\nState:\tZ" in status.read_text())


def test_tasks_run_in_spawned_processes_and_their_results_and_logs_come_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), WorkerPool(2, queue_size=2) as pool:
        for i in range(5):
            pool.submit(f"square {i}", square, float(i))
        pool.submit("pid", pid, None)
        pool.submit("log", log_warning, "hello from a worker")
        pool.submit("fail", fail, "no such thing")
        done = {d.key: d for d in pool.wait_all()}
    assert {k: d.value for k, d in done.items() if k.startswith("square")} == {f"square {i}": i * i for i in range(5)}
    assert done["pid"].value != os.getpid() and done["pid"].error is None
    assert done["fail"].value is None and done["fail"].error == "ValueError: no such thing"
    hello = [r for r in caplog.records if r.getMessage().startswith("hello from a worker (from pid ")]
    assert len(hello) == 1 and hello[0].name == "attention_visual.tests.worker_tasks"
    assert pool.poll() == [] and pool.in_flight == 0


def test_submit_next_jumps_the_queue_without_waiting() -> None:
    with WorkerPool(1, queue_size=1) as pool:
        pool.submit("warm", sleep, 0.0)
        pool.wait_all()
        pool.submit("running", sleep, 0.5)
        time.sleep(0.2)
        pool.submit("queued", sleep, 0.0)
        started = time.perf_counter()
        assert pool.submit_next("first", sleep, 0.0)  # the queue is full, yet it does not wait
        assert time.perf_counter() - started < 0.2
        assert [d.key for d in pool.wait_all()] == ["running", "first", "queued"]


def test_a_full_queue_makes_submit_wait() -> None:
    with WorkerPool(1, queue_size=1) as pool:
        pool.submit("running", sleep, 0.0)  # warms the worker up (spawned: a second or more)
        pool.wait_all()
        started = time.perf_counter()
        pool.submit("a", sleep, 1.0)  # runs
        pool.submit("b", sleep, 0.0)  # waits in the queue
        assert pool.waited_s < 0.5
        pool.submit("c", sleep, 0.0)  # the queue is full: waits until "a" ends and "b" starts
        assert time.perf_counter() - started >= 0.9 and pool.waited_s >= 0.5
        assert [d.key for d in pool.wait_all()] == ["a", "b", "c"]


def test_a_worker_that_dies_fails_its_task_and_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    with WorkerPool(1, queue_size=2) as pool:
        pool.submit("before", pid, None)
        pool.submit("dies", die, 3)
        pool.submit("after", pid, None)
        done = {d.key: d for d in pool.wait_all()}
    assert done["dies"].error == "its worker process ended unexpectedly (exit status 3)"
    assert done["before"].value != done["after"].value  # another process took over
    assert "starting another" in caplog.text


def test_stop_drops_the_queue_and_ends_running_tasks_at_once() -> None:
    pool = WorkerPool(1, queue_size=3)
    pool.submit("first", pid, None)
    worker = pool.wait_all()[0].value
    pool.submit("long", sleep, 60.0)
    pool.submit("queued", sleep, 0.0)
    time.sleep(0.5)
    started = time.perf_counter()
    assert pool.stop() == []  # neither the cut task nor the dropped one is reported
    assert time.perf_counter() - started < 5 and not _alive(worker)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit("late", pid, None)


def test_no_workers_runs_the_tasks_here() -> None:
    pool = WorkerPool(0, queue_size=1)
    pool.submit("pid", pid, None)
    pool.submit("fail", fail, "here")
    assert [(d.value, d.error) for d in pool.poll()] == [(os.getpid(), None), (None, "ValueError: here")]
    assert not pool.submit_next("background", pid, None)  # background-only work is skipped
    pool.close()


def test_only_spawn_and_forkserver_are_allowed() -> None:
    with pytest.raises(ValueError, match="never fork"):
        WorkerPool(1, queue_size=1, context="fork")


PARENT = """
import sys, time
from attention_visual.pipeline.workers import WorkerPool
from pipeline.worker_tasks import pid, sleep
if __name__ == "__main__":
    pool = WorkerPool(1, queue_size=1)
    pool.submit("pid", pid, None)
    print(pool.wait_all()[0].value, flush=True)
    pool.submit("long", sleep, 120.0)
    time.sleep(120)
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT])
def test_a_worker_ends_with_its_parent_and_ignores_a_terminal_ctrl_c(tmp_path: Path, signum: int) -> None:
    """kill -9 of the batch ends its workers (their watchdog sees it); a Ctrl-C, which a terminal sends to
    the whole process group, is the batch's to act on: a worker ignores it."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**cli_env(), "PYTHONPATH": os.pathsep.join([*sys.path])}
    parent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    time.sleep(0.5)  # the long task is running
    if signum == signal.SIGINT:
        os.kill(worker, signal.SIGINT)
        time.sleep(0.5)
        assert _alive(worker)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)

"""Helpers of the chaos test: CLI runs forked from the test process, fault triggers, batch comparison.

Each run of ``attention-visual generate`` is a real process that receives real signals, but it is
forked from the test process (which has torch, diffusers and matplotlib imported already) instead of
started from scratch: that saves the ~10 s of imports per run that would make 40 runs too slow for CI.
The child gets its own stdout/stderr file, the default signal dispositions and a fresh logging
setup, then calls the CLI's ``main`` and leaves with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

# What a run imports lazily is imported here, once: the forked runs start faster, and they run the
# code the test started with.
import attention_visual.pipeline.batch
import attention_visual.report  # noqa: F401
from attention_visual.cli.main import build_parser, main
from attention_visual.render.video_reader import probe_video, read_frames
from attention_visual.storage import read_array

build_parser()  # imports every subcommand's module

#: Keys compared by other means (maps by their arrays) or that differ between any two runs (times, paths).
EXCLUDED_FROM_EQUALITY = (
    "storage_timestamp",
    "started",
    "finished",
    "updated",
    "created",
    "timings",
    "files",
    "checksums",
    "config_path",
)


def fork_cli(argv: list[str], log_path: Path, *, max_file_size: int | None = None) -> int:
    """Start ``attention-visual ARGV`` in a forked child; return its pid (reap it with :func:`wait_exit`).

    ``max_file_size`` sets the child's ``RLIMIT_FSIZE`` (with SIGXFSZ ignored, so a write past it
    fails with EFBIG, "File too large", in the child and in the ffmpeg it starts).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:  # the child: never return into pytest
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        for handler in list(logging.root.handlers):
            logging.root.removeHandler(handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        if max_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))
        code = main(argv)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait_exit(pid: int, timeout: float = 300) -> int:
    """Wait for a forked child; its exit status, or ``-N`` when signal N killed it."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"run {pid} did not end within {timeout} s")
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether the child has not exited yet (it is not reaped here)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def wait_for(pid: int, condition: Callable[[], bool], timeout: float = 300, interval: float = 0.003) -> bool:
    """Poll ``condition`` every ``interval`` seconds while the child runs; False when it ended first."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if condition():
            return True
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a fault trigger")
        time.sleep(interval)
    return False


def done_statuses(batch: Path) -> int:
    """Status files saying ``done``."""
    count = 0
    for path in batch.glob("status/*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            count += json.loads(path.read_text())["video"]["status"] == "done"
    return count


def files_of(batch: Path) -> list[str]:
    """Every file under ``batch``, relative, sorted."""
    return sorted(str(p.relative_to(batch)) for p in batch.rglob("*") if p.is_file())


def strip_keys(data: Any, excluded: Collection[str] = EXCLUDED_FROM_EQUALITY) -> Any:
    """JSON ``data`` without the ``excluded`` keys, at any depth."""
    if isinstance(data, dict):
        return {k: strip_keys(v, excluded) for k, v in data.items() if k not in excluded}
    if isinstance(data, list):
        return [strip_keys(v, excluded) for v in data]
    return data


def iter_differences(batch: Path, reference: Path) -> Iterator[str | None]:
    """How ``batch`` differs from ``reference``, file by file: a problem, or None for a file that is equal.

    Files, map arrays (exactly), decoded video frames (exactly) and JSON contents with timestamps,
    timings and checksums of timestamped files left out. One item per file, so that a caller can
    interleave other work between them.
    """
    ours, theirs = files_of(batch), files_of(reference)
    if ours != theirs:
        extra, missing = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        yield f"files differ: extra {extra}, missing {missing}"
    for rel in sorted(set(ours) & set(theirs)):
        yield _difference(batch / rel, reference / rel, rel)


def _difference(a: Path, b: Path, rel: str) -> str | None:
    if rel.endswith((".npz", ".pt")):
        return None if np.array_equal(read_array(a), read_array(b)) else f"{rel}: map arrays differ"
    if rel.endswith(".mp4"):
        ia, ib = probe_video(a), probe_video(b)
        if (ia.width, ia.height, ia.frames) != (ib.width, ib.height, ib.frames):
            return f"{rel}: video sizes differ"
        for fa, fb in zip(read_frames(a, ia), read_frames(b, ib), strict=True):  # [H, W, 3] each
            if not np.array_equal(fa, fb):
                return f"{rel}: decoded frames differ"
        return None
    if rel.endswith(".json") and not rel.startswith("report/"):
        equal = strip_keys(json.loads(a.read_text())) == strip_keys(json.loads(b.read_text()))
        return None if equal else f"{rel}: contents differ (timestamps aside)"
    return None

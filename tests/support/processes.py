"""Signals to a real run and waits on what it started: for the kill, resume and chaos tests.

Import as ``from support.processes import signal_run, ended`` (tests/ is on pytest's pythonpath).

A run killed with SIGKILL leaves its ffmpeg encoders behind: they notice their closed input and
exit a moment later, writing on until then. Instead of sleeping "long enough", a test takes the
run's processes at the moment of the signal (:func:`signal_run`) and waits until they have all ended
(:func:`ended`, :func:`wait_ended`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence

import psutil


def deliver_signal(pid: int, signum: int) -> tuple[list[psutil.Process], bool]:
    """Send ``signum`` to the run ``pid``: the processes it had started at that moment, and whether it still ran.

    The run is stopped while its processes are listed, so that it can neither start another one nor exit in
    between; it gets ``signum`` and SIGCONT after that. A run that has ended already (a zombie not reaped yet,
    or gone) gets nothing: ``([], False)``.
    """
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return [], False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return [], False
        started = process.children(recursive=True)
    except psutil.NoSuchProcess:
        return [], False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
        os.kill(pid, signal.SIGCONT)
    return started, True


def signal_run(pid: int, signum: int) -> list[psutil.Process]:
    """Send ``signum`` to the run ``pid`` (:func:`deliver_signal`); return the processes it had started then."""
    return deliver_signal(pid, signum)[0]


def ended(processes: Sequence[psutil.Process]) -> bool:
    """Whether every one of ``processes`` has exited (a zombie nobody reaps yet counts as exited)."""
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def wait_ended(processes: Sequence[psutil.Process], timeout: float = 60) -> None:
    """Wait until :func:`ended`; fail naming the ones still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ended(processes):
        if time.monotonic() > deadline:
            raise AssertionError(f"still running {timeout} s after the signal: {processes}")
        time.sleep(0.01)

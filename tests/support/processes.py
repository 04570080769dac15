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


def signal_run(pid: int, signum: int) -> list[psutil.Process]:
    """Send ``signum`` to the run ``pid``; return the processes it had started at that moment.

    The run is stopped while its processes are listed, so that it cannot start another one in between;
    it gets ``signum`` and SIGCONT after that. A run that has ended already is no error.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
        try:
            started = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            started = []
        os.kill(pid, signum)
        os.kill(pid, signal.SIGCONT)
        return started
    return []


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

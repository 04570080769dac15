"""Task functions for the worker pool tests: module-level, so a spawned worker can import them by name.

Import as ``from pipeline.worker_tasks import ...`` (tests/ is on pytest's pythonpath, and a spawned
worker gets the same ``sys.path``).
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("attention_visual.tests.worker_tasks")


def square(x: float) -> float:
    return x * x


def pid(_: object) -> int:
    """The worker's process id."""
    return os.getpid()


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(message: str) -> None:
    raise ValueError(message)


def die(code: int) -> None:
    """End the worker process at once, as the kernel's out-of-memory killer would."""
    os._exit(code)


def log_warning(message: str) -> str:
    log.warning("%s (from pid %d)", message, os.getpid())
    return message

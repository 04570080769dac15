"""Real file-system faults for tests: a small tmpfs (a disk that fills up) and read-only bind mounts.

Mounting needs root (or CAP_SYS_ADMIN): where it is refused, the test is skipped with the reason.

Import as ``from support.mounts import read_only, tmpfs``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def mount(*args: str) -> None:
    """``mount ARGS`` (raises ``CalledProcessError`` when it fails)."""
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(point: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``point`` (created), unmounted on exit; skips the test where refused."""
    point.mkdir(parents=True, exist_ok=True)
    try:
        mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({getattr(exc, 'stderr', exc)!s}): needs root or CAP_SYS_ADMIN")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made read-only in place (a read-only bind mount over itself: writes fail with EROFS)."""
    try:
        mount("--bind", str(folder), str(folder))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a read-only bind mount here ({getattr(exc, 'stderr', exc)!s})")
    try:
        mount("-o", "remount,bind,ro", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` (a small tmpfs) until a write fails with ENOSPC."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, bytes(4096))
    finally:
        os.close(fd)

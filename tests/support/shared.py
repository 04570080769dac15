"""Artefacts built once per test run and shared by every pytest-xdist worker (read-only for tests).

Import as ``from support.shared import shared_folder`` (tests/ is on pytest's pythonpath).

Under ``pytest -n N`` each worker has its own session, so a session fixture would build its artefact
once per worker. :func:`shared_folder` builds it once per run instead, as the pytest-xdist docs
recommend: in a folder beside the workers' base temporary folders, under a file lock, with a mark
file written last (a build that failed half-way is started over by the next caller). Without xdist
the folder lies in the session's own base temporary folder.

Tests must not change a shared folder (a test that needs to change it copies it first):
:func:`snapshot_of` and :func:`changes` let the fixture that hands one out check that at the end of the
session (running as root, file permissions cannot enforce it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = ".built"
"""The mark file written in a shared folder once its build finished."""


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder that every worker of this run sees: the base temporary folder's parent under xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` of this run, made by ``build(folder)`` by the first worker that asks for it.

    ``build`` gets an empty folder that exists; the other workers wait on the lock meanwhile.
    """
    from filelock import FileLock  # not on the light install: only the model tests share folders

    folder = shared_root(tmp_path_factory) / f"shared-{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / DONE).is_file():
            shutil.rmtree(folder, ignore_errors=True)  # an earlier build that failed half-way
            folder.mkdir(parents=True)
            build(folder)
            (folder / DONE).touch()
    return folder


Snapshot = dict[str, tuple[int, int]]


def snapshot_of(folder: Path) -> Snapshot:
    """``{relative path: (size, mtime_ns)}`` of every file under ``folder``."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def changes(folder: Path, before: Snapshot) -> list[str]:
    """The files added, removed or rewritten under ``folder`` since ``before``, sorted."""
    after = snapshot_of(folder)
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))

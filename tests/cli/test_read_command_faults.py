"""Faults of the commands that read a batch and write a table or a video (``stats``, ``seeds``), in real
child processes: a full disk (a tmpfs), a file size limit (``RLIMIT_FSIZE``), a read-only batch (EROFS)
and SIGTERM half-way. Each ends with one line naming the path and the cause, exit status 1 (143 for
SIGTERM), no traceback, and no temporary file left behind.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cli.hostile_support import cli
from support.batch import build_batch
from support.mounts import fill, read_only, tmpfs

pytestmark = pytest.mark.slow

WORD = "kiss"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished batch of 2 prompts × 30 videos (the files layout): enough to be stopped half-way."""
    root = tmp_path_factory.mktemp("faults") / "batch"
    build_batch(root, videos_per_prompt=30)
    return root


def run(argv: list[str], *, file_size: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # in the child, before exec: writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, preexec_fn=limit if file_size is not None else None
    )


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("attention-visual: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp-" in p.name)


def stats(batch: Path, output: Path | None = None) -> list[str]:
    return cli("stats", batch, *(("--output", output) if output is not None else ()))


def seeds(batch: Path, output: Path | None = None) -> list[str]:
    look = ("--figsize", "3,2", "--dpi", "40")
    return cli("seeds", batch, "--word", WORD, *look, *(("--output", output) if output is not None else ()))


def test_a_full_disk_is_one_line_exit_1_and_nothing_left(batch: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        out = disk / "out"
        out.mkdir()
        fill(disk)
        for argv, target in ((stats(batch, out / "s.parquet"), "s.parquet"), (seeds(batch, out / "s.mp4"), "")):
            done = run(argv)
            assert done.returncode == 1, done.stderr
            line = error_line(done.stderr)
            assert line.startswith(f"attention-visual: error: cannot write {out}/{target}"), line
            assert line.endswith("No space left on device"), line
            assert list(out.iterdir()) == [], "a partial file or a temporary was left"


def test_a_file_size_limit_is_one_line_exit_1_and_nothing_left(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run(stats(batch, out / "s.parquet"), file_size=4096)  # the table is ~40 KB
    assert done.returncode == 1, done.stderr
    assert error_line(done.stderr) == f"attention-visual: error: cannot write {out}/s.parquet: File too large"
    assert list(out.iterdir()) == []


def test_a_read_only_batch_is_one_line_exit_1(batch: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(batch).as_posix() for p in batch.rglob("*"))
    with read_only(batch):
        for argv, folder in ((stats(batch), "analysis"), (seeds(batch), "seed_videos")):
            done = run(argv)
            assert done.returncode == 1, done.stderr
            line = error_line(done.stderr)
            assert line.startswith(f"attention-visual: error: cannot write {batch}/{folder}"), line
            assert line.endswith("Read-only file system"), line
    assert sorted(p.relative_to(batch).as_posix() for p in batch.rglob("*")) == before


@pytest.mark.parametrize("command", ["stats", "seeds"])
def test_sigterm_half_way_exits_143_and_removes_its_temporaries(batch: Path, tmp_path: Path, command: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = stats(batch, out / "s.parquet") if command == "stats" else seeds(batch, out / "s.mp4")
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not leftovers(out) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # the output's temporary file exists: the command is writing it
    assert leftovers(out), f"{command} never started writing (exit {child.poll()})"
    os.kill(child.pid, signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "attention-visual: interrupted (SIGTERM)", stderr
    assert stdout == ""
    assert list(out.iterdir()) == [], "a partial file or a temporary was left"

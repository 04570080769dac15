"""pack/unpack as transactions: real processes killed (kill -9, SIGTERM) at chosen moments, a file size limit,
a read-only batch, foreign files in the store, the batch lock, ``--keep``. The random-moment run over many kills
is ``test_pack_chaos.py`` (soak)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.pack_support import (
    building,
    chaos_batch,
    committed,
    content,
    content_problems,
    leftovers,
    lock_held,
    wait_then,
)
from attention_visual.analysis import batch_stats
from attention_visual.analysis.pack import pack_batch, unpack_batch
from attention_visual.cli.main import main
from attention_visual.storage.backend import FILES, PACKED, open_maps
from pipeline.chaos_support import fork_cli, wait_exit

VID = "prompt_001_vid_001"


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("attention-visual: error:")]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The batch every case starts from (files layout), and its content and table computed once."""
    return chaos_batch(tmp_path_factory.mktemp("pack") / "original")


def copy_of(original: Path, tmp_path: Path, packed: bool = False) -> Path:
    batch = shutil.copytree(original, tmp_path / "batch")
    if packed:
        pack_batch(batch)
    return batch


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "moment"),
    [("pack", "building"), ("pack", "committed"), ("unpack", "building")],
)
def test_kill_9_then_readers_see_the_original_and_a_rerun_completes(
    original: Path, tmp_path: Path, command: str, moment: str
) -> None:
    expected, stats = content(original), batch_stats(original, include_incomplete=True)
    batch = copy_of(original, tmp_path, packed=command == "unpack")
    trigger: Callable[[], bool] = (building if moment == "building" else committed)(batch)
    pid = fork_cli([command, str(batch)], tmp_path / "killed.log")
    hit = wait_then(pid, trigger)
    os.kill(pid, signal.SIGKILL)
    assert wait_exit(pid) in (-9, 0)
    assert hit or moment == "committed", "the command ended before it began to write"
    assert content_problems(batch, expected, stats) == []  # readers read the complete side, never half
    assert wait_exit(fork_cli([command, str(batch)], tmp_path / "rerun.log")) == 0, (tmp_path / "rerun.log").read_text()
    assert open_maps(batch).layout == (PACKED if command == "pack" else FILES)
    assert content_problems(batch, expected, stats) == []
    assert leftovers(batch) == []
    if hit:
        said = (tmp_path / "rerun.log").read_text()
        verb = "rolled back" if moment == "building" else "finished"
        assert f"{verb} the interrupted {command}" in said or "temporary folder" in said, said


def test_sigterm_leaves_the_batch_as_it_was_or_as_meant_to_be(original: Path, tmp_path: Path) -> None:
    expected, stats = content(original), batch_stats(original, include_incomplete=True)
    batch = copy_of(original, tmp_path)
    pid = fork_cli(["pack", str(batch)], tmp_path / "log")
    assert wait_then(pid, building(batch))
    os.kill(pid, signal.SIGTERM)
    assert wait_exit(pid) == 143
    log = (tmp_path / "log").read_text()
    assert "Traceback" not in log and "attention-visual: interrupted" in log
    assert leftovers(batch) == []
    assert open_maps(batch).layout == FILES  # interrupted before the new layout was verified: as it was
    assert content_problems(batch, expected, stats) == []


def test_a_file_size_limit_rolls_back_with_one_line(original: Path, tmp_path: Path) -> None:
    batch = copy_of(original, tmp_path)
    before = sorted(p.relative_to(batch).as_posix() for p in batch.rglob("*"))
    pid = fork_cli(["pack", str(batch)], tmp_path / "log", max_file_size=1500)  # a shard is larger: EFBIG
    assert wait_exit(pid) == 1
    log = (tmp_path / "log").read_text()
    [line] = error_lines(log)
    assert "Traceback" not in log
    assert re.fullmatch(
        rf"attention-visual: error: cannot pack {batch}: File too large while writing attention_maps.zarr; "
        "the batch is unchanged",
        line,
    ), line
    assert sorted(p.relative_to(batch).as_posix() for p in batch.rglob("*")) == sorted([*before, "generate.lock"])
    assert main(["pack", str(batch)]) == 0


def test_a_read_only_batch_is_one_line_and_exit_1(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = copy_of(original, tmp_path)
    try:
        subprocess.run(["mount", "--bind", str(batch), str(batch)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot bind-mount here ({getattr(exc, 'stderr', exc)!s})")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(batch)], check=True, capture_output=True)
        assert main(["pack", str(batch)]) == 1
        assert main(["stats", str(batch), "--output", str(tmp_path / "s.csv")]) == 0  # reading needs no lock
    finally:
        subprocess.run(["umount", str(batch)], check=True)
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert line == f"attention-visual: error: cannot write {batch}/generate.lock: Read-only file system"
    assert "Traceback" not in err and open_maps(batch).layout == FILES


def test_pack_refuses_files_it_would_not_carry_and_deletes_nothing(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = copy_of(original, tmp_path)
    maps = batch / "attention_maps"
    (maps / "NOTES.txt").write_text("my notes")
    (maps / "manual").mkdir()
    (maps / "manual" / "fix.py").write_text("print('mine')")
    shutil.copy(maps / VID / "dog" / "step_000.npz", maps / VID / "dog" / "step_000.npz.orig")
    before = {p.relative_to(batch).as_posix(): p.read_bytes() for p in batch.rglob("*") if p.is_file()}
    assert main(["pack", str(batch)]) == 2
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert line.startswith("attention-visual: error: pack refused:") and "3 file(s)" in line
    for name in ("NOTES.txt", "manual/fix.py", f"{VID}/dog/step_000.npz.orig"):
        assert name in line
    after = {p.relative_to(batch).as_posix(): p.read_bytes() for p in batch.rglob("*") if p.is_file()}
    assert {k: v for k, v in after.items() if k != "generate.lock"} == before
    assert leftovers(batch) == []


def test_a_batch_in_use_is_refused_naming_the_holder_and_readers_go_on(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = copy_of(original, tmp_path)
    with lock_held(batch) as holder:
        for command in ("pack", "unpack"):
            assert main([command, str(batch)]) == 2
            [line] = capsys.readouterr().err.strip().splitlines()
            assert f"is in use by another run (generate, pid {holder.pid} on host" in line, line
        assert main(["report", str(batch), "--no-plots"]) == 2  # writing into the batch changes it
        assert f"pid {holder.pid}" in capsys.readouterr().err
        assert main(["stats", str(batch), "--output", str(tmp_path / "s.parquet")]) == 0  # reading never blocks
    assert open_maps(batch).layout == FILES and leftovers(batch) == []


def test_keep_leaves_the_old_layout_unread_beside(original: Path, tmp_path: Path) -> None:
    expected, stats = content(original), batch_stats(original, include_incomplete=True)
    batch = copy_of(original, tmp_path)
    pack_batch(batch, keep_seed=True)
    assert (batch / "attention_maps.kept").is_dir() and not (batch / "attention_maps").exists()
    assert open_maps(batch).layout == PACKED and content_problems(batch, expected, stats) == []
    unpack_batch(batch, keep_packed=True)
    assert (batch / "attention_maps.zarr.kept").is_dir() and open_maps(batch).layout == FILES
    assert content_problems(batch, expected, stats) == []

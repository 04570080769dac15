"""Chaos for pack/unpack: ``kill -9`` at random moments, the readers checked at once, the command rerun.

Each case copies one files-layout batch (6 finished videos and 1 unfinished, 2 words, 6 steps), packs it
first when the case is an ``unpack``, starts the command as a real process (forked from the test process)
and kills it with SIGKILL at a random moment: a random time within the command's measured duration, or
a random time after it began to write the new layout or after it recorded the new layout complete. Then:

* every reader sees the original maps and ``stats`` gives the original table (a half state is never read);
* the same command run again exits 0, and the batch is in the new layout with every map value, every
  metadata and the ``stats`` table equal to the original, with no temporary folder and no record left.

``PACK_CHAOS_CASES`` (default 24) sets the number of kills; ``make soak`` runs it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analysis.pack_support import (
    building,
    chaos_batch,
    committed,
    content,
    content_problems,
    leftovers,
    record_state,
    wait_then,
)
from attention_visual.analysis import batch_stats
from attention_visual.analysis.pack import pack_batch
from attention_visual.storage.backend import FILES, PACKED, open_maps
from pipeline.chaos_support import alive, fork_cli, wait_exit

CASES = int(os.environ.get("PACK_CHAOS_CASES", "24"))
SEED = 20261206
COMMANDS = ("pack", "unpack")


@dataclass
class Case:
    command: str
    moment: str
    problems: list[str] = field(default_factory=list)


def duration(command: str, batch: Path, log: Path) -> float:
    started = time.monotonic()
    assert wait_exit(fork_cli([command, str(batch)], log)) == 0, log.read_text()[-2000:]
    return time.monotonic() - started


def kill_at(pid: int, batch: Path, rng: random.Random, seconds: float) -> str:
    """Kill ``pid`` (SIGKILL) at a random moment; return which."""
    kind = rng.choice(("anytime", "anytime", "writing", "committed"))
    if kind == "anytime":
        delay = rng.uniform(0.0, seconds * 1.05)
        moment = f"{delay:.3f} s in"
    else:
        trigger = building(batch) if kind == "writing" else committed(batch)
        hit = wait_then(pid, trigger)
        delay = rng.uniform(0.0, 0.3 if kind == "writing" else 0.05)
        moment = f"{delay:.3f} s after {'it began to write' if kind == 'writing' else 'the record said complete'}"
        moment += "" if hit else " (ended first)"
    until = time.monotonic() + delay
    while time.monotonic() < until and alive(pid):
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)
    return moment


@pytest.mark.slow
@pytest.mark.soak
def test_pack_and_unpack_survive_kill_9_at_random_moments(tmp_path: Path) -> None:
    original = chaos_batch(tmp_path / "original")
    expected, stats = content(original), batch_stats(original, include_incomplete=True)
    packed = shutil.copytree(original, tmp_path / "packed")
    pack_batch(packed)
    seconds = {
        "pack": duration("pack", shutil.copytree(original, tmp_path / "timing_pack"), tmp_path / "timing_pack.log"),
        "unpack": duration("unpack", shutil.copytree(packed, tmp_path / "timing_unpack"), tmp_path / "timing.log"),
    }
    rng = random.Random(SEED)
    cases: list[Case] = []
    for n in range(CASES):
        command = COMMANDS[n % 2]
        batch = shutil.copytree(original if command == "pack" else packed, tmp_path / f"case{n:02d}")
        pid = fork_cli([command, str(batch)], tmp_path / f"case{n:02d}.log")
        case = Case(command, kill_at(pid, batch, rng, seconds[command]))
        cases.append(case)
        wait_exit(pid)
        state = record_state(batch)
        case.moment += f" (left: {'record ' + state if state else 'no record'}, {len(leftovers(batch))} leftover(s))"
        case.problems += [f"after the kill: {p}" for p in content_problems(batch, expected, stats)]
        rerun = tmp_path / f"case{n:02d}-rerun.log"
        code = wait_exit(fork_cli([command, str(batch)], rerun))
        if code != 0:
            case.problems.append(f"rerun exited {code}: {rerun.read_text()[-1500:]}")
            continue
        if open_maps(batch).layout != (PACKED if command == "pack" else FILES):
            case.problems.append(f"rerun left the batch in {open_maps(batch).layout}")
        case.problems += [f"after the rerun: {p}" for p in content_problems(batch, expected, stats)]
        if leftovers(batch):
            case.problems.append(f"left behind: {leftovers(batch)}")
        shutil.rmtree(batch)
    survived = sum(not c.problems for c in cases)
    print(f"\npack/unpack faults survived: {survived}/{CASES}")
    print(f"  (pack {seconds['pack']:.2f} s, unpack {seconds['unpack']:.2f} s uninterrupted)")
    for c in cases:
        print(f"  {c.command:<6} killed {c.moment}: {'ok' if not c.problems else c.problems}")
    assert CASES >= 20 and survived == CASES, [c for c in cases if c.problems]

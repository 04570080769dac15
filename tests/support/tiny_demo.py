"""The tiny demo batch, generated once per test run: ``attention-visual generate configs/tiny_demo.yaml``.

Tests take it through the ``tiny_demo`` fixture (tests/conftest.py), which builds it with
:func:`generate_tiny_demo` in a :func:`support.shared.shared_folder` and hands out :func:`load_tiny_demo`.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from support.cli import CliResult, run_main

REPO = Path(__file__).resolve().parents[2]
TINY_DEMO_CONFIG = REPO / "configs" / "tiny_demo.yaml"
"""The README's first command: ``attention-visual generate configs/tiny_demo.yaml``."""
RECORD = "run.json"
BUDGET_S = 180.0
"""Wall-clock seconds the tiny demo may take on a quiet CI machine (a ``timing`` test checks it)."""


@dataclass(frozen=True)
class TinyDemo:
    """The tiny demo batch of this test run and the ``generate`` run that made it."""

    batch: Path
    """``outputs/tiny_demo_<timestamp>``: 2 prompts × 2 videos, 5 words, renders and report (read-only)."""
    overrides: tuple[str, ...]
    """The ``--set`` values the run had (``output_dir=...``)."""
    run: CliResult
    """Its exit status and what it printed."""
    wall_s: float
    """Seconds the run took (wall clock, whatever else the machine did meanwhile)."""
    cpu_s: float
    """CPU seconds of the run: the test process's and its children's (ffmpeg)."""


def generate_tiny_demo(folder: Path) -> None:
    """Run ``generate configs/tiny_demo.yaml`` with its outputs under ``folder``; record the run there."""
    overrides = (f"output_dir={folder / 'outputs'}",)
    sets = [arg for value in overrides for arg in ("--set", value)]
    started, before = time.monotonic(), _cpu_s()
    run = run_main("generate", TINY_DEMO_CONFIG, *sets, "--no-progress")
    seconds = {"wall_s": time.monotonic() - started, "cpu_s": _cpu_s() - before}
    record = {"overrides": overrides, "run": asdict(run), **seconds}
    (folder / RECORD).write_text(json.dumps(record), encoding="utf-8")


def load_tiny_demo(folder: Path) -> TinyDemo:
    """The batch :func:`generate_tiny_demo` made in ``folder``; fails with the run's output if it failed."""
    record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    run = CliResult(**{**record["run"], "args": tuple(record["run"]["args"])})
    assert run.returncode == 0, f"{run.stdout[-1500:]}{run.stderr[-3000:]}"
    [batch] = sorted(p for p in (folder / "outputs").iterdir() if p.is_dir())
    return TinyDemo(batch, tuple(record["overrides"]), run, record["wall_s"], record["cpu_s"])


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

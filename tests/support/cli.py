"""The CLI run inside the test process: ``main(argv)`` with its exit status and printed output.

Import as ``from support.cli import run_main`` (tests/ is on pytest's pythonpath).

A subprocess costs seconds of imports (torch, diffusers) per run; where a real process is not what a
test is about (signals, kills, locks, the light install, the console script), the test calls the
CLI's ``main`` here instead. What the run logs goes through pytest's log capture (``caplog``), not
into :attr:`CliResult.stderr`, which holds what the CLI prints.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliResult:
    """What ``attention-visual ARGS`` returned and printed (the shape of ``subprocess.CompletedProcess``)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_main(*args: str | Path) -> CliResult:
    """``attention-visual ARGS`` in this process; its exit status and what it printed."""
    from attention_visual.cli.main import main

    argv = tuple(str(a) for a in args)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return CliResult(argv, code, out.getvalue(), err.getvalue())


def refused(done: CliResult, out: Path) -> str:
    """The one line a refused command printed: exit status 2, nothing else on stderr, ``out`` not created."""
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
    return lines[0]

"""Helpers of the pack/unpack fault tests: a batch big enough to kill mid-way, its content, triggers, a held lock.

``pack``/``unpack`` run as real processes forked from the test process (:func:`pipeline.chaos_support.fork_cli`),
so ``kill -9`` hits them wherever they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from attention_visual.analysis import batch_stats
from attention_visual.storage.backend import open_maps
from attention_visual.storage.backend.transaction import temporaries
from pipeline.chaos_support import wait_for
from support.synthetic import WORDS, random_batch, random_maps, save_video

RECORD = ".layout-transaction.json"
REPO_SRC = Path(__file__).resolve().parents[2] / "src"


GRID = (3, 6, 10)  # [frame, y, x]


def chaos_batch(path: Path, videos: int = 6) -> Path:
    """A files-layout batch of ``videos`` finished videos × 2 words × 6 steps, and one unfinished video."""
    random_batch(path, videos=videos, steps=6, grid=GRID)
    rng = np.random.default_rng(99)
    maps = {w: random_maps(rng, 4, GRID) for w in WORDS}
    save_video(path / "attention_maps", "prompt_002_vid_001", maps, seed=99, complete=False)
    return path


def content(batch: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Every map the batch's readers see: ``{video/word/step: (metadata JSON, array)}`` (``avg``: the step average)."""
    reader = open_maps(batch).reader()
    out: dict[str, tuple[str, np.ndarray]] = {}
    for video in reader.list_videos():
        for word in reader.list_words(video):
            for step in reader.list_steps(video, word):
                info = reader.read_step(video, word, step)
                out[f"{video}/{word}/{step}"] = (info.metadata.to_json(), info.attention_map)
            info = reader.read_aggregated(video, word)
            out[f"{video}/{word}/avg"] = (info.metadata.to_json(), info.attention_map)
        reader.release(video)
    return out


def content_problems(batch: Path, expected: dict[str, tuple[str, np.ndarray]], stats: pd.DataFrame) -> list[str]:
    """How the batch's maps (as read) and its ``stats`` table differ from the original's."""
    problems = []
    try:
        now = content(batch)
    except Exception as exc:  # a reader failing is the finding
        return [f"reading the maps failed: {type(exc).__name__}: {exc}"]
    if now.keys() != expected.keys():
        missing, extra = sorted(expected.keys() - now.keys()), sorted(now.keys() - expected.keys())
        problems.append(f"maps differ: missing {missing[:3]}, extra {extra[:3]}")
    for key in sorted(now.keys() & expected.keys()):
        (meta_a, a), (meta_b, b) = now[key], expected[key]
        if meta_a != meta_b or a.dtype != b.dtype or not np.array_equal(a, b):
            problems.append(f"{key}: differs from the original")
            break
    try:
        pd.testing.assert_frame_equal(batch_stats(batch, include_incomplete=True), stats)
    except AssertionError as exc:
        problems.append(f"stats differ: {str(exc)[:200]}")
    return problems


def leftovers(batch: Path) -> list[str]:
    """Temporaries of a transaction and its record, if any are left."""
    found = [p.name for p in temporaries(batch)]
    return found + ([RECORD] if (batch / RECORD).exists() else [])


def record_state(batch: Path) -> str | None:
    try:
        return str(json.loads((batch / RECORD).read_text())["state"])
    except (OSError, ValueError, KeyError):
        return None


def building(batch: Path) -> Callable[[], bool]:
    """True once a transaction writes its new layout and has written a video of it."""

    def condition() -> bool:
        return any(
            any(p.iterdir()) for p in batch.glob(".attention_maps*.tmp-*") if p.is_dir() and ".old" not in p.name
        )

    return condition


def committed(batch: Path) -> Callable[[], bool]:
    """True once the transaction recorded its new layout complete."""
    return lambda: record_state(batch) == "complete"


def wait_then(pid: int, condition: Callable[[], bool]) -> bool:
    """:func:`pipeline.chaos_support.wait_for` polling every 0.5 ms: a phase of pack lasts a few ms."""
    return wait_for(pid, condition, timeout=120, interval=0.0005)


@contextmanager
def lock_held(batch: Path, command: str = "generate") -> Iterator[subprocess.Popen[str]]:
    """A child process holding ``batch``'s lock until the block ends (then it is killed)."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from attention_visual.storage.batch.lock import BatchLock
        lock = BatchLock.acquire(Path({str(batch)!r}), command={command!r})
        print("locked", flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO_SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()

"""Synthetic batches for the analysis tests: the real store, no model.

Import as ``from support.analysis_batch import write_batch`` (tests/ is on pytest's pythonpath).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from attention_visual.storage import AttentionStore
from support.synthetic import make_metadata

GRID = (3, 2, 5)  # [frame, y, x]: non-square
WIDTH, HEIGHT = 80, 32  # 16 px per cell
WORDS = ("dog", "red car")


def random_maps(rng: np.random.Generator, steps: int, shape: tuple[int, ...]) -> np.ndarray:
    """``[step, *shape]`` float32 non-negative maps, each summing to 1 over its cells."""
    arr = rng.random((steps, *shape), dtype=np.float32)
    return arr / arr.sum(axis=(-2, -1), keepdims=True)


def write_video(
    root: Path,
    video_id: str,
    maps: dict[str, np.ndarray],
    seed: int = 0,
    *,
    storage_format: str = "numpy",
    dtype: str = "float32",
    compress: bool = True,
    axes: tuple[str, ...] = ("frame", "y", "x"),
    aggregated: bool = True,
    complete: bool = True,
    **extra: object,
) -> None:
    """Store ``{word: [step, *leading, frame, y, x]}`` as one video of the files layout under ``root``."""
    store = AttentionStore(root, storage_format=storage_format, dtype=dtype, compress=compress)
    for word, stack in maps.items():
        steps = stack.shape[0]
        common: dict[str, object] = {
            "word": word,
            "video_id": video_id,
            "shape": tuple(stack.shape[1:]),
            "axes": axes,
            "num_steps": steps,
            "width": WIDTH,
            "height": HEIGHT,
            "seed": seed,
            "marked_prompt": " ".join(f"a ({w})" for w in maps),
            **extra,
        }
        for s in range(steps):
            meta = make_metadata(step=s, timestep=1000.0 - 250.0 * s, sigma=1.0 - 0.25 * s, **common)  # type: ignore[arg-type]
            store.save_step(meta, stack[s])
        if aggregated:
            store.save_aggregated(make_metadata(step=None, **common), stack.mean(axis=0))  # type: ignore[arg-type]
    if complete:
        store.mark_complete(video_id, {"words": list(maps)})


def write_batch(
    batch_dir: Path,
    videos: int = 2,
    steps: int = 3,
    words: Sequence[str] = WORDS,
    seed: int = 0,
    grid: tuple[int, int, int] = GRID,
    **options: object,
) -> Path:
    """A batch folder with ``attention_maps/`` holding ``videos`` random videos; returns the batch folder."""
    rng = np.random.default_rng(seed)
    for v in range(videos):
        maps = {w: random_maps(rng, steps, grid) for w in words}
        write_video(batch_dir / "attention_maps", f"prompt_001_vid_{v + 1:03d}", maps, seed=seed + v, **options)  # type: ignore[arg-type]
    return batch_dir

"""The report scene: a batch with videos and renders, written by :mod:`support.synthetic`, no model.

Import as ``from support.batch import build_batch`` (tests/ is on pytest's pythonpath).

:func:`build_batch` writes the maps, ``manifest.json`` and small H.264 videos made with imageio-ffmpeg
(one encoded file copied to every path, so a 50-video batch takes a second). Each word's map has one
hot grid cell that moves with the step (step ``s`` → column ``s % x``), so consecutive steps always
look different.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from attention_visual.prompts.parsing import parse_prompt
from attention_visual.storage import MapMetadata
from attention_visual.storage.batch.manifest import Manifest
from support.maps import write_video
from support.synthetic import stored_metadata, write_batch

GRID = (3, 2, 3)  # [frame, y, x]: the tiny model's latent grid
NUM_STEPS = 3
WIDTH, HEIGHT, FPS = 48, 32, 8.0
PROMPTS = (
    "A romantic (kiss) between a man and woman with (flowers)",
    "a small (dog) runs on the (beach)",
)
NASTY_PROMPT = 'a (</script><b>"x"&amp;) and a (cat)'
"""A word that would break naive HTML/JSON embedding (the clean prompt unescapes ``&amp;``)."""


def word_map(step: int, word_index: int, grid: tuple[int, int, int] = GRID) -> np.ndarray:
    """``[frame, y, x]`` float32: low background, one hot grid cell at column ``step % x`` (row by word)."""
    arr = np.full(grid, 0.02, dtype=np.float32)
    arr[:, word_index % grid[1], step % grid[2]] = 0.2 + 0.1 * step
    arr[-1] *= 1.5  # the last latent frame differs from the others
    return arr


def map_metadata(video_id: str, word: str, step: int | None, prompt: str, grid: tuple[int, int, int]) -> MapMetadata:
    """The metadata :func:`build_batch` stores with ``word``'s map of ``step`` (``None``: the step average)."""
    return stored_metadata(
        step, word=word, video_id=video_id, shape=grid, num_steps=NUM_STEPS, width=WIDTH, height=HEIGHT, fps=FPS,
        marked_prompt=prompt,
    )  # fmt: skip


def build_batch(
    batch_dir: Path,
    prompts: Sequence[str] = PROMPTS,
    videos_per_prompt: int = 2,
    statuses: Mapping[str, str] | None = None,
    failed_renders: Sequence[tuple[str, str]] = (),
    grid: tuple[int, int, int] = GRID,
) -> Manifest:
    """Write a batch folder with the real layout, its videos and renders (:func:`support.synthetic.write_batch`).

    Args:
        batch_dir: Created if needed.
        prompts: Marked prompts.
        videos_per_prompt: Videos per prompt; video ``i`` of the batch has seed ``42 + i``.
        statuses: ``{video_id: status}``; others are ``done``. ``failed`` videos get an error and no
            files, ``pending`` ones no files, ``interrupted`` ones their maps but no completion mark.
        failed_renders: ``(video_id, word)`` whose overlay render failed (no overlay file).
        grid: ``(frame, y, x)`` latent grid of the maps.
    """
    keys = [(p, v) for p in range(1, len(prompts) + 1) for v in range(1, videos_per_prompt + 1)]
    maps = {}
    for p, v in keys:
        words = parse_prompt(prompts[p - 1]).words
        maps[(p, v)] = {
            word: np.stack([word_map(s, w, grid) for s in range(NUM_STEPS)]) for w, word in enumerate(words)
        }
    template = write_video(batch_dir / ".template.mp4", 4 * (grid[0] - 1) + 1, WIDTH, HEIGHT, FPS)
    try:
        return write_batch(
            batch_dir,
            prompts,
            maps,
            seeds={key: 42 + i for i, key in enumerate(keys)},
            statuses=statuses,
            media=template,
            failed_renders=failed_renders,
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
        )
    finally:
        template.unlink()

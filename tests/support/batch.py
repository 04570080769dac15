"""Synthetic batch folders for the report tests: the real manifest schema and store, no model.

Import as ``from support.batch import build_batch`` (tests/ is on pytest's pythonpath).

:func:`build_batch` writes ``manifest.json`` through :mod:`attention_visual.storage.batch.manifest`, the
maps through :class:`AttentionStore` and small H.264 videos with imageio-ffmpeg (one encoded file
copied to every path, so a 50-video batch takes a second). Each word's map has one hot token that
moves with the step (step ``s`` → token column ``s % x``), so consecutive steps always look different.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from attention_visual.prompts.parsing import parse_prompt
from attention_visual.storage import AttentionStore, MapMetadata, word_dir_name
from attention_visual.storage.batch.layout import make_video_id, prompt_dir
from attention_visual.storage.batch.manifest import (
    Manifest,
    PromptRecord,
    RenderRecord,
    Timings,
    VideoPaths,
    VideoRecord,
)
from support.map_batch import write_batch_manifest
from support.maps import save_word, write_video
from support.synthetic import make_metadata

GRID = (3, 2, 3)  # [frame, y, x]: the tiny model's token grid
NUM_STEPS = 3
WIDTH, HEIGHT, FPS = 48, 32, 8.0
PROMPTS = (
    "A romantic (kiss) between a man and woman with (flowers)",
    "a small (dog) runs on the (beach)",
)
NASTY_PROMPT = 'a (</script><b>"x"&amp;) and a (cat)'
"""A word that would break naive HTML/JSON embedding (the clean prompt unescapes ``&amp;``)."""


def word_map(step: int, word_index: int, grid: tuple[int, int, int] = GRID) -> np.ndarray:
    """``[frame, y, x]`` float32: low background, one hot token at column ``step % x`` (row by word)."""
    arr = np.full(grid, 0.02, dtype=np.float32)
    arr[:, word_index % grid[1], step % grid[2]] = 0.2 + 0.1 * step
    arr[-1] *= 1.5  # the last latent frame differs from the others
    return arr


def map_metadata(video_id: str, word: str, step: int | None, prompt: str, grid: tuple[int, int, int]) -> MapMetadata:
    return make_metadata(
        word=word,
        step=step,
        video_id=video_id,
        shape=grid,
        num_steps=NUM_STEPS,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        timestep=None if step is None else 1000.0 * (1 - step / NUM_STEPS),
        marked_prompt=prompt,
    )


def build_batch(
    batch_dir: Path,
    prompts: Sequence[str] = PROMPTS,
    videos_per_prompt: int = 2,
    statuses: Mapping[str, str] | None = None,
    failed_renders: Sequence[tuple[str, str]] = (),
    grid: tuple[int, int, int] = GRID,
) -> Manifest:
    """Write a batch folder with the real layout; return its manifest.

    Args:
        batch_dir: Created if needed.
        prompts: Marked prompts.
        videos_per_prompt: Videos per prompt.
        statuses: ``{video_id: status}``; others are ``done``. ``failed`` videos get an error and no
            files, ``pending`` ones no files, ``interrupted`` ones their maps but no completion mark.
        failed_renders: ``(video_id, word)`` whose overlay render failed (no overlay file).
        grid: ``(frame, y, x)`` token grid of the maps.
    """
    statuses = dict(statuses or {})
    template = write_video(batch_dir / ".template.mp4", 4 * (grid[0] - 1) + 1, WIDTH, HEIGHT, FPS)
    prompt_records: list[PromptRecord] = []
    video_records: list[VideoRecord] = []
    for p, text in enumerate(prompts, start=1):
        parsed = parse_prompt(text)
        ids = []
        for v in range(1, videos_per_prompt + 1):
            video_id = make_video_id(p, v)
            ids.append(video_id)
            status = statuses.get(video_id, "done")
            video_records.append(
                _write_video(
                    batch_dir,
                    template,
                    text,
                    parsed.clean,
                    parsed.words,
                    p,
                    v,
                    len(video_records),
                    status,
                    failed_renders,
                    grid,
                )
            )
        prompt_records.append(PromptRecord(p, text, parsed.clean, parsed.words, tuple(ids)))
    template.unlink()
    return write_batch_manifest(batch_dir, prompt_records, video_records)


def _write_video(
    batch_dir: Path,
    template: Path,
    prompt: str,
    clean: str,
    words: tuple[str, ...],
    p: int,
    v: int,
    index: int,
    status: str,
    failed_renders: Sequence[tuple[str, str]],
    grid: tuple[int, int, int],
) -> VideoRecord:
    video_id = make_video_id(p, v)
    video_rel = f"videos/{prompt_dir(p)}/video_{v:03d}.mp4"
    maps_rel = f"attention_maps/{video_id}"
    word_dirs = {w: word_dir_name(w) for w in words}
    common = {
        "video_id": video_id,
        "index": index,
        "prompt_index": p,
        "video_index": v,
        "marked_prompt": prompt,
        "clean_prompt": clean,
        "words": words,
        "seed": 42 + index,
        "word_dirs": word_dirs,
        "status": status,
    }
    if status in ("failed", "pending"):
        error = "RuntimeError: CUDA out of memory <tried to allocate 2 GiB>" if status == "failed" else None
        return VideoRecord(**common, error=error, paths=VideoPaths(video=video_rel))  # type: ignore[arg-type]
    store = AttentionStore(batch_dir / "attention_maps")
    for w, word in enumerate(words):
        maps = [word_map(s, w, grid) for s in range(NUM_STEPS)]
        save_word(store, maps, partial(map_metadata, video_id, word, prompt=prompt, grid=grid))
    if status == "interrupted":
        return VideoRecord(
            **common,  # type: ignore[arg-type]
            error="KeyboardInterrupt",
            paths=VideoPaths(video=video_rel, attention_maps=maps_rel),
        )
    store.mark_complete(video_id, {"words": list(words)})
    (batch_dir / video_rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, batch_dir / video_rel)
    renders, done_paths = [], []
    for word in words:
        for kind in ("attention", "overlay"):
            rel = f"videos/{prompt_dir(p)}/attention_videos/{video_id}_{word_dirs[word]}_{kind}.mp4"
            if kind == "overlay" and (video_id, word) in failed_renders:
                renders.append(RenderRecord(word, kind, "per_video", rel, "failed", "RenderError: ffmpeg exploded"))
                continue
            (batch_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, batch_dir / rel)
            renders.append(RenderRecord(word, kind, "per_video", rel, "done"))
            done_paths.append(rel)
    return VideoRecord(
        **common,  # type: ignore[arg-type]
        timings=Timings(generation_s=1.25, capture_save_s=0.1, video_write_s=0.2, render_s=0.5),
        paths=VideoPaths(video=video_rel, attention_maps=maps_rel, attention_videos=tuple(done_paths)),
        renders=tuple(renders),
    )

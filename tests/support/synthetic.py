"""The one factory of synthetic maps, stores and batch folders: the real schema and store, no model.

Import as ``from support.synthetic import ...`` (tests/ is on pytest's pythonpath).

Every synthetic map, store and batch of the test suite is written here:

* :func:`make_metadata` — the metadata of one map (``step=None``: the step average);
* :func:`save_video` — one video's maps, ``{word: [step, *shape]}``, in a store: each step, the step
  average (the mean) and the completion mark;
* :func:`write_batch` — a batch folder of such videos, ``{(prompt, video): {word: stack}}``, with its
  ``manifest.json`` (the real schema) and, on request, its video files and render records;
* :func:`random_batch` — a batch of random maps (prompt 1 only), for the analysis tests.

The maps themselves are chosen by the tests, or taken from the two scenes with known hot spots:
:mod:`support.maps` (one video, hot spots at known cells) and :mod:`support.batch` (a report batch,
a hot spot moving with the step). Grids are non-square, so a transposed axis cannot pass.
Step ``s`` of a stored video gets timestep ``1000 − 250 s`` and sigma ``1 − s/4``.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.prompts.parsing import parse_prompt
from attention_visual.storage import AttentionStore, LatentGrid, MapMetadata, VideoDimensions, word_dir_name
from attention_visual.storage.batch.layout import make_video_id, prompt_dir
from attention_visual.storage.batch.manifest import (
    Manifest,
    PromptRecord,
    RenderRecord,
    Timings,
    VideoPaths,
    VideoRecord,
    write_manifest,
)
from attention_visual.storage.schema.frames import FrameRule, latent_to_video_frame_ranges

GRID = (3, 2, 5)  # [frame, y, x]: non-square so a transposed axis cannot pass
WIDTH, HEIGHT = 80, 32  # 16 px per cell of GRID
AXES = ("frame", "y", "x")
WORDS = ("dog", "red car")

#: ``{(prompt_index, video_index): {word: [step, *axes] float32}}``
BatchMaps = Mapping[tuple[int, int], Mapping[str, np.ndarray]]

FAILED_ERROR = "RuntimeError: CUDA out of memory <tried to allocate 2 GiB>"
RENDER_ERROR = "RenderError: ffmpeg exploded"


def make_metadata(
    word: str = "kiss",
    step: int | None = 0,
    video_id: str = "prompt_001_vid_001",
    shape: tuple[int, ...] = GRID,
    axes: tuple[str, ...] = AXES,
    num_steps: int = 4,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: float = 16.0,
    **extra: object,
) -> MapMetadata:
    """Metadata of one synthetic map (``step=None``: the step-average); ``extra`` sets any other field."""
    frames = shape[-3]
    return MapMetadata(
        video_id=video_id,
        token_word=word,
        shape=shape,
        dtype="float32",
        axes=axes,
        num_steps=num_steps,
        steps_used=(step,) if step is not None else tuple(range(num_steps)),
        step_index=step,
        aggregation_method="per_step" if step is not None else "mean_over_steps",
        video_dimensions=VideoDimensions(width=width, height=height, fps=fps, frames=4 * (frames - 1) + 1),
        token_grid=LatentGrid(frames=shape[-3], height=shape[-2], width=shape[-1]),
        latent_to_video_frames=latent_to_video_frame_ranges(frames, FrameRule(4)),
        **extra,  # type: ignore[arg-type]
    )


def hot_spot(shape: tuple[int, ...] = GRID, at: tuple[int, ...] = (2, 0, 0), value: float = 1.0) -> np.ndarray:
    """``shape`` float32 zeros with ``value`` at ``at``."""
    arr = np.zeros(shape, dtype=np.float32)
    arr[at] = value
    return arr


def stored_metadata(step: int | None, **fields: Any) -> MapMetadata:
    """:func:`make_metadata` as :func:`save_video` stores it.

    Step ``s`` at timestep ``1000 − 250 s`` and sigma ``1 − s/4``; ``step=None``: the step average.
    """
    if step is not None:
        fields = {"timestep": 1000.0 - 250.0 * step, "sigma": 1.0 - step / 4, **fields}
    return make_metadata(step=step, **fields)


def random_maps(rng: np.random.Generator, steps: int, shape: tuple[int, ...]) -> np.ndarray:
    """``[step, *shape]`` float32 non-negative maps, each summing to 1 over its last two axes."""
    arr = rng.random((steps, *shape), dtype=np.float32)
    return arr / arr.sum(axis=(-2, -1), keepdims=True)


def save_video(
    root: Path | AttentionStore,
    video_id: str,
    maps: Mapping[str, np.ndarray],
    *,
    aggregated: bool = True,
    complete: bool = True,
    storage_format: str = "numpy",
    dtype: str = "float32",
    compress: bool = True,
    **fields: Any,
) -> None:
    """Store ``{word: [step, *shape]}`` as one video (``root``: the ``attention_maps/`` folder, or a store).

    Each step is saved with :func:`make_metadata` (``fields`` passed on: ``axes``, ``width``, ``seed``,
    ``marked_prompt``, ...), then the mean over the steps when ``aggregated``, then the completion mark
    when ``complete``.
    """
    if isinstance(root, AttentionStore):
        store = root
    else:
        store = AttentionStore(root, storage_format=storage_format, dtype=dtype, compress=compress)
    for word, stack in maps.items():
        steps = stack.shape[0]
        common = {"word": word, "video_id": video_id, "shape": tuple(stack.shape[1:]), "num_steps": steps, **fields}
        for s in range(steps):
            store.save_step(stored_metadata(s, **common), stack[s])
        if aggregated:
            store.save_aggregated(stored_metadata(None, **common), stack.mean(axis=0))
    if complete:
        store.mark_complete(video_id, {"words": list(maps)})


def write_batch(
    batch_dir: Path,
    prompts: Sequence[str],
    maps: BatchMaps,
    *,
    seeds: Mapping[tuple[int, int], int] | None = None,
    statuses: Mapping[str, str] | None = None,
    media: Path | None = None,
    failed_renders: Sequence[tuple[str, str]] = (),
    **fields: Any,
) -> Manifest:
    """Write a batch folder with the real layout: the maps of every ``(prompt, video)`` and ``manifest.json``.

    Args:
        batch_dir: Created if needed.
        prompts: Marked prompts; prompt ``p`` (1-based) has the videos ``(p, v)`` of ``maps``.
        maps: ``{(p, v): {word: [step, *axes]}}`` (see :func:`save_video`).
        seeds: ``{(p, v): seed}``; others get ``100 p + v``.
        statuses: ``{video_id: status}``; others are ``done``. ``failed`` videos get an error and no
            files, ``pending`` ones no files, ``interrupted`` ones their maps but no completion mark.
        media: A video file copied to every generated video's path and to its attention videos (and
            render records written), or None: no video files, no render records.
        failed_renders: ``(video_id, word)`` whose overlay render failed (no overlay file).
        fields: Passed on to :func:`save_video` (``aggregated``, ``axes``, ``width``, ``fps``, ...).
    """
    statuses = dict(statuses or {})
    prompt_records: list[PromptRecord] = []
    videos: list[VideoRecord] = []
    for p, text in enumerate(prompts, start=1):
        parsed = parse_prompt(text)
        ids = []
        for (mp, v), words in sorted(maps.items()):
            if mp != p:
                continue
            video_id = make_video_id(p, v)
            ids.append(video_id)
            seed = (seeds or {}).get((p, v), 100 * p + v)
            record = VideoRecord(
                video_id=video_id,
                index=len(videos),
                prompt_index=p,
                video_index=v,
                marked_prompt=text,
                clean_prompt=parsed.clean,
                words=parsed.words,
                seed=seed,
                word_dirs={w: word_dir_name(w) for w in parsed.words},
                status=statuses.get(video_id, "done"),
                paths=VideoPaths(video=f"videos/{prompt_dir(p)}/video_{v:03d}.mp4"),
            )
            videos.append(_write_video(batch_dir, record, words, media, failed_renders, fields))
        prompt_records.append(PromptRecord(p, text, parsed.clean, parsed.words, tuple(ids)))
    return write_batch_manifest(batch_dir, prompt_records, videos)


def _write_video(
    batch_dir: Path,
    record: VideoRecord,
    maps: Mapping[str, np.ndarray],
    media: Path | None,
    failed_renders: Sequence[tuple[str, str]],
    fields: Mapping[str, Any],
) -> VideoRecord:
    """Write one video of :func:`write_batch` as its status says; its record."""
    if record.status in ("failed", "pending"):
        return _replace(record, error=FAILED_ERROR if record.status == "failed" else None)
    video_id, paths = record.video_id, record.paths
    paths = VideoPaths(video=paths.video, attention_maps=f"attention_maps/{video_id}")
    complete = record.status != "interrupted"
    fields = {"marked_prompt": record.marked_prompt, "seed": record.seed, **fields}
    save_video(batch_dir / "attention_maps", video_id, maps, complete=complete, **fields)
    if not complete:
        return _replace(record, error="KeyboardInterrupt", paths=paths)
    if media is None:
        return _replace(record, paths=paths)
    _copy(media, batch_dir / paths.video)
    renders, done = [], []
    folder = Path(paths.video).parent / "attention_videos"
    for word in record.words:
        for kind in ("attention", "overlay"):
            rel = str(folder / f"{video_id}_{record.word_dirs[word]}_{kind}.mp4")
            if kind == "overlay" and (video_id, word) in failed_renders:
                renders.append(RenderRecord(word, kind, "per_video", rel, "failed", RENDER_ERROR))
                continue
            _copy(media, batch_dir / rel)
            renders.append(RenderRecord(word, kind, "per_video", rel, "done"))
            done.append(rel)
    return _replace(
        record,
        timings=Timings(generation_s=1.25, capture_save_s=0.1, video_write_s=0.2, render_s=0.5),
        paths=VideoPaths(video=paths.video, attention_maps=paths.attention_maps, attention_videos=tuple(done)),
        renders=tuple(renders),
    )


def _replace(record: VideoRecord, **changes: Any) -> VideoRecord:
    return dataclasses.replace(record, **changes)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def random_batch(
    batch_dir: Path,
    videos: int = 2,
    steps: int = 3,
    words: Sequence[str] = WORDS,
    seed: int = 0,
    grid: tuple[int, int, int] = GRID,
    **fields: Any,
) -> Path:
    """A batch folder with only ``attention_maps/``: ``videos`` videos of prompt 1 with random maps.

    Video ``v`` (1-based) gets seed ``seed + v − 1``; ``fields`` go to :func:`save_video`
    (``storage_format``, ``dtype``, ...). Returns ``batch_dir``.
    """
    rng = np.random.default_rng(seed)
    prompt = " ".join(f"a ({w})" for w in words)
    for v in range(videos):
        maps = {w: random_maps(rng, steps, grid) for w in words}
        save_video(
            batch_dir / "attention_maps", make_video_id(1, v + 1), maps, seed=seed + v, marked_prompt=prompt, **fields
        )
    return batch_dir


def batch_manifest(
    batch_name: str, prompts: Sequence[PromptRecord], videos: Sequence[VideoRecord], **fields: Any
) -> Manifest:
    """A manifest of ``prompts`` and ``videos`` with fixed times, config path, model and versions.

    ``fields`` replaces any other :class:`Manifest` field (``world_size=2``).
    """
    values: dict[str, Any] = {
        "batch_name": batch_name,
        "created": "2025-01-31T12:00:00+00:00",
        "updated": "2025-01-31T12:05:00+00:00",
        "config_path": "/nowhere/config.yaml",
        "model_id": "tiny",
        "world_size": 1,
        "versions": {"python": "3.11"},
        "prompts": tuple(prompts),
        "videos": tuple(videos),
    }
    return Manifest(**{**values, **fields})


def write_batch_manifest(batch_dir: Path, prompts: Sequence[PromptRecord], videos: Sequence[VideoRecord]) -> Manifest:
    """Write ``batch_dir/manifest.json`` (a :func:`batch_manifest` named after the folder); return it."""
    manifest = batch_manifest(batch_dir.name, prompts, videos)
    write_manifest(batch_dir / "manifest.json", manifest)
    return manifest

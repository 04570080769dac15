"""Batch folders with chosen maps per video: the real manifest schema and store, no model, no videos.

Import as ``from support.map_batch import write_map_batch`` (tests/ is on pytest's pythonpath).
:func:`write_batch_manifest` writes the manifest of any synthetic batch (also :mod:`support.batch`'s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.prompts.parsing import parse_prompt
from attention_visual.storage import AttentionStore, word_dir_name
from attention_visual.storage.batch.layout import make_video_id
from attention_visual.storage.batch.manifest import Manifest, PromptRecord, VideoPaths, VideoRecord, write_manifest
from support.synthetic import make_metadata

#: ``{(prompt_index, video_index): {word: [step, frame, y, x] float32}}``
BatchMaps = Mapping[tuple[int, int], Mapping[str, np.ndarray]]


def write_map_batch(
    batch_dir: Path,
    prompts: Sequence[str],
    maps: BatchMaps,
    seeds: Mapping[tuple[int, int], int] | None = None,
    aggregated: bool = True,
    width: int = 80,
    height: int = 32,
    axes: tuple[str, ...] = ("frame", "y", "x"),
) -> Manifest:
    """Write ``manifest.json`` and the maps of every ``(prompt, video)`` in ``maps`` (status ``done``).

    Arrays are ``[step, *axes]``. Each video's step-averaged map is the mean of its steps (written when
    ``aggregated``); its seed is ``seeds[(p, v)]``, else ``100 * p + v``. Step ``s`` gets timestep
    ``1000 − 250 s`` and sigma ``1 − s/4``.
    """
    store = AttentionStore(batch_dir / "attention_maps")
    records: list[VideoRecord] = []
    prompt_records: list[PromptRecord] = []
    for p, text in enumerate(prompts, start=1):
        parsed = parse_prompt(text)
        ids = []
        for (mp, v), words in sorted(maps.items()):
            if mp != p:
                continue
            video_id = make_video_id(p, v)
            ids.append(video_id)
            seed = (seeds or {}).get((p, v), 100 * p + v)
            for word, stack in words.items():  # stack: [step, frame, y, x]
                steps = stack.shape[0]
                for s in range(steps):
                    meta = make_metadata(
                        word=word, step=s, video_id=video_id, shape=stack.shape[1:], axes=axes, num_steps=steps,
                        width=width, height=height, timestep=1000.0 - 250.0 * s, sigma=1.0 - s / 4,
                        marked_prompt=text, seed=seed,
                    )  # fmt: skip
                    store.save_step(meta, stack[s])
                if aggregated:
                    meta = make_metadata(
                        word=word, step=None, video_id=video_id, shape=stack.shape[1:], axes=axes, num_steps=steps,
                        width=width, height=height, marked_prompt=text, seed=seed,
                    )  # fmt: skip
                    store.save_aggregated(meta, stack.mean(axis=0))
            store.mark_complete(video_id, {"words": list(words)})
            records.append(
                VideoRecord(
                    video_id=video_id,
                    index=len(records),
                    prompt_index=p,
                    video_index=v,
                    marked_prompt=text,
                    clean_prompt=parsed.clean,
                    words=parsed.words,
                    seed=seed,
                    word_dirs={w: word_dir_name(w) for w in parsed.words},
                    status="done",
                    paths=VideoPaths(video=f"videos/{video_id}.mp4", attention_maps=f"attention_maps/{video_id}"),
                )
            )
        prompt_records.append(PromptRecord(p, text, parsed.clean, parsed.words, tuple(ids)))
    return write_batch_manifest(batch_dir, prompt_records, records)


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

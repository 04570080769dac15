"""Moving the step averages staged during generation into ``_aggregated/``: :func:`consolidate_averages`.

With ``storage_format: zarr`` each video stages its step averages under ``_staged/<video_id>/`` as it
finishes (one small array per word; ``_aggregated/`` holds many videos per shard file, which a
finishing video cannot rewrite without putting finished ones at risk). At the batch's end they are
merged with what ``_aggregated/`` already holds, into exactly the arrays ``pack`` writes: per word, every
complete video that has a step average, in video-id order.

Crash safety: the new ``_aggregated/`` is built beside the store (``._aggregated.new``), the live one is
renamed to ``._aggregated.old``, the new one into place, and only then are the staged arrays deleted. A
run killed at any point leaves either the old or the new ``_aggregated/`` (restored from ``.old`` by the
next call) and the staged arrays it had not merged yet, so the next call completes the job and no
finished video's average is lost. Arrays of videos that are no longer complete (being redone) are left
out. Only one process may call it at a time (the batch's rank 0, holding the batch lock).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.storage.packed.reader import (
    AGGREGATES_GROUP,
    STAGED_GROUP,
    ZARR_JSON,
    PackedAggregates,
    PackedReader,
    _zarr,
)
from attention_visual.storage.packed.writer import PackedWriter
from attention_visual.storage.schema.metadata import MapMetadata

log = logging.getLogger(__name__)

NEW_AGGREGATES = f".{AGGREGATES_GROUP}.new"
OLD_AGGREGATES = f".{AGGREGATES_GROUP}.old"


def _recover(store: Path) -> None:
    """Undo what an interrupted earlier call left: put the old ``_aggregated/`` back, drop the half-built one."""
    live, old, new = store / AGGREGATES_GROUP, store / OLD_AGGREGATES, store / NEW_AGGREGATES
    if old.is_dir() and not live.exists():
        old.rename(live)
    for leftover in (old, new):
        if leftover.is_dir():
            shutil.rmtree(leftover)


def _open(store: Any, folder: Path, key: str) -> PackedAggregates:
    return PackedAggregates(_zarr().open_array(store, path=key, mode="r"), folder)


def consolidate_averages(store_path: Path | str) -> int:
    """Merge the staged step averages of complete videos into ``_aggregated/``; return how many were merged.

    Does nothing (returns 0) when nothing is staged and ``_aggregated/`` lists only complete videos.
    """
    store = Path(store_path)
    _recover(store)
    reader = PackedReader(store)
    complete = set(reader.list_videos(include_incomplete=False))
    zstore = _zarr().storage.LocalStore(str(store), read_only=True)
    # token dir -> video id -> its array: what _aggregated/ holds (of complete videos), then the staged ones
    sources: dict[str, dict[str, PackedAggregates]] = {}
    stale = False
    live = store / AGGREGATES_GROUP
    for folder in sorted(live.iterdir()) if live.is_dir() else []:
        if (folder / ZARR_JSON).is_file():
            array = _open(zstore, folder, f"{AGGREGATES_GROUP}/{folder.name}")
            sources[folder.name] = {v: array for v in array.videos if v in complete}
            stale = stale or len(sources[folder.name]) < len(array.videos)
    staged_videos = []
    for video in sorted((store / STAGED_GROUP).iterdir()) if (store / STAGED_GROUP).is_dir() else []:
        if video.name not in complete:
            continue  # an unfinished attempt: redone (and its staging removed) by the next run
        staged_videos.append(video)
        for folder in sorted(video.iterdir()):
            if (folder / ZARR_JSON).is_file():
                array = _open(zstore, folder, f"{STAGED_GROUP}/{video.name}/{folder.name}")
                sources.setdefault(folder.name, {})[video.name] = array
    if not staged_videos and not stale:
        return 0
    new_store = store / NEW_AGGREGATES
    writer = PackedWriter(new_store)
    for word_dir, by_video in sorted(sources.items()):
        video_ids = sorted(by_video)
        if not video_ids:
            continue

        def read(video_id: str, by_video: dict[str, PackedAggregates] = by_video) -> tuple[MapMetadata, np.ndarray]:
            info = by_video[video_id].read(video_id)
            assert info is not None  # listed in by_video because the array has it
            return info.metadata, info.attention_map

        first = by_video[video_ids[0]]
        writer.write_aggregates(first.word, video_ids, read, first.source)
        log.debug("%s: step averages of %d video(s)", word_dir, len(video_ids))
    old = store / OLD_AGGREGATES
    if live.exists():
        live.rename(old)
    if (new_store / AGGREGATES_GROUP).is_dir():
        (new_store / AGGREGATES_GROUP).rename(live)
    shutil.rmtree(new_store)
    if old.exists():
        shutil.rmtree(old)
    for video in staged_videos:
        shutil.rmtree(video)
    staged = store / STAGED_GROUP
    if staged.is_dir() and not any(child.is_dir() for child in staged.iterdir()):
        shutil.rmtree(staged)  # the group itself, so the store is what `pack` writes
    log.info("step averages of %d video(s) moved into %s", len(staged_videos), live)
    return len(staged_videos)


__all__ = ["consolidate_averages"]

"""A batch's maps read video by video, reduced to the latent grid.

A batch folder holds its maps in the files layout (``attention_maps/``) or packed
(``attention_maps.zarr``); :func:`~attention_visual.storage.backend.open_maps` says which (one rule for
every command) and :class:`~attention_visual.visualization.AttentionAnalyzer` reads both, so nothing here
depends on the layout. Reading is one video at a time and keeps nothing between videos, so memory does
not grow with the size of the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.backend import BulkMapReader, MapBackend, open_maps
from attention_visual.storage.batch.manifest import find_manifest
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.storage.schema.reduce import to_grid
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

_KEPT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))

AGGREGATED_STEP = -1
"""The ``step`` of the step-averaged map in tables and arrays."""


@dataclass(frozen=True)
class VideoLabels:
    """What the batch knows about a video beyond its maps (from ``manifest.json``; None without one)."""

    prompt_index: int | None = None
    video_index: int | None = None
    model: str | None = None  # the model's name (a comparison's entry, else the model id's last part)


@dataclass(frozen=True)
class WordData:
    """One word's maps of one video on the latent grid.

    ``maps`` is ``[entry, frame, y, x]``: the stored steps in order, then the step average
    (``steps[-1] == AGGREGATED_STEP``) — the stored one, or the mean of the steps when none was stored.
    Its dtype is the stored one when that is float16 or float32 and the maps need no reduction (no
    ``pass``/``block``/``head`` axes): float16 maps are not widened, :func:`~.measures.map_measures`
    reads them exactly; otherwise float32.
    """

    word: str
    maps: np.ndarray  # [entry, frame, y, x]
    steps: tuple[int, ...]
    timesteps: tuple[float | None, ...]
    sigmas: tuple[float | None, ...]
    experts: tuple[str | None, ...]
    metadata: MapMetadata  # of the first stored step (prompt, seed, video size ...)
    step_metadata: tuple[MapMetadata, ...] = ()  # of every stored step, in order


@dataclass(frozen=True)
class VideoData:
    """Every word of one video."""

    video_id: str
    labels: VideoLabels
    words: tuple[WordData, ...]


def batch_folder(maps: MapBackend) -> Path:
    """The batch folder of a store (the folder holding it)."""
    return maps.batch_dir or maps.root.parent


def video_labels(batch_dir: Path) -> dict[str, VideoLabels]:
    """``{video_id: labels}`` from the batch's ``manifest.json``, or ``{}`` when there is none."""
    manifest = find_manifest(batch_dir)
    if manifest is None:
        return {}
    return {v.video_id: VideoLabels(v.prompt_index, v.video_index, v.model_name) for v in manifest.videos}


def check_models(models: tuple[str, ...], labels: dict[str, VideoLabels]) -> None:
    """Raise :class:`AttentionDataError` naming the batch's models when one of ``models`` is not among them."""
    known = sorted({label.model for label in labels.values() if label.model is not None})
    unknown = [name for name in models if name not in known]
    if unknown:
        raise AttentionDataError(
            f"no model named {unknown[0]!r} in this batch; its models: {', '.join(known) or 'none recorded'}"
        )


def _expert(metadata: MapMetadata) -> str | None:
    value = getattr(metadata, "expert", None)  # present on metadata of models with several experts
    return None if value in (None, "") else str(value)


def _as_grid(array: np.ndarray, metadata: MapMetadata, pass_name: str) -> np.ndarray:
    """``[*outer, frame, y, x]``: as stored when it needs no reduction and is float16/32, else :func:`to_grid`."""
    plain = len(metadata.axes) == 3 and pass_name in metadata.passes and array.dtype in _KEPT_DTYPES
    return array if plain else to_grid(array, metadata, pass_name)


def _step_stack(
    analyzer: AttentionAnalyzer, video_id: str, word: str, pass_name: str
) -> tuple[np.ndarray, list[MapMetadata]]:
    """``([step, frame, y, x], metadata per step)``, in the stored dtype when it needs no reduction."""
    reader = analyzer.reader
    if isinstance(reader, BulkMapReader):
        raw, metas = reader.read_steps(video_id, word)  # [step, *leading, frame, y, x]: one call
        if all(m.axes == metas[0].axes and m.passes == metas[0].passes for m in metas):
            return _as_grid(raw, metas[0], pass_name), metas
    return analyzer.step_stack(video_id, word, pass_name=pass_name)


def read_word(analyzer: AttentionAnalyzer, video_id: str, word: str, pass_name: str = "cond") -> WordData:
    """One word's steps and step average on the latent grid (see :class:`WordData`)."""
    stack, metas = _step_stack(analyzer, video_id, word, pass_name)  # [step, frame, y, x]
    try:
        info = analyzer.load_aggregated(video_id, word)
        average = _as_grid(info.attention_map, info.metadata, pass_name)  # [frame, y, x]
    except NotFoundError:
        average = stack.mean(axis=0, dtype=np.float32)
    if average.shape != stack.shape[1:]:
        raise AttentionDataError(
            f"video {video_id!r}, word {word!r}: step average of shape {average.shape} but steps of {stack.shape[1:]}"
        )
    maps = np.empty((stack.shape[0] + 1, *stack.shape[1:]), dtype=np.result_type(stack, average))
    maps[:-1] = stack  # [entry, frame, y, x]
    maps[-1] = average
    return WordData(
        word=word,
        maps=maps,
        steps=(*(int(m.step_index or 0) for m in metas), AGGREGATED_STEP),
        timesteps=(*(m.timestep for m in metas), None),
        sigmas=(*(m.sigma for m in metas), None),
        experts=(*(_expert(m) for m in metas), None),
        metadata=metas[0],
        step_metadata=tuple(metas),
    )


def iter_videos(
    batch_dir: Path | str | MapBackend,
    pass_name: str = "cond",
    include_incomplete: bool = False,
    models: tuple[str, ...] = (),
) -> Iterator[VideoData]:
    """Yield each video of a batch (sorted by id) with all its words (sorted), one at a time.

    ``batch_dir``: a batch folder (or its maps' path: see :func:`~attention_visual.storage.backend.open_maps`),
    or its maps already opened. Videos whose capture did not finish are skipped unless ``include_incomplete``;
    with ``models``, the videos of other models too (their maps are not read).

    Raises:
        AttentionDataError: A name of ``models`` is no model of the batch (the message lists them).
    """
    maps = batch_dir if isinstance(batch_dir, MapBackend) else open_maps(batch_dir)
    labels = video_labels(batch_folder(maps))
    check_models(models, labels)  # now, not at the first video: nothing is written for a wrong name
    return _videos(maps, labels, pass_name, include_incomplete, models)


def _videos(
    maps: MapBackend, labels: dict[str, VideoLabels], pass_name: str, include_incomplete: bool, models: tuple[str, ...]
) -> Iterator[VideoData]:
    analyzer = AttentionAnalyzer(maps)
    for video_id in analyzer.get_available_videos(include_incomplete=include_incomplete):
        label = labels.get(video_id, VideoLabels())
        if models and label.model not in models:
            continue
        words = tuple(
            read_word(analyzer, video_id, w, pass_name)
            for w in analyzer.get_available_words(video_id)
            if analyzer.get_available_steps(video_id, w)
        )
        analyzer.release(video_id)  # nothing accumulates from video to video
        yield VideoData(video_id, label, words)


__all__ = [
    "AGGREGATED_STEP",
    "VideoData",
    "VideoLabels",
    "WordData",
    "batch_folder",
    "check_models",
    "iter_videos",
    "read_word",
    "video_labels",
]

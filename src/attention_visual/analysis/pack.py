"""``pack``: a batch's files-layout maps into one Zarr store, and ``unpack``: back, with the same content.

``pack_batch(batch)`` writes ``batch/attention_maps.zarr`` (layout: :mod:`attention_visual.storage.packed.reader`)
from ``batch/attention_maps/`` and then removes the seed folder; ``unpack_batch(batch)`` does the
reverse. Both write into a temporary folder that is renamed into place only when complete, so an
interruption leaves the batch as it was. Every array keeps its dtype and values, every metadata file
its content, every video its completion mark (or the lack of one), every ``.npz``/``.pt`` its format.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.batch.layout import ATTENTION_MAPS_DIR, PACKED_STORE
from attention_visual.storage.durable.atomic import TMP_MARKER
from attention_visual.storage.files.store import AttentionInfo, AttentionStore
from attention_visual.storage.packed.reader import PackedReader, is_packed_store, read_whole
from attention_visual.storage.packed.writer import PACKED_FILES, PackedWriter
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackResult:
    """What :func:`pack_batch` / :func:`unpack_batch` did."""

    path: Path  # the store written
    videos: int
    words: int
    maps: int


def _npz_compressed(path: Path) -> bool | None:
    """Whether a ``.npz`` file's members are deflated (None for other files)."""
    if path.suffix != ".npz":
        return None
    with zipfile.ZipFile(path) as archive:
        return any(info.compress_type != zipfile.ZIP_STORED for info in archive.infolist())


def _temporary(batch_dir: Path, name: str) -> Path:
    tmp = batch_dir / f".{name}{TMP_MARKER}{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    return tmp


@contextlib.contextmanager
def _building(batch_dir: Path, target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` to fill; renamed to ``target`` on success, removed on any error."""
    tmp = _temporary(batch_dir, target.name)
    try:
        yield tmp
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _done(result: PackResult, source: Path, keep: bool, verb: str) -> PackResult:
    """Remove ``source`` unless ``keep``; log what was written."""
    if not keep:
        shutil.rmtree(source)
    log.info("%s %d videos, %d words, %d maps into %s", verb, result.videos, result.words, result.maps, result.path)
    return result


def _batch_folder(batch_dir: Path | str) -> Path:
    path = Path(batch_dir)
    if not path.is_dir():
        raise NotFoundError(f"batch folder {path} does not exist")
    return path


def pack_batch(batch_dir: Path | str, keep_seed: bool = False) -> PackResult:
    """Pack ``batch_dir/attention_maps/`` into ``batch_dir/attention_maps.zarr``.

    Args:
        batch_dir: A batch folder with maps in the files layout.
        keep_seed: Keep ``attention_maps/`` after packing (default: remove it).

    Raises:
        NotFoundError: There is no ``attention_maps/`` folder.
        AttentionDataError: The batch is already packed, or a map cannot be read.
    """
    batch = _batch_folder(batch_dir)
    seed = batch / ATTENTION_MAPS_DIR
    target = batch / PACKED_STORE
    if target.exists():
        raise AttentionDataError(f"{target} already exists: the batch is packed (unpack it first)")
    if not seed.is_dir():
        raise NotFoundError(f"{batch} has no {ATTENTION_MAPS_DIR}/ folder to pack")
    videos = words = maps = 0
    averaged: dict[str, list[str]] = {}  # word -> videos with a step average
    compressed: dict[str, bool] = {}  # word -> how its .npz step averages were written
    with _building(batch, target) as tmp:
        writer = PackedWriter(tmp)
        for video_id in AttentionAnalyzer(seed).get_available_videos(include_incomplete=True):
            analyzer = AttentionAnalyzer(seed)  # a fresh index per video: memory stays flat
            writer.begin_video(video_id)
            for word in analyzer.get_available_words(video_id):
                steps = analyzer.load_all_steps(video_id, word)
                writer.write_word(video_id, [(i.metadata, i.attention_map) for i in steps], _source(steps))
                words, maps = words + 1, maps + len(steps)
                aggregated = _aggregated_or_none(analyzer, video_id, word)
                if aggregated is not None:
                    averaged.setdefault(word, []).append(video_id)
                    compressed.setdefault(word, _npz_compressed(aggregated.path) is not False)
            record = AttentionStore(seed).completion_record(video_id)  # no link followed, size-limited
            if record is not None:
                writer.mark_complete(video_id, record)
            videos += 1
        for word, video_ids in sorted(averaged.items()):

            def read(video_id: str, word: str = word) -> tuple[MapMetadata, np.ndarray]:
                info = AttentionAnalyzer(seed).load_aggregated(video_id, word)
                return info.metadata, info.attention_map

            writer.write_aggregates(word, video_ids, read, {"npz_compressed": compressed[word]})
            maps += len(video_ids)
    return _done(PackResult(target, videos, words, maps), seed, keep_seed, "packed")


def _source(infos: list[AttentionInfo]) -> dict[str, Any]:
    """How the files layout wrote these files (``npz_compressed``), for unpacking them the same way."""
    flags = [c for c in (_npz_compressed(i.path) for i in infos[:1]) if c is not None]
    return {"npz_compressed": flags[0]} if flags else {}


def _aggregated_or_none(analyzer: AttentionAnalyzer, video_id: str, word: str) -> AttentionInfo | None:
    try:
        return analyzer.load_aggregated(video_id, word)
    except NotFoundError:
        return None


def unpack_batch(batch_dir: Path | str, keep_packed: bool = False) -> PackResult:
    """Restore ``batch_dir/attention_maps/`` (the files layout) from ``batch_dir/attention_maps.zarr``.

    Args:
        batch_dir: A packed batch folder.
        keep_packed: Keep ``attention_maps.zarr`` after unpacking (default: remove it).

    Raises:
        NotFoundError: There is no packed store.
        AttentionDataError: ``attention_maps/`` already exists.
    """
    batch = _batch_folder(batch_dir)
    packed = batch / PACKED_STORE
    target = batch / ATTENTION_MAPS_DIR
    if not is_packed_store(packed):
        raise NotFoundError(f"{batch} has no packed store {PACKED_STORE} to unpack")
    if target.exists():
        raise AttentionDataError(f"{target} already exists: the batch is not packed (or remove it first)")
    videos = words = maps = 0
    with _building(batch, target) as tmp:
        reader = PackedReader(packed)
        for video_id in reader.list_videos():
            for word in reader.words(video_id).values():
                data = read_whole(lambda word=word: word.array, word.path)  # [step, *leading, frame, y, x]
                for entry in word.entries:
                    _restore(tmp, entry.metadata, data[entry.index], word.source)
                words, maps = words + 1, maps + len(word.entries)
                aggregates = reader.aggregates(word.word)
                average = aggregates.read(video_id) if aggregates is not None else None
                if aggregates is not None and average is not None:
                    _restore(tmp, average.metadata, average.attention_map, aggregates.source)
                    maps += 1
            (tmp / video_id).mkdir(parents=True, exist_ok=True)
            summary = reader.complete_summary(video_id)
            if summary is not None:  # the files layout's mark lists its files (their checksums) instead
                summary.pop(PACKED_FILES, None)
                AttentionStore(tmp).mark_complete(video_id, summary)
            reader.release(video_id)
            videos += 1
    return _done(PackResult(target, videos, words, maps), packed, keep_packed, "unpacked")


def _restore(root: Path, metadata: MapMetadata, array: np.ndarray, source: dict[str, Any]) -> None:
    """Save one entry (a step, or the step average) the way the files layout had stored it."""
    store = AttentionStore(
        root,
        storage_format=metadata.storage_format,
        compress=bool(source.get("npz_compressed", True)),
        dtype=metadata.dtype,
    )
    if metadata.step_index is None:
        store.save_aggregated(metadata, array)
    else:
        store.save_step(metadata, array)


__all__ = ["PackResult", "pack_batch", "unpack_batch"]

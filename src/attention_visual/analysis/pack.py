"""``pack``: a batch's files-layout maps into one Zarr store, and ``unpack``: back, with the same content.

``pack_batch(batch)`` writes ``batch/attention_maps.zarr`` (layout: :mod:`attention_visual.storage.packed.reader`)
from ``batch/attention_maps/`` and removes the files layout; ``unpack_batch(batch)`` does the reverse.
Each is a transaction under the batch lock (:mod:`attention_visual.storage.backend.transaction`): the new
layout is written beside, verified against the old one value by value, recorded complete, and only
then is the old one deleted; a rerun after a kill at any moment finishes or rolls back what it finds.
Every array keeps its dtype and values, every metadata file its content, every video its completion mark
(or the lack of one), every ``.npz``/``.pt`` its format.

``pack`` refuses a files layout holding files it would not carry (notes, backups, a folder of something
else): nothing the user put there is deleted.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.backend.maps import FILES, LAYOUT_FOLDERS, PACKED, MapBackend
from attention_visual.storage.backend.placement import new_transaction, present
from attention_visual.storage.backend.transaction import foreign_files, kept_folder, move_maps, repair_layout
from attention_visual.storage.batch.lock import lock_batch
from attention_visual.storage.files.reader import AttentionStoreReader
from attention_visual.storage.files.store import AttentionInfo, AttentionStore
from attention_visual.storage.packed.reader import PackedReader
from attention_visual.storage.packed.writer import PACKED_FILES, PackedWriter
from attention_visual.storage.schema.metadata import MapMetadata

log = logging.getLogger(__name__)

_LISTED = 10  # foreign files named in the refusal; the rest are counted


@dataclass(frozen=True)
class PackResult:
    """What :func:`pack_batch` / :func:`unpack_batch` did.

    ``changed`` is False when the batch was in the wanted layout already (then the counts are 0).
    """

    path: Path  # the store written
    videos: int
    words: int
    maps: int
    changed: bool = True


@dataclass
class _Counts:
    videos: int = 0
    words: int = 0
    maps: int = 0


def _npz_compressed(path: Path) -> bool | None:
    """Whether a ``.npz`` file's members are deflated (None for other files)."""
    if path.suffix != ".npz":
        return None
    with zipfile.ZipFile(path) as archive:
        return any(info.compress_type != zipfile.ZIP_STORED for info in archive.infolist())


def _batch_folder(batch_dir: Path | str) -> Path:
    path = Path(batch_dir)
    if not path.is_dir():
        raise NotFoundError(f"batch folder {path} does not exist")
    return path


def _refuse_foreign(maps: MapBackend, operation: str) -> None:
    """``pack``/``unpack`` carry maps only: a store holding anything else is refused, naming what."""
    foreign = foreign_files(maps)
    if foreign:
        shown = ", ".join(foreign[:_LISTED]) + (f" and {len(foreign) - _LISTED} more" if len(foreign) > _LISTED else "")
        raise AttentionDataError(
            f"{operation} refused: {maps.root} holds {len(foreign)} file(s) that are not maps of its layout and "
            f"would be lost: {shown}; move them out of {maps.root.name}, then run {operation} again"
        )


def _move(
    batch_dir: Path | str, operation: str, source: str, keep: bool, write: Callable[[MapBackend, Path, _Counts], None]
) -> PackResult:
    """The batch's maps from layout ``source`` to the other one, as one transaction under the batch lock."""
    batch = _batch_folder(batch_dir)
    target = PACKED if source == FILES else FILES
    with lock_batch(batch, operation):
        repair_layout(batch)
        if not present(batch, source):
            if present(batch, target):
                log.info("%s holds its maps in %s already: nothing to %s", batch, LAYOUT_FOLDERS[target], operation)
                return PackResult(batch / LAYOUT_FOLDERS[target], 0, 0, 0, changed=False)
            raise NotFoundError(f"{batch} has no {LAYOUT_FOLDERS[source]} to {operation}")
        maps = MapBackend(source, batch / LAYOUT_FOLDERS[source])
        _refuse_foreign(maps, operation)
        if keep and kept_folder(batch, source).exists():
            raise AttentionDataError(
                f"{kept_folder(batch, source)} exists already: move it away, or run {operation} without --keep"
            )
        counts = _Counts()
        path = move_maps(batch, new_transaction(operation, source, target, keep), lambda out: write(maps, out, counts))
    verb = "packed" if operation == "pack" else "unpacked"
    log.info("%s %d videos, %d words, %d maps into %s", verb, counts.videos, counts.words, counts.maps, path)
    return PackResult(path, counts.videos, counts.words, counts.maps)


def pack_batch(batch_dir: Path | str, keep_seed: bool = False) -> PackResult:
    """Pack ``batch_dir/attention_maps/`` into ``batch_dir/attention_maps.zarr`` (see the module docstring).

    Args:
        batch_dir: A batch folder with maps in the files layout.
        keep_seed: Keep the files layout as ``attention_maps.kept/`` (no reader reads it) instead of deleting it.

    Raises:
        NotFoundError: There are no maps to pack.
        BatchBusyError: Another command changes the batch (``generate``, ``pack``…).
        AttentionDataError: ``attention_maps/`` holds files that are not maps, a map cannot be read, or
            what was written does not match it (nothing changed).
        StorageError: Disk full, read-only folder… (nothing changed; a rerun completes).
    """
    return _move(batch_dir, "pack", FILES, keep_seed, _write_packed)


def unpack_batch(batch_dir: Path | str, keep_packed: bool = False) -> PackResult:
    """Restore ``batch_dir/attention_maps/`` (the files layout) from ``batch_dir/attention_maps.zarr``.

    Args:
        batch_dir: A packed batch folder.
        keep_packed: Keep the packed store as ``attention_maps.zarr.kept/`` instead of deleting it.

    Raises:
        The errors of :func:`pack_batch`.
    """
    return _move(batch_dir, "unpack", PACKED, keep_packed, _write_files)


def _write_packed(source: MapBackend, out: Path, counts: _Counts) -> None:
    """Write the files layout ``source`` as a packed store at ``out``."""
    averaged: dict[str, list[str]] = {}  # word -> videos with a step average
    compressed: dict[str, bool] = {}  # word -> how its .npz step averages were written
    writer = PackedWriter(out)
    for video_id in AttentionStoreReader(source.root).list_videos(include_incomplete=True):
        reader = AttentionStoreReader(source.root)  # a fresh index per video: memory stays flat
        writer.begin_video(video_id)
        for word in reader.list_words(video_id):
            steps = [reader.read_step(video_id, word, s) for s in reader.list_steps(video_id, word)]
            writer.write_word(video_id, [(i.metadata, i.attention_map) for i in steps], _source(steps))
            counts.words, counts.maps = counts.words + 1, counts.maps + len(steps)
            aggregated = _aggregated_or_none(reader, video_id, word)
            if aggregated is not None:
                averaged.setdefault(word, []).append(video_id)
                compressed.setdefault(word, _npz_compressed(aggregated.path) is not False)
        record = AttentionStore(source.root).completion_record(video_id)  # no link followed, size-limited
        if record is not None:
            writer.mark_complete(video_id, record)
        counts.videos += 1
    for word, video_ids in sorted(averaged.items()):

        def read(video_id: str, word: str = word) -> tuple[MapMetadata, np.ndarray]:
            info = AttentionStoreReader(source.root).read_aggregated(video_id, word)
            return info.metadata, info.attention_map

        writer.write_aggregates(word, video_ids, read, {"npz_compressed": compressed[word]})
        counts.maps += len(video_ids)


def _source(infos: list[AttentionInfo]) -> dict[str, Any]:
    """How the files layout wrote these files (``npz_compressed``), for unpacking them the same way."""
    flags = [c for c in (_npz_compressed(i.path) for i in infos[:1]) if c is not None]
    return {"npz_compressed": flags[0]} if flags else {}


def _aggregated_or_none(reader: AttentionStoreReader, video_id: str, word: str) -> AttentionInfo | None:
    try:
        return reader.read_aggregated(video_id, word)
    except NotFoundError:
        return None


def _write_files(source: MapBackend, out: Path, counts: _Counts) -> None:
    """Write the packed store ``source`` as the files layout at ``out``."""
    reader = PackedReader(source.root)
    for video_id in reader.list_videos():
        for word in reader.words(video_id).values():
            data, metas = word.read_steps()  # [step, *leading, frame, y, x], in step order
            for array, metadata in zip(data, metas, strict=True):
                _restore(out, metadata, array, word.source)
            counts.words, counts.maps = counts.words + 1, counts.maps + len(word.entries)
            average = reader.find_aggregated(video_id, word.word)  # also one staged by a zarr batch not consolidated
            if average is not None:
                aggregates = reader.aggregates(word.word)
                how = aggregates.source if aggregates is not None and aggregates.read(video_id) is not None else None
                _restore(out, average.metadata, average.attention_map, how if how is not None else word.source)
                counts.maps += 1
        (out / video_id).mkdir(parents=True, exist_ok=True)
        summary = reader.complete_summary(video_id)
        if summary is not None:  # the files layout's mark lists the files (its checksums) instead
            summary.pop(PACKED_FILES, None)
            AttentionStore(out).mark_complete(video_id, summary)
        reader.release(video_id)
        counts.videos += 1


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

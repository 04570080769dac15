"""Moving a batch's maps from one layout to the other as a crash-safe transaction, and repairing a batch
that one left half done.

:func:`move_maps` (``pack``, ``unpack``; the caller holds the batch lock):

1. record the transaction, state ``building`` (``<batch>/.layout-transaction.json``);
2. write the new layout in ``<batch>/.<folder>.tmp-<pid>`` and verify it against the old one, by value
   (:func:`~.compare.differences`);
3. rename it into place, record ``complete``;
4. retire the old layout: rename it to ``.<folder>.old.tmp-<pid>`` (or ``<folder>.kept`` to keep it) and delete it;
5. delete the record.

Readers follow the record (:mod:`.placement`), so they read the old layout until step 3 and the new one
after it. A kill at any moment leaves a state :func:`repair_layout` (run by the next ``pack``, ``unpack``
or ``generate`` under the lock) finishes (``complete``: steps 4–5) or rolls back (``building``: the new
layout and every temporary deleted); it says what it did. A storage fault (disk full, read-only) rolls
back and raises one :class:`~attention_visual.errors.StorageError`; an interruption (Ctrl-C, SIGTERM)
rolls back, or after step 3 finishes the removal first, then propagates.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from attention_visual.errors import AttentionDataError, StorageError
from attention_visual.storage.backend.compare import differences, video_differences
from attention_visual.storage.backend.maps import FILES, LAYOUT_FOLDERS, PACKED, MapBackend
from attention_visual.storage.backend.placement import (
    COMPLETE,
    Transaction,
    present,
    read_transaction,
    unrecorded_choice,
    write_transaction,
)
from attention_visual.storage.batch.layout import ATTENTION_MAPS_DIR, TRANSACTION_FILE
from attention_visual.storage.durable.atomic import TMP_MARKER, is_temporary
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.storage.durable.reading import check_tree
from attention_visual.storage.files.reader import AttentionStoreReader
from attention_visual.storage.packed.reader import ZARR_JSON
from attention_visual.storage.packed.writer import PARTIAL_SUFFIX

log = logging.getLogger(__name__)

KEPT_SUFFIX = ".kept"
"""``attention_maps.kept``: where ``pack --keep`` (``unpack --keep``) leaves the old layout; no reader reads it."""


def building_folder(batch_dir: Path, layout: str) -> Path:
    """``.attention_maps.zarr.tmp-<pid>``: where this process writes the new layout."""
    return batch_dir / f".{LAYOUT_FOLDERS[layout]}{TMP_MARKER}{os.getpid()}"


def kept_folder(batch_dir: Path, layout: str) -> Path:
    """``attention_maps.kept``: where ``--keep`` leaves the old layout."""
    return batch_dir / f"{LAYOUT_FOLDERS[layout]}{KEPT_SUFFIX}"


def temporaries(batch_dir: Path) -> list[Path]:
    """What transactions leave when killed: ``.attention_maps*.tmp-*`` folders and the record's temporary files."""
    found = [
        *batch_dir.glob(f".{ATTENTION_MAPS_DIR}*{TMP_MARKER}*"),
        *batch_dir.glob(f".{TRANSACTION_FILE}{TMP_MARKER}*"),
    ]
    return sorted(p for p in found if is_temporary(p))


def remove_tree(path: Path) -> None:
    """Delete a folder, a file or a link (never what a link points to)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def _retire(batch_dir: Path, record: Transaction) -> None:
    """Steps 4–5: move the source out of the way (kept or deleted), delete temporaries and the record."""
    source = batch_dir / LAYOUT_FOLDERS[record.source]
    if source.exists() or source.is_symlink():
        if record.keep:
            source.rename(kept_folder(batch_dir, record.source))
        else:  # a rename first: a kill while deleting leaves a temporary, never a half layout under its name
            source.rename(batch_dir / f".{source.name}.old{TMP_MARKER}{os.getpid()}")
    for leftover in temporaries(batch_dir):
        remove_tree(leftover)
    (batch_dir / TRANSACTION_FILE).unlink(missing_ok=True)


def finish(batch_dir: Path, record: Transaction) -> None:
    """Finish a verified transaction (the record says ``complete``); an interruption waits until it is done."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            _retire(batch_dir, record)
            break
        except KeyboardInterrupt as exc:  # the new layout is the batch's: end as meant to be, then stop
            interrupted = exc
    if interrupted is not None:
        raise interrupted


def roll_back(batch_dir: Path, record: Transaction) -> None:
    """Undo an unverified transaction: delete the new layout (while the old one is there) and every temporary."""
    for leftover in temporaries(batch_dir):
        remove_tree(leftover)
    if present(batch_dir, record.source):
        remove_tree(batch_dir / LAYOUT_FOLDERS[record.target])
    (batch_dir / TRANSACTION_FILE).unlink(missing_ok=True)


def _fault(exc: BaseException, record: Transaction, batch_dir: Path, done: bool) -> StorageError | None:
    fault = storage_fault(exc, any_os_error=True)
    if fault is None:
        return None
    reason = str(fault).split(": ", 1)[-1]
    target, source = LAYOUT_FOLDERS[record.target], LAYOUT_FOLDERS[record.source]
    if done:
        return StorageError(
            f"{record.operation} {batch_dir}: {reason} while removing {source}; the maps are in {target}: "
            f"rerun `attention-visual {record.operation}` to finish"
        )
    return StorageError(
        f"cannot {record.operation} {batch_dir}: {reason} while writing {target}; the batch is unchanged"
    )


def move_maps(batch_dir: Path, record: Transaction, write: Callable[[Path], None]) -> Path:
    """Run the transaction ``record`` (state ``building``): ``write(folder)`` writes the new layout into ``folder``.

    Returns:
        The new layout's folder.

    Raises:
        AttentionDataError: What was written does not match the old layout (rolled back).
        StorageError: Disk full, read-only folder… (rolled back before step 3; afterwards the rerun finishes).
    """
    source = MapBackend(record.source, batch_dir / LAYOUT_FOLDERS[record.source])
    target = batch_dir / LAYOUT_FOLDERS[record.target]
    building = building_folder(batch_dir, record.target)
    try:
        write_transaction(batch_dir, record)
        remove_tree(building)
        write(building)
        problem = next(differences(source, MapBackend(record.target, building)), None)
        if problem is not None:
            raise AttentionDataError(
                f"{record.operation}: the {target.name} written does not match {source.root.name} ({problem}); "
                "nothing was changed"
            )
        building.rename(target)
        record = write_transaction(batch_dir, dataclasses.replace(record, state=COMPLETE))
    except BaseException as exc:
        try:
            roll_back(batch_dir, record)
        except OSError as undo:
            log.warning("could not roll back (%s): the next pack, unpack or generate does", undo)
        fault = _fault(exc, record, batch_dir, done=False)
        if fault is not None:
            raise fault from exc
        raise
    try:
        finish(batch_dir, record)
    except OSError as exc:
        fault = _fault(exc, record, batch_dir, done=True)
        if fault is None:
            raise
        raise fault from exc
    return target


def _unrecorded_repair(batch_dir: Path) -> str:
    """Rule 3 of :mod:`.placement`, repaired: keep the chosen layout, remove the other if it holds nothing more."""
    layout, reason = unrecorded_choice(batch_dir)
    other = PACKED if layout == FILES else FILES
    kept, dropped = (MapBackend(x, batch_dir / LAYOUT_FOLDERS[x]) for x in (layout, other))
    try:
        videos = dropped.reader().list_videos(include_incomplete=False)
    except AttentionDataError:
        videos = []
    for video_id in videos:
        if dropped.check_video(video_id, checksums=False):
            continue  # a damaged video: left by the deletion that was interrupted
        if not (kept.exists() and kept.has_video(video_id) and kept.complete_record(video_id) is not None):
            problem: str | None = f"video {video_id} is finished in {dropped.root.name} only"
        else:
            problem = next(video_differences(dropped, kept, video_id), None)
        if problem is not None:
            raise AttentionDataError(
                f"{batch_dir} holds both {kept.root.name} and {dropped.root.name}, with different maps ({problem}): "
                "move the one you do not want out of the batch folder, then rerun"
            )
    remove_tree(dropped.root)
    return (
        f"{batch_dir} held both layouts with no record: kept {kept.root.name} ({reason}), removed {dropped.root.name}"
    )


def repair_layout(batch_dir: Path) -> list[str]:
    """Leave ``batch_dir`` with one layout and no temporaries; return (and log) what was done.

    Call it holding the batch lock (``pack``, ``unpack`` and ``generate`` do, before anything else).

    Raises:
        AttentionDataError: Both layouts are there with no record and they hold different maps (nothing is
            deleted then: the user decides).
    """
    said: list[str] = []
    try:
        record = read_transaction(batch_dir)
        damaged = False
    except AttentionDataError:
        record, damaged = None, True
    if record is not None:
        source, target = LAYOUT_FOLDERS[record.source], LAYOUT_FOLDERS[record.target]
        had_source, half_removed = present(batch_dir, record.source), bool(temporaries(batch_dir))
        if record.state == COMPLETE and present(batch_dir, record.target):
            finish(batch_dir, record)
            kept = f"kept it as {kept_folder(batch_dir, record.source).name}" if record.keep else f"removed {source}"
            gone = kept if had_source else f"removed what was left of {source}" if half_removed else f"{source} is gone"
            said.append(f"finished the interrupted {record.describe()}: the maps are in {target}; {gone}")
        elif had_source:
            unverified = present(batch_dir, record.target)
            roll_back(batch_dir, record)
            what = f"removed the unverified {target}" if unverified else f"{target} was not written yet"
            said.append(f"rolled back the interrupted {record.describe()}: {what}; the maps are in {source}")
        else:
            (batch_dir / TRANSACTION_FILE).unlink(missing_ok=True)
            said.append(f"removed the record of {record.describe()}: {source} is gone, the maps are in {target}")
    leftovers = temporaries(batch_dir)
    for leftover in leftovers:
        remove_tree(leftover)
    if leftovers:
        said.append(f"removed {len(leftovers)} temporary folder(s) of an interrupted pack or unpack")
    if present(batch_dir, FILES) and present(batch_dir, PACKED):
        said.append(_unrecorded_repair(batch_dir))
    if damaged:
        (batch_dir / TRANSACTION_FILE).unlink(missing_ok=True)
        said.append("removed a damaged layout transaction record")
    for line in said:
        log.warning("%s", line)
    return said


def foreign_files(maps: MapBackend) -> list[str]:
    """Files in a store that its layout would not carry over (someone's notes, backups, other files): relative paths.

    Temporaries of interrupted writes (``.<name>.tmp-*``, Zarr's ``*.partial``) are not counted: they are
    leftovers, never data.

    Raises:
        AttentionDataError: A symbolic link anywhere in the store (named: no reader follows one).
    """
    if not maps.exists():
        return []
    check_tree(maps.root)
    if maps.layout == PACKED:
        carried: Callable[[Path], bool] = lambda p: p.name == ZARR_JSON or p.name.startswith("c.")  # noqa: E731
    else:
        reader = AttentionStoreReader(maps.root)
        files = {f for v in reader.list_videos(include_incomplete=True) for f in reader.video_files(v)}
        carried = files.__contains__
    return sorted(
        p.relative_to(maps.root).as_posix()
        for p in _files(maps.root)
        if not (carried(p) or is_temporary(p) or p.name.endswith(PARTIAL_SUFFIX))
    )


def _files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` (a tree without links: :func:`foreign_files` checks it first)."""
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


__all__ = [
    "KEPT_SUFFIX",
    "building_folder",
    "finish",
    "foreign_files",
    "kept_folder",
    "move_maps",
    "remove_tree",
    "repair_layout",
    "roll_back",
    "temporaries",
]

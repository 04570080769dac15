"""Where a batch's maps are: one rule, applied by :func:`open_maps` for every reader and writer.

A batch holds its maps in one layout: the files layout ``attention_maps/`` or the packed store
``attention_maps.zarr``. ``pack`` and ``unpack`` move them from one to the other as a transaction
(:mod:`.transaction`), recorded in ``<batch>/.layout-transaction.json`` while they run. The rule:

1. One of the two exists: its maps are the batch's.
2. Both exist and the record says ``building``: the source (the new layout is not verified yet).
   The record says ``complete``: the target (it was verified against the source, which is being removed).
3. Both exist without a record (an older version was killed while it deleted one, or someone copied one
   in): the layout with more finished videos whose files verify (sizes); the files layout on a tie.

In cases 2 and 3 a reader reads the layout the rule names and logs one warning saying so and what repairs
it; ``pack``, ``unpack`` and ``generate`` repair the batch (:func:`~.transaction.repair_layout`) under its lock.

Example:
    >>> maps = open_maps("outputs/batch")             # a batch folder, or its attention_maps[.zarr] path
    >>> maps.layout, maps.root.name
    ('files', 'attention_maps')
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.logs import ONCE
from attention_visual.storage.backend.maps import FILES, LAYOUT_FOLDERS, PACKED, MapBackend
from attention_visual.storage.batch.layout import (
    ATTENTION_MAPS_DIR,
    CONFIG_FILE,
    MANIFEST_FILE,
    PACKED_STORE,
    STORES,
    TRANSACTION_FILE,
)
from attention_visual.storage.batch.manifest import now_iso
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.storage.durable.reading import link_refused, read_fault, read_json_object, regular_file_exists
from attention_visual.storage.files.layout import PACKED_FORMAT
from attention_visual.storage.packed.reader import is_packed_store
from attention_visual.storage.schema.limits import MAX_RECORD_BYTES

log = logging.getLogger(__name__)

BUILDING = "building"
"""A transaction's state while it writes and verifies the new layout: the source is the batch's maps."""
COMPLETE = "complete"
"""A transaction's state once the new layout is verified and in place: it is the batch's maps."""


@dataclass(frozen=True)
class Transaction:
    """The record of a ``pack`` or ``unpack`` under way (``<batch>/.layout-transaction.json``).

    Attributes:
        operation: ``pack`` or ``unpack`` (the command that repairs it too).
        source: The layout the maps are moved from (:data:`~.maps.FILES` or :data:`~.maps.PACKED`).
        target: The layout they are moved to.
        state: :data:`BUILDING` or :data:`COMPLETE`.
        keep: Keep the source as ``<its folder>.kept`` instead of deleting it.
        pid: The process that began it.
        started: When (ISO 8601 UTC).
    """

    operation: str
    source: str
    target: str
    state: str = BUILDING
    keep: bool = False
    pid: int | None = None
    started: str = ""

    def describe(self) -> str:
        """``pack (attention_maps/ → attention_maps.zarr, pid 4242)``."""
        return f"{self.operation} ({LAYOUT_FOLDERS[self.source]} → {LAYOUT_FOLDERS[self.target]}, pid {self.pid})"


def read_transaction(batch_dir: Path) -> Transaction | None:
    """The batch's transaction record, or None when there is none.

    Raises:
        AttentionDataError: The record exists but is not one (damaged, or written by hand).
    """
    path = batch_dir / TRANSACTION_FILE
    try:
        if not regular_file_exists(path):
            return None
    except OSError as exc:
        raise read_fault(exc, path) from exc
    data = read_json_object(path, MAX_RECORD_BYTES, "layout transaction record")  # no link, size-limited
    try:
        record = Transaction(**data)
        valid = (
            {record.source, record.target} == {FILES, PACKED}
            and record.state in (BUILDING, COMPLETE)
            and isinstance(record.operation, str)
        )
    except TypeError:
        valid = False
    if not valid:
        raise AttentionDataError(f"{path}: unreadable layout transaction record (unknown fields or values)")
    return record


def write_transaction(batch_dir: Path, record: Transaction) -> Transaction:
    """Write ``record`` atomically (a kill leaves the old record or the new one); return it."""
    atomic_write_text(batch_dir / TRANSACTION_FILE, json.dumps(asdict(record), indent=2) + "\n")
    return record


def new_transaction(operation: str, source: str, target: str, keep: bool) -> Transaction:
    """A :data:`BUILDING` record of this process."""
    return Transaction(operation, source, target, BUILDING, keep, os.getpid(), now_iso())


@dataclass(frozen=True)
class Placement:
    """Which layout holds a batch's maps (None: neither) and, for a half state, the one line that says so."""

    layout: str | None
    note: str | None = None


def present(batch_dir: Path, layout: str) -> bool:
    """Whether the batch holds a folder of ``layout`` (complete or not).

    Raises:
        AttentionDataError: It is a symbolic link (its maps would be read from, or written to, anywhere).
    """
    path = batch_dir / LAYOUT_FOLDERS[layout]
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise read_fault(exc, path) from exc
    if stat.S_ISLNK(mode):
        raise link_refused(path)
    return stat.S_ISDIR(mode)


def finished_videos(maps: MapBackend) -> int:
    """How many finished videos of ``maps`` verify by size (0 for a store that cannot be read)."""
    try:
        videos = maps.reader().list_videos(include_incomplete=False)
        return sum(not maps.check_video(v, checksums=False) for v in videos)
    except (AttentionDataError, OSError):
        return 0


def unrecorded_choice(batch_dir: Path) -> tuple[str, str]:
    """Rule 3: ``(layout, reason)`` for a batch holding both layouts without a transaction record."""
    counts = {
        layout: finished_videos(MapBackend(layout, batch_dir / LAYOUT_FOLDERS[layout])) for layout in (FILES, PACKED)
    }
    layout = PACKED if counts[PACKED] > counts[FILES] else FILES
    return layout, f"{counts[FILES]} vs {counts[PACKED]} finished videos that verify"


def locate(batch_dir: Path) -> Placement:
    """Apply the rule (module docstring) to ``batch_dir``: the layout to read, and a note for a half state."""
    has = {layout: present(batch_dir, layout) for layout in (FILES, PACKED)}
    if not (has[FILES] and has[PACKED]):
        return Placement(FILES if has[FILES] else PACKED if has[PACKED] else None)
    both = f"{batch_dir} holds both {ATTENTION_MAPS_DIR}/ and {PACKED_STORE}"
    try:
        record = read_transaction(batch_dir)
    except AttentionDataError as exc:
        record, damaged = None, f" and a damaged record ({exc})"
    else:
        damaged = ""
    if record is None:
        layout, reason = unrecorded_choice(batch_dir)
        note = f"{both} with no record of which is complete{damaged}: reading {LAYOUT_FOLDERS[layout]} ({reason})"
        return Placement(layout, f"{note}; `attention-visual pack`, `unpack` or `generate` repairs it")
    layout = record.target if record.state == COMPLETE else record.source
    what = "finished but not cleaned up" if record.state == COMPLETE else "not finished"
    return Placement(
        layout,
        f"{both}: {record.describe()} is {what}; reading {LAYOUT_FOLDERS[layout]} "
        f"(`attention-visual {record.operation}` or `generate` repairs it)",
    )


def _batch_of(path: Path) -> Path | None:
    """The batch folder ``path`` stands for (itself, or the parent of its store folder), None for a bare store."""
    if path.name in STORES:
        return path.parent
    markers = (*STORES, TRANSACTION_FILE, MANIFEST_FILE, CONFIG_FILE)
    return path if any((path / name).exists() for name in markers) else None


def open_maps(path: Path | str, *, storage_format: str | None = None) -> MapBackend:
    """The maps of a batch, by the rule (module docstring): every reader and writer gets its store here.

    Args:
        path: A batch folder, its ``attention_maps`` or ``attention_maps.zarr`` path (either name: the rule
            decides, so a batch packed after the fact is read from its old path too), or a store folder of
            another name (read as what it is).
        storage_format: For a batch that has no maps yet: the config's ``storage_format``, which picks the
            layout they will be written in (``zarr``: the packed store). Without it such a batch is an error.

    Raises:
        NotFoundError: No maps there (and no ``storage_format``).
    """
    path = Path(path)
    batch = path if storage_format is not None and path.name not in STORES else _batch_of(path)
    if batch is None:
        if is_packed_store(path):
            return MapBackend(PACKED, path)
        if path.is_dir():
            return MapBackend(FILES, path)
        raise NotFoundError(f"attention directory {path} does not exist")
    placement = locate(batch)
    if placement.note is not None:
        log.warning("%s", placement.note, extra={ONCE: True})
    layout = placement.layout
    if layout is None:
        if storage_format is None:
            where = (
                f"attention directory {path} does not exist" if path.name in STORES else f"no attention maps in {path}"
            )
            raise NotFoundError(f"{where}: give a batch folder holding {ATTENTION_MAPS_DIR}/ or {PACKED_STORE}")
        layout = PACKED if storage_format == PACKED_FORMAT else FILES
    return MapBackend(layout, batch / LAYOUT_FOLDERS[layout])


def find_maps(path: Path | str) -> MapBackend | None:
    """:func:`open_maps`, or None when ``path`` holds no maps."""
    with contextlib.suppress(NotFoundError):
        return open_maps(path)
    return None


def batch_store(batch_dir: Path) -> MapBackend | None:
    """The maps of the batch folder ``batch_dir`` by the rule, None when it has none (nothing logged)."""
    layout = locate(batch_dir).layout
    return None if layout is None else MapBackend(layout, batch_dir / LAYOUT_FOLDERS[layout])


__all__ = [
    "BUILDING",
    "COMPLETE",
    "Placement",
    "Transaction",
    "batch_store",
    "find_maps",
    "locate",
    "new_transaction",
    "open_maps",
    "present",
    "read_transaction",
    "unrecorded_choice",
    "write_transaction",
]

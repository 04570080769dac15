"""One writer per batch: an exclusive OS lock on ``<batch>/generate.lock`` while a command changes the batch.

Every command that changes a batch holds it for its whole run: ``generate``, ``pack``, ``unpack`` and
``report`` writing into the batch. Commands that only read (``stats``, ``video``, ``compare``, a
``report --output`` elsewhere) never take it, so they never wait.

The lock is ``fcntl.flock(LOCK_EX | LOCK_NB)`` on an open file descriptor, held until the command ends.
The kernel releases it when the process exits, however it exits (``kill -9`` included), so there is
never a stale lock to remove by hand. The file itself stays in the batch folder (deleting it would
let a second process lock a new file of the same name while the first still holds the old one); it
holds the holder's command, pid, host and start time, one JSON object, for the refusal message.

Under ``torchrun`` only rank 0 takes the lock; the other ranks work in the folder rank 0 shares.
On network file systems the lock is as good as the file system's ``flock`` (NFSv4 and Lustre with
``flock`` mounted: yes).

Example:
    >>> with BatchLock.acquire(Path("outputs/demo"), command="pack") as lock:  # doctest: +SKIP
    ...     ...                                                                 # change the batch
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from attention_visual.errors import AttentionDataError, AttentionVisualError, BatchBusyError, NotFoundError
from attention_visual.storage.batch.layout import LOCK_FILE, OWNED
from attention_visual.storage.batch.manifest import now_iso
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.storage.durable.reading import check_tree, link_refused, read_json_object
from attention_visual.storage.schema.limits import MAX_RECORD_BYTES


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a batch's lock, as written into the lock file."""

    pid: int | None
    host: str
    started: str
    command: str = ""

    def describe(self) -> str:
        """``pack, pid 1234 on host gpu07 since 2025-01-31T12:00:00+00:00``."""
        pid = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        who = f"{self.command}, {pid}" if self.command else pid
        return f"{who} on host {self.host or '?'} since {self.started or '?'}"


def read_holder(batch_dir: Path) -> LockHolder:
    """The holder recorded in ``batch_dir``'s lock file (fields unknown when it is unreadable)."""
    try:
        data = read_json_object(batch_dir / LOCK_FILE, MAX_RECORD_BYTES, "lock file")  # no link, size-limited
    except (OSError, AttentionVisualError):
        data = {}
    pid = data.get("pid")
    return LockHolder(
        pid if isinstance(pid, int) else None,
        str(data.get("host", "")),
        str(data.get("started", "")),
        str(data.get("command", "")),
    )


class BatchLock:
    """The held lock of one batch folder; release it with :meth:`release` or a ``with`` block."""

    def __init__(self, batch_dir: Path, fd: int) -> None:
        self.batch_dir = batch_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, batch_dir: Path, *, command: str = "generate", create: bool = True) -> BatchLock:
        """Lock ``batch_dir`` (created first when ``create``), or fail at once when another process holds it.

        Once locked, what the batch writes (:data:`~.layout.OWNED`) is checked for symbolic links: the
        command that holds the lock writes there, and a link would take its writes outside the batch.

        Raises:
            BatchBusyError: Another process holds the lock (the message names it).
            AttentionDataError: A link in place of the lock file or anywhere in what the batch writes.
            NotFoundError: ``batch_dir`` does not exist and ``create`` is off.
            OSError: The folder or the lock file cannot be created (read-only, disk full...).
        """
        if create:
            batch_dir.mkdir(parents=True, exist_ok=True)
        elif not batch_dir.is_dir():
            raise NotFoundError(f"batch folder {batch_dir} does not exist")
        path = batch_dir / LOCK_FILE
        try:  # never through a link: the holder is written into the file, which must be the batch's own
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refused = f"{path}: a symbolic link (refused: the lock is written into it; remove it)"
                raise AttentionDataError(refused) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AttentionDataError(f"{path}: not a regular file (refused; remove it)")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BatchBusyError(
                f"batch folder {batch_dir} is in use by another run ({read_holder(batch_dir).describe()})"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            refuse_links(batch_dir)
        except BaseException:
            os.close(fd)  # closing the descriptor releases the lock
            raise
        try:
            holder = {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "started": now_iso()}
            data = (json.dumps(holder) + "\n").encode("utf-8")
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)  # in place: the locked file must stay the same file
        except OSError:
            pass  # the lock is what matters; the holder's details only make the refusal clearer
        return cls(batch_dir, fd)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock (safe to call twice). The lock file stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> BatchLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def refuse_links(batch_dir: Path) -> None:
    """Refuse a symbolic link in place of, or anywhere under, what the batch writes (:data:`~.layout.OWNED`).

    One ``lstat`` per owned name and a listing of every owned folder that never follows a link
    (:func:`~attention_visual.storage.durable.reading.check_tree`), once per command that changes a batch.

    Raises:
        AttentionDataError: The first link met (the message names it).
    """
    for name in OWNED:
        path = batch_dir / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise link_refused(path)
        if stat.S_ISDIR(mode):
            check_tree(path)


def lock_batch(batch_dir: Path, command: str) -> BatchLock:
    """The lock of an existing batch folder for ``command`` (``pack``, ``unpack``, ``report``).

    Raises:
        BatchBusyError: Another process holds it (exit status 2; the message names the holder).
        NotFoundError: ``batch_dir`` is not a folder.
        StorageError: The lock file cannot be written (read-only folder...; exit status 1).
    """
    try:
        return BatchLock.acquire(batch_dir, command=command, create=False)
    except BatchBusyError as busy:
        raise BatchBusyError(f"{busy}: {command} changes the batch; wait for that run to end") from None
    except OSError as exc:
        fault = storage_fault(exc, batch_dir / LOCK_FILE, any_os_error=True)
        if fault is None:
            raise
        raise fault from exc


__all__ = ["LOCK_FILE", "BatchLock", "LockHolder", "lock_batch", "read_holder", "refuse_links"]

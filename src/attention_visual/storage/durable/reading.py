"""Opening a stored file for reading without trusting it: no symbolic links, regular files only, sizes first.

A batch folder may come from anywhere (a colleague's archive, a shared disk), so a reader never
follows a link inside a store (it could point anywhere: ``/etc/passwd``, another user's files, a
FIFO that blocks forever), never opens something that is not a regular file, and learns a file's
size before it reads a byte of it:

* :func:`open_regular` opens with ``O_NOFOLLOW`` (a link is refused, not followed) and
  ``O_NONBLOCK`` (a FIFO does not block the open), then checks with ``fstat`` that it is a regular file;
* :func:`read_limited` reads a whole file no larger than a limit (checked before reading);
* :func:`scan_folder` lists a folder with ``os.scandir`` and refuses the links among the entries a
  reader looks at (the entry types come with the listing: no extra system call);
* :func:`regular_file_exists`, :func:`check_no_links` and :func:`check_tree` look (``lstat``) without
  following: a file that must be there or not, the folders on the way to one, a whole folder tree;
* :func:`read_fault` turns an ``OSError`` of a read into one line: a missing file is bad data
  (exit 2), any other fault of the file system is a :class:`~attention_visual.errors.StorageError` (exit 1).

A link or a special file is one :class:`~attention_visual.errors.AttentionDataError` naming it.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.json").write_text("{}")
    >>> (folder / "b.json").symlink_to("/etc/passwd")
    >>> read_limited(folder / "a.json", 100)
    b'{}'
    >>> read_limited(folder / "b.json", 100)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attention_visual.errors.AttentionDataError: .../b.json: a symbolic link inside the batch (refused: ...
    >>> import shutil; shutil.rmtree(folder)
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attention_visual.errors import AttentionDataError, AttentionVisualError, StorageError

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def link_refused(path: Path | str) -> AttentionDataError:
    """The error for a symbolic link met inside a store."""
    return AttentionDataError(
        f"{path}: a symbolic link inside the batch (refused: a link may point outside the batch; "
        "replace it with the file it points to)"
    )


def read_fault(exc: OSError, path: Path | str) -> AttentionVisualError:
    """One line for an ``OSError`` raised while reading ``path``.

    A missing file is bad data (:class:`AttentionDataError`, exit 2), a link refused by ``O_NOFOLLOW``
    too; any other fault (permission denied, I/O error...) is a :class:`StorageError` (exit 1).
    """
    if isinstance(exc, FileNotFoundError):
        return AttentionDataError(f"{path}: file is missing")
    if exc.errno == errno.ELOOP:
        return link_refused(path)
    reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else type(exc).__name__)
    return StorageError(f"cannot read {path}: {reason}")


def _open_regular_fd(path: Path | str) -> tuple[int, int]:
    """``(file descriptor, size)`` of the regular file ``path``, opened without following a link."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_refused(path) from exc
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):  # O_NONBLOCK has no effect on the regular files kept
            raise AttentionDataError(f"{path}: not a regular file (refused)")
    except BaseException:
        os.close(fd)
        raise
    return fd, found.st_size


def open_regular(path: Path | str) -> io.BufferedReader:
    """Open ``path`` for reading in binary mode: a regular file, never through a symbolic link.

    Raises:
        AttentionDataError: ``path`` is a symbolic link, or not a regular file (a folder, a FIFO, a device).
        OSError: It cannot be opened (missing, permission denied...): see :func:`read_fault`.
    """
    fd, _ = _open_regular_fd(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: Path | str, limit: int, what: str = "this file") -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`), at most ``limit`` of them.

    The size is checked before anything is read (and again while reading, for a file that grows).
    One ``open``, ``fstat`` and (usually) one ``read`` system call.

    Raises:
        AttentionDataError: A link, not a regular file, or larger than ``limit``.
        OSError: It cannot be read.
    """
    fd, size = _open_regular_fd(path)
    chunks: list[bytes] = []
    try:
        wanted = size + 1 if size <= limit else 0  # one byte more: a file that grew shows it
        got = 0
        while got < wanted:
            chunk = os.read(fd, wanted - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if size > limit or len(data) > limit:
        raise AttentionDataError(f"{path}: {max(size, len(data))} bytes, more than {what} may have ({limit})")
    return data


def read_json_object(path: Path, limit: int, what: str) -> dict[str, Any]:
    """The JSON object in the regular file ``path`` (no link, at most ``limit`` bytes), ``what`` naming it.

    Raises:
        AttentionDataError: A link, not a regular file, too large, missing, not JSON or not an object.
        StorageError: It cannot be read (permission denied, I/O error).
    """
    try:
        data = json.loads(read_limited(path, limit, what))
    except OSError as exc:
        raise read_fault(exc, path) from exc
    except (ValueError, RecursionError) as exc:
        raise AttentionDataError(f"{path}: unreadable {what} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise AttentionDataError(f"{path}: unreadable {what} (not a JSON object)")
    return data


def scan_folder(folder: Path, ignore: Callable[[str], bool] | None = None) -> list[os.DirEntry[str]]:
    """The entries of ``folder``, sorted by name, without those ``ignore(name)`` is true for.

    Raises:
        AttentionDataError: An entry that is kept is a symbolic link.
        OSError: ``folder`` cannot be listed.
    """
    with os.scandir(folder) as it:
        entries = sorted((e for e in it if ignore is None or not ignore(e.name)), key=lambda e: e.name)
    for entry in entries:
        if entry.is_symlink():
            raise link_refused(entry.path)
    return entries


def check_no_links(root: Path, folder: Path) -> None:
    """Refuse a symbolic link on the way from ``root`` (trusted) down to ``folder`` (itself included).

    Raises:
        AttentionDataError: One of the folders is a link.
    """
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return  # nothing there to follow; the caller reports what is missing
        except OSError as exc:
            raise read_fault(exc, current) from exc
        if stat.S_ISLNK(mode):
            raise link_refused(current)


def check_tree(folder: Path) -> None:
    """Refuse a symbolic link anywhere under ``folder`` (before Zarr, which follows them, reads it).

    Links are seen in the directory entries themselves (no ``stat`` per file) and never followed; a
    folder that cannot be listed is passed over, as :func:`os.walk` does (its reader reports it).
    """
    pending = [str(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                raise link_refused(entry.path)
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)


def regular_file_exists(path: Path) -> bool:
    """True when ``path`` is a regular file, False when nothing is there (no link is followed).

    Raises:
        AttentionDataError: ``path`` is a symbolic link, or something else than a regular file.
        OSError: It cannot be examined.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode):
        raise link_refused(path)
    if not stat.S_ISREG(mode):
        raise AttentionDataError(f"{path}: not a regular file (refused)")
    return True


__all__ = [
    "check_no_links",
    "check_tree",
    "link_refused",
    "open_regular",
    "read_fault",
    "read_json_object",
    "read_limited",
    "regular_file_exists",
    "scan_folder",
]

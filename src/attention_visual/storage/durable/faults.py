"""Telling a storage fault (disk full, read-only folder, ...) from other failures, and naming it.

A batch goes on after one video's failure (out of memory, a bad frame), but not after a storage
fault: every later write would fail the same way. :func:`storage_fault` finds the ``OSError`` behind
an exception (its ``__cause__``/``__context__`` chain included, so a ``RenderError`` raised from a
failed write counts) and returns a :class:`~attention_visual.errors.StorageError` whose one-line
message names the path and the cause.

Example:
    >>> import errno
    >>> fault = storage_fault(OSError(errno.ENOSPC, "No space left on device", "out/a.npz"))
    >>> str(fault)
    'cannot write out/a.npz: No space left on device'
    >>> refused = AttentionDataError("a.npz: a symbolic link inside the batch")  # judged where it was read
    >>> refused.__cause__ = OSError(errno.ELOOP, "Too many levels of symbolic links")
    >>> storage_fault(refused, any_os_error=True) is None
    True
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from attention_visual.errors import AttentionDataError, StorageError

#: Errors of the file system rather than of the data: no later write in the same place can succeed.
WRITE_FAULT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EIO}
)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def storage_fault(
    exc: BaseException, path: Path | str | None = None, *, any_os_error: bool = False
) -> StorageError | None:
    """The :class:`StorageError` behind ``exc``, or None when it is not a storage fault.

    An :class:`AttentionDataError` on the chain ends the search: the data was judged bad where it was
    read (a link refused from its ``ELOOP``, a file found missing), whatever ``OSError`` lies beneath.

    Args:
        exc: The exception raised while writing.
        path: The file being written, for an ``OSError`` that does not name one.
        any_os_error: Count every ``OSError`` with an errno, not only :data:`WRITE_FAULT_ERRNOS`
            (for code that does nothing but write).
    """
    if isinstance(exc, StorageError):
        return exc
    for cause in _causes(exc):
        if isinstance(cause, AttentionDataError):  # bad data, judged where it was read (a link refused: ELOOP)
            return None
        if (
            isinstance(cause, OSError)
            and cause.errno is not None
            and (any_os_error or cause.errno in WRITE_FAULT_ERRNOS)
        ):
            where = cause.filename if cause.filename is not None else path
            reason = cause.strerror or os.strerror(cause.errno)
            return StorageError(f"cannot write {where if where is not None else '(unknown file)'}: {reason}")
    return None


@contextlib.contextmanager
def write_faults(path: Path | str, *, any_os_error: bool = False) -> Iterator[None]:
    """Turn a storage fault raised while writing ``path`` into a :class:`StorageError` naming it (exit 1).

    Other exceptions pass unchanged. ``any_os_error``: as in :func:`storage_fault`.

    Example:
        >>> with write_faults("out/a.npz"):  # doctest: +ELLIPSIS
        ...     raise OSError(errno.ENOSPC, "No space left on device")
        Traceback (most recent call last):
        ...
        attention_visual.errors.StorageError: cannot write out/a.npz: No space left on device
    """
    try:
        yield
    except Exception as exc:
        fault = storage_fault(exc, path, any_os_error=any_os_error)
        if fault is None:
            raise
        raise fault from exc


def fault_in_message(message: str) -> int | None:
    """The errno of a write fault an external tool reported in ``message`` (ffmpeg's stderr), else None."""
    for number in sorted(WRITE_FAULT_ERRNOS):
        if os.strerror(number) in message:
            return number
    return None


__all__ = ["WRITE_FAULT_ERRNOS", "fault_in_message", "storage_fault", "write_faults"]

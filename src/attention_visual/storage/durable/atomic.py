"""Atomic file writes: write a temporary file beside the target, fsync, then rename.

A reader never sees a half-written file under the final name; an interrupted write
leaves at most a ``.*.tmp-*`` file, which readers ignore. ``sync=False`` skips the fsync: for
files that can be made again from others and are checked before use (the report's images, whose
sizes their record lists), a power cut may then leave a short file under the final name, never a
torn one that passes the check.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NoReturn

TMP_MARKER = ".tmp-"


@functools.cache
def default_file_mode() -> int:
    """``0o666`` less the process umask: the mode a plain ``open(path, "w")`` would give."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def publish(tmp: Path, path: Path) -> None:
    """Give the temporary file ``tmp`` ordinary permissions and rename it to ``path`` (atomic).

    ``mkstemp`` creates files readable by their owner only; published outputs get the mode a
    normal write would have given them.
    """
    tmp.chmod(default_file_mode())
    tmp.replace(path)


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "wb", *, sync: bool = True) -> Iterator[IO[bytes]]:
    """Open a temporary file for ``path``; on success it replaces ``path`` atomically (fsynced if ``sync``).

    Example:
        >>> with atomic_output(Path("x.bin")) as fh:
        ...     fh.write(b"data")
        4
        >>> Path("x.bin").read_bytes()
        b'data'
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARKER}", dir=path.parent)
    except OSError as exc:
        _raise_naming(exc, path)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        publish(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _raise_naming(exc, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _raise_naming(exc: OSError, path: Path) -> NoReturn:
    """Raise ``exc`` again, naming the target ``path`` (a failed write names no file, mkstemp a temporary one)."""
    if exc.errno is None:
        raise exc
    raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc


def atomic_write_bytes(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path, sync=sync) as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str, *, sync: bool = True) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), sync=sync)


def atomic_write_with(path: Path, writer: Callable[[IO[bytes]], None], *, sync: bool = True) -> None:
    """Call ``writer(fh)`` on a temporary file that then replaces ``path`` atomically."""
    with atomic_output(path, sync=sync) as fh:
        writer(fh)


def is_temporary(path: Path) -> bool:
    """True for the leftovers of an interrupted atomic write."""
    return path.name.startswith(".") and TMP_MARKER in path.name


__all__ = [
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_with",
    "default_file_mode",
    "is_temporary",
    "publish",
]

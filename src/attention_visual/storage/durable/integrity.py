"""Size and SHA-256 of written files, recorded in completion marks and checked before trusting them.

A completion mark (a video's status file, a store folder's ``_complete.json``) lists every file it
covers as a :class:`FileDigest`. :func:`check_files` compares them with the disk: ``sizes`` only (a
``stat`` per file: catches truncated and missing files, cheap enough for listings) or the full
checksum (reads every byte: catches any change; used before a rerun skips a video).

Example:
    >>> digest = digest_file(Path("out"), "videos/prompt_001/video_001.mp4")  # doctest: +SKIP
    >>> check_files(Path("out"), [digest])                                     # doctest: +SKIP
    None
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attention_visual.errors import AttentionDataError
from attention_visual.storage.durable.reading import open_regular


@dataclass(frozen=True)
class FileDigest:
    """One covered file.

    Attributes:
        path: Relative to the folder of the mark that lists it, ``/``-separated.
        size: Bytes.
        sha256: Hex digest of the content.
    """

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Any) -> FileDigest:
        if not isinstance(data, dict):
            raise AttentionDataError(f"file digest: expected a JSON object, got {type(data).__name__}")
        try:
            return cls(str(data["path"]), int(data["size"]), str(data["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AttentionDataError(f"file digest {data!r}: {exc}") from exc


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the regular file at ``path`` (a symbolic link is refused, never followed).

    Raises:
        AttentionDataError: ``path`` is a link or not a regular file.
        OSError: It cannot be read.
    """
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def digest_file(base: Path, relative: str) -> FileDigest:
    """The :class:`FileDigest` of ``base / relative`` (raises ``OSError`` when it cannot be read)."""
    path = base / relative
    return FileDigest(relative, path.stat().st_size, sha256_of(path))


def check_file(base: Path, digest: FileDigest, *, checksums: bool = True) -> str | None:
    """What is wrong with one covered file (``'… is missing'``, ``'… is truncated'``…), or None."""
    path = base / digest.path
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return f"{digest.path} is missing"
    except OSError as exc:
        return f"{digest.path} cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(found.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(found.st_mode) else "not a regular file"
        return f"{digest.path} is {what} (refused)"
    size = found.st_size
    if size != digest.size:
        what = "truncated" if size < digest.size else "larger than written"
        return f"{digest.path} is {what} ({size} bytes, {digest.size} written)"
    if checksums:
        try:
            actual = sha256_of(path)
        except AttentionDataError:
            return f"{digest.path} is not a regular file (refused)"
        except OSError as exc:
            return f"{digest.path} cannot be read ({exc.strerror or exc})"
        if actual != digest.sha256:
            return f"{digest.path} is corrupted (its SHA-256 differs from the one written)"
    return None


def check_files(base: Path, digests: Iterable[FileDigest], *, checksums: bool = True) -> str | None:
    """The first problem among ``digests`` (see :func:`check_file`), or None when all verify."""
    for digest in digests:
        problem = check_file(base, digest, checksums=checksums)
        if problem is not None:
            return problem
    return None


__all__ = ["FileDigest", "check_file", "check_files", "digest_file", "sha256_of"]

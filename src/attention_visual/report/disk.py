"""Small file helpers of the report: reading its own records back (hostile until checked), sizes, rewrites.

The report's files are made again from the batch, so they are written atomically but not fsynced; each
record lists the sizes of the files it speaks for, and a record that does not parse or a file of
another size makes its part stale (see :mod:`.video_assets`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attention_visual.storage.durable.atomic import atomic_write_text


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def file_sizes(*paths: Path) -> list[int]:
    """The files' sizes (-1 for a missing one)."""
    sizes = []
    for path in paths:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(-1)
    return sizes


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (atomically) unless it already holds it; True when written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return True


__all__ = ["file_sizes", "read_json", "write_if_changed"]

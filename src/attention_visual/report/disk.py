"""Small file helpers of the report: reading its own records back (hostile until checked), sizes, rewrites.

The report's files are made again from the batch, so they are written atomically but not fsynced; each
record lists the sizes of the files it speaks for, and a record that does not parse or a file of
another size makes its part stale (see :mod:`.video_assets`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionVisualError
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.storage.durable.reading import read_json_object, read_limited
from attention_visual.storage.schema.limits import MAX_JSON_BYTES, MAX_NPY_HEADER


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing, unreadable, not an object, a link, not a
    regular file or larger than :data:`~attention_visual.storage.schema.limits.MAX_JSON_BYTES`."""
    try:
        return read_json_object(path, MAX_JSON_BYTES, "report record")
    except (OSError, AttentionVisualError):
        return None


def read_cells(path: Path, grid: Any) -> np.ndarray | None:
    """The ``[cell]`` float64 array of a ``grid``'s cells in the ``.npy`` file ``path`` (the report's cache),
    or None when it is anything else: missing, a link, larger, another dtype or shape, truncated.

    The header is checked before the payload is used: nothing is allocated beyond the file's bytes.
    """
    try:
        cells = math.prod(int(n) for n in grid)
        data = read_limited(path, cells * 8 + MAX_NPY_HEADER)
        fh = io.BytesIO(data)
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh)  # the order of a 1-D array's values is the same either way
    except (OSError, ValueError, TypeError, AttentionVisualError):
        return None
    payload = data[fh.tell() :]
    if shape != (cells,) or dtype != np.dtype("<f8") or len(payload) != cells * 8:
        return None
    return np.frombuffer(payload, dtype)  # [cell] float64, read-only


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
    data = text.encode("utf-8")
    try:
        if read_limited(path, len(data)) == data:  # a link, a FIFO or a larger file: rewritten, never read
            return False
    except (OSError, AttentionVisualError):
        pass
    atomic_write_text(path, text)  # replaces a link, never writes through it
    return True


__all__ = ["file_sizes", "read_cells", "read_json", "write_if_changed"]

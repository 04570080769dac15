"""What a reader accepts from a stored file, defined once: a file read from disk is hostile until checked.

Every reader of stored maps (the files layout's ``.npz``/``.pt``/JSON, the packed store's ``zarr.json``
and shard files) checks what a file *declares* against these limits, and against the other facts it
has (the metadata's shape against the array header's), **before** it allocates or decompresses
anything. A file that breaks one is one :class:`~attention_visual.errors.AttentionDataError` naming it.

The limits are far above what a capture writes: Wan2.1-14B at 1280×720, 81 frames, every head and
every block kept (``store_per_head`` + ``store_per_block``, 40 × 40) is a map of 242 MB in float16
(484 MB with both guidance passes); the usual map (heads and blocks averaged) is 151 KB. The writers refuse a map above
:data:`MAX_MAP_BYTES` too, so nothing a capture wrote is ever refused here.

=========================  ==============================================================================
:data:`MAX_MAP_BYTES`      bytes of one stored map (one step, or a step average: ``[*leading, frame, y, x]``)
:data:`MAP_FILE_OVERHEAD`  bytes a map file may hold beside its array (zip and ``.npy`` headers, torch's pickle)
:data:`MAX_NPY_HEADER`     bytes of a ``.npy`` header (NumPy's own default limit)
:data:`MAX_MAP_AXES`       axes of a map: ``pass``, ``block``, ``head``, ``frame``, ``y``, ``x``
:data:`MAX_ENTRIES`        maps in one packed array: the steps of a word, or the videos of a word's averages
:data:`MAX_JSON_BYTES`     bytes of a metadata document (``*_metadata.json``, ``zarr.json``, ``_complete.json``,
                           ``manifest.json``)
:data:`MAX_RECORD_BYTES`   bytes of a small record of the batch (a status file, the lock file, the layout
                           transaction record)
:data:`MAX_VIDEO_SIDE`     width or height, in pixels, of the video a map belongs to
:data:`MAX_VIDEO_FRAMES`   frames of the video a map belongs to
:data:`READABLE_DTYPES`    dtypes of stored maps (the capture writes float16 and float32)
:data:`MAX_INFLATE_RATIO`  the most that deflate can expand its input (zlib's documented bound, 1032:1)
=========================  ==============================================================================

Example:
    >>> check_map_shape([3, 2, 5], "float16")
    (3, 2, 5)
    >>> check_map_shape([100000] * 4, "float32")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attention_visual.errors.AttentionDataError: shape [100000, ...] of float32 is 400000000000000000000 bytes, more ...
    >>> check_map_shape([3, -2, 5], "float32")
    Traceback (most recent call last):
    ...
    attention_visual.errors.AttentionDataError: shape [3, -2, 5]: every length must be a non-negative integer
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError

MAX_MAP_BYTES = 1 << 30
MAP_FILE_OVERHEAD = 1 << 20
MAX_NPY_HEADER = 10_000
MAX_MAP_AXES = 6
MAX_ENTRIES = 100_000
MAX_JSON_BYTES = 64 << 20
MAX_RECORD_BYTES = 1 << 20
MAX_VIDEO_SIDE = 16_384
MAX_VIDEO_FRAMES = 100_000
READABLE_DTYPES = ("float16", "float32", "float64")
MAX_INFLATE_RATIO = 1032

#: Largest map file: the biggest map, stored uncompressed, with its headers.
MAX_MAP_FILE_BYTES = MAX_MAP_BYTES + MAP_FILE_OVERHEAD


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def readable_dtype(dtype: Any) -> np.dtype:
    """``dtype`` (a name or a NumPy dtype) if it is one of :data:`READABLE_DTYPES` (in any byte order).

    Raises:
        AttentionDataError: Any other dtype (an object array, a string, a structured dtype...).
    """
    if not isinstance(dtype, str | np.dtype):  # np.dtype(None) would be float64; a list is no dtype
        raise AttentionDataError(f"dtype {str(dtype)[:80]!r} {_NOT_READABLE}")
    return _readable_dtype(dtype)


_NOT_READABLE = f"is not one a stored map may have ({', '.join(READABLE_DTYPES)})"


@functools.lru_cache(maxsize=64)
def _readable_dtype(dtype: str | np.dtype) -> np.dtype:
    """:func:`readable_dtype`, memoised: a batch has a handful of distinct dtypes."""
    try:
        found: np.dtype = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise AttentionDataError(f"dtype {str(dtype)[:80]!r} {_NOT_READABLE}") from exc
    if found.hasobject:
        raise AttentionDataError("the array holds Python objects (pickled data), which are never read")
    if found.newbyteorder("=").name not in READABLE_DTYPES or found.shape:
        raise AttentionDataError(f"dtype {found} {_NOT_READABLE}")
    return found


def check_lengths(shape: Any, *, max_axes: int, what: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple if it is a list of 1 to ``max_axes`` non-negative integers.

    Raises:
        AttentionDataError: Not a list, a length that is not a positive integer (a string, a float,
            a negative number), or too many axes.
    """
    if not isinstance(shape, list | tuple):
        raise AttentionDataError(f"{what} {shape!r}: not a list of lengths")
    if not 1 <= len(shape) <= max_axes:
        raise AttentionDataError(f"{what} {list(shape)!r}: {len(shape)} axes, a stored map has 1 to {max_axes}")
    if not all(_is_int(n) and n >= 0 for n in shape):
        raise AttentionDataError(f"{what} {list(shape)!r}: every length must be a non-negative integer")
    return tuple(int(n) for n in shape)


def map_nbytes(shape: Sequence[int], dtype: Any) -> int:
    """Bytes of an array of ``shape`` and ``dtype`` (exact, Python integers: no overflow)."""
    return math.prod(int(n) for n in shape) * int(np.dtype(dtype).itemsize)


def check_map_shape(shape: Any, dtype: Any) -> tuple[int, ...]:
    """The shape of one stored map, checked: non-negative integer lengths, at most :data:`MAX_MAP_AXES`
    axes, a readable dtype, at most :data:`MAX_MAP_BYTES` bytes.

    Raises:
        AttentionDataError: What is wrong (without a file name: the caller adds it).
    """
    lengths = check_lengths(shape, max_axes=MAX_MAP_AXES)
    found = readable_dtype(dtype)
    nbytes = math.prod(lengths) * found.itemsize
    if nbytes > MAX_MAP_BYTES:
        raise AttentionDataError(
            f"shape {list(lengths)} of {found} is {nbytes} bytes, more than a stored map may have ({MAX_MAP_BYTES})"
        )
    return lengths


def check_entries(count: Any, what: str = "entries") -> int:
    """The number of maps in one packed array, checked against :data:`MAX_ENTRIES` (0 is allowed)."""
    if not _is_int(count) or not 0 <= count <= MAX_ENTRIES:
        raise AttentionDataError(f"{what} {count!r}: must be an integer in [0, {MAX_ENTRIES}]")
    return int(count)


def check_video_size(width: Any, height: Any, frames: Any) -> None:
    """The size of the video a map belongs to: positive integers within :data:`MAX_VIDEO_SIDE` and
    :data:`MAX_VIDEO_FRAMES` (renderers allocate ``[frame, height, width]`` from them)."""
    for name, value, limit in (("width", width, MAX_VIDEO_SIDE), ("height", height, MAX_VIDEO_SIDE),
                               ("frames", frames, MAX_VIDEO_FRAMES)):  # fmt: skip
        if not _is_int(value) or not 1 <= value <= limit:
            raise AttentionDataError(f"video_dimensions.{name} {value!r}: must be an integer in [1, {limit}]")


__all__ = [
    "MAP_FILE_OVERHEAD",
    "MAX_ENTRIES",
    "MAX_INFLATE_RATIO",
    "MAX_JSON_BYTES",
    "MAX_MAP_AXES",
    "MAX_MAP_BYTES",
    "MAX_MAP_FILE_BYTES",
    "MAX_NPY_HEADER",
    "MAX_RECORD_BYTES",
    "MAX_VIDEO_FRAMES",
    "MAX_VIDEO_SIDE",
    "READABLE_DTYPES",
    "check_entries",
    "check_lengths",
    "check_map_shape",
    "check_video_size",
    "map_nbytes",
    "readable_dtype",
]

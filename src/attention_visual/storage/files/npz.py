"""A lean reader of the one-array ``.npz`` files the store writes, for reading many small maps fast.

``np.load`` on a ``.npz`` builds a :class:`zipfile.ZipFile` (central directory, member objects), reads
the ``.npy`` header with :func:`ast.literal_eval` and inflates in small pieces: on a 64 KiB map that
bookkeeping costs about as much as the decompression itself. :func:`read_npz_member` reads the file in
one call, takes the *first* member from its local header, inflates it in one ``zlib`` call (which
releases the GIL, so several files can be read in threads), checks its CRC-32 and parses the ``.npy``
header once per distinct header text.

It returns None whenever the file is anything else than that simple case (another first member, a
data descriptor, encryption, another compression method, an object dtype...): the caller then falls
back to ``np.load``, so every valid file still reads. A file that *is* the simple case but whose
bytes are damaged (bad CRC, truncated data, a stream that does not inflate) raises
:class:`~attention_visual.errors.AttentionDataError` naming the file. Nothing is ever unpickled.
"""

from __future__ import annotations

import ast
import functools
import struct
import zlib
from pathlib import Path

import numpy as np

from attention_visual.errors import AttentionDataError

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, sizes, lengths
_LOCAL_MAGIC = b"PK\x03\x04"
_ZIP64_EXTRA = 0x0001
_NPY_MAGIC = b"\x93NUMPY"
_STORED, _DEFLATED = 0, 8
_UNSUPPORTED_FLAGS = 0x0001 | 0x0008 | 0x0040  # encrypted, sizes in a data descriptor, strong encryption


@functools.lru_cache(maxsize=256)
def _npy_header(text: bytes) -> tuple[np.dtype, tuple[int, ...], bool] | None:
    """``(dtype, shape, fortran_order)`` of a ``.npy`` header dict, or None when it is not a plain array.

    A pure function of the header text, memoised: a batch has a handful of distinct headers.
    """
    try:
        header = ast.literal_eval(text.decode("latin1"))
        dtype = np.lib.format.descr_to_dtype(header["descr"])
        shape = tuple(int(n) for n in header["shape"])
        fortran = bool(header["fortran_order"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        return None
    if dtype.hasobject or any(n < 0 for n in shape):
        return None
    return dtype, shape, fortran


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """``(uncompressed, compressed)`` from a local header's ZIP64 extra field, if it has both."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == _ZIP64_EXTRA and size >= 16:
            usize, csize = struct.unpack_from("<QQ", extra, pos + 4)
            return int(usize), int(csize)
        pos += 4 + size
    return None


def _member(data: bytes, name: str) -> tuple[int, int, int, int, int] | None:
    """``(method, crc, start, compressed size, uncompressed size)`` of the first member if it is ``name``."""
    if len(data) < _LOCAL_HEADER.size:
        return None
    magic, _, flags, method, _, _, crc, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack_from(data)
    if magic != _LOCAL_MAGIC or flags & _UNSUPPORTED_FLAGS or method not in (_STORED, _DEFLATED):
        return None
    start = _LOCAL_HEADER.size + nlen + xlen
    if data[_LOCAL_HEADER.size : _LOCAL_HEADER.size + nlen] != name.encode():
        return None
    if 0xFFFFFFFF in (csize, usize):  # np.savez writes ZIP64 headers (force_zip64)
        sizes = _zip64_sizes(data[_LOCAL_HEADER.size + nlen : start])
        if sizes is None:
            return None
        usize, csize = sizes
    return method, crc, start, csize, usize


def _parse_npy(raw: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int] | None:
    """``(dtype, shape, fortran_order, data offset)`` of a ``.npy`` byte string, or None."""
    if raw[:6] != _NPY_MAGIC or len(raw) < 10:
        return None
    major = raw[6]
    if major == 1:
        (hlen,), offset = struct.unpack_from("<H", raw, 8), 10
    elif major in (2, 3):
        (hlen,), offset = struct.unpack_from("<I", raw, 8), 12
    else:
        return None
    parsed = _npy_header(bytes(raw[offset : offset + hlen]))
    return None if parsed is None else (*parsed, offset + hlen)


def read_npz_member(path: Path, name: str, *, writable: bool = True) -> np.ndarray | None:
    """The array ``name`` (e.g. ``"attention"``) of ``path`` if it is the file's first member, else None.

    Args:
        path: The ``.npz`` file.
        name: The array's key in the archive (its member is ``name + ".npy"``).
        writable: False: return a read-only view of the inflated bytes (saves a copy when the caller
            converts the array anyway).

    Returns:
        The array (writable and owning its memory unless ``writable=False``), or None: not the simple
        case, use ``np.load``.

    Raises:
        AttentionDataError: The member's bytes are damaged.
        OSError: The file cannot be read.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "m.npz"
    ...     np.savez_compressed(p, attention=np.arange(6, dtype=np.float16).reshape(2, 3))
    ...     read_npz_member(p, "attention").tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    blob = path.read_bytes()
    member = _member(blob, f"{name}.npy")
    if member is None:
        return None
    method, crc, start, csize, usize = member
    payload = blob[start : start + csize]
    if len(payload) != csize:
        raise AttentionDataError(f"{path}: truncated attention file ({len(payload)} of {csize} bytes)")
    try:
        raw = zlib.decompress(payload, -15, max(usize, 1)) if method == _DEFLATED else payload
    except zlib.error as exc:
        raise AttentionDataError(f"{path}: corrupted attention file ({exc})") from exc
    if len(raw) != usize or zlib.crc32(raw) != crc:
        raise AttentionDataError(f"{path}: corrupted attention file (CRC or size mismatch)")
    npy = _parse_npy(raw)
    if npy is None:
        return None
    dtype, shape, fortran, offset = npy
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - offset != count * dtype.itemsize:
        raise AttentionDataError(f"{path}: truncated or corrupted attention file (array size mismatch)")
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)  # [cell], read-only
    if writable:
        flat = flat.copy()
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


__all__ = ["read_npz_member"]

"""Reading the one-array ``.npz`` files the store writes: fast, and without trusting them.

``np.load`` on a ``.npz`` builds a :class:`zipfile.ZipFile` (central directory, member objects), reads
the ``.npy`` header with :func:`ast.literal_eval` and inflates in small pieces: on a 64 KiB map that
bookkeeping costs about as much as the decompression itself. :func:`read_npz_member` reads the file in
one call, takes the *first* member from its local header, inflates it in one ``zlib`` call (which
releases the GIL, so several files can be read in threads), checks its CRC-32 and parses the ``.npy``
header once per distinct header text. It returns None whenever the file is anything else than that
simple case (another first member, a data descriptor, encryption, another compression method...).

:func:`read_npz` reads any ``.npz``: the simple case as above, anything else through :mod:`zipfile`
with the same checks (this replaces ``np.load``, whose allocation follows the header's shape).

A file read from disk is hostile until checked (limits: :mod:`attention_visual.storage.schema.limits`):

* it is opened without following a link, and only if it is a regular file of at most
  :data:`~attention_visual.storage.schema.limits.MAX_MAP_FILE_BYTES`;
* the member's declared size is checked against the limits, and against the array the metadata
  describes (``expected``), **before** inflating; inflating stops at the declared size (a zip bomb
  whose header lies fails there, after at most that many bytes);
* the ``.npy`` header's dtype and shape are checked (no object arrays: nothing is ever unpickled);
* every damaged, truncated or refused file is one :class:`~attention_visual.errors.AttentionDataError`
  naming it.
"""

from __future__ import annotations

import ast
import functools
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.durable.reading import read_limited
from attention_visual.storage.schema.limits import (
    MAX_INFLATE_RATIO,
    MAX_MAP_FILE_BYTES,
    MAX_NPY_HEADER,
    check_map_shape,
    map_nbytes,
    readable_dtype,
)

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, sizes, lengths
_LOCAL_MAGIC = b"PK\x03\x04"
_CENTRAL_MAGIC = b"PK\x01\x02"
_ZIP64_EXTRA = 0x0001
_NPY_MAGIC = b"\x93NUMPY"
_NPY_PREAMBLE = 12  # magic, version and header length (4 bytes in versions 2 and 3)
_STORED, _DEFLATED = 0, 8
_UNSUPPORTED_FLAGS = 0x0001 | 0x0008 | 0x0040  # encrypted, sizes in a data descriptor, strong encryption
_MAX_MEMBERS = 64  # members of a .npz read through zipfile (the store writes one)
_ONE_SHOT_SLACK = 64 << 20  # inflate in one call when even a bomb could not exceed the declared size by more

#: The shape and dtype a map file must hold (from its metadata), or None when nothing is known.
Expected = tuple[tuple[int, ...], np.dtype] | None


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
    except (ValueError, SyntaxError, KeyError, TypeError, RecursionError, MemoryError):
        return None
    if dtype.hasobject or any(n < 0 for n in shape):
        return None
    return dtype, shape, fortran


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """``(uncompressed, compressed)`` from a local header's ZIP64 extra field, if it has both."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == _ZIP64_EXTRA and size >= 16 and pos + 20 <= len(extra):
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
    if start > len(data) or data[_LOCAL_HEADER.size : _LOCAL_HEADER.size + nlen] != name.encode():
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
    elif major in (2, 3) and len(raw) >= 12:
        (hlen,), offset = struct.unpack_from("<I", raw, 8), 12
    else:
        return None
    if hlen > MAX_NPY_HEADER:
        return None
    parsed = _npy_header(bytes(raw[offset : offset + hlen]))
    return None if parsed is None else (*parsed, offset + hlen)


def _check_declared(path: Path, usize: int, expected: Expected) -> None:
    """A member that declares ``usize`` bytes once inflated: within the limits, and the size of the
    array the metadata describes (plus a ``.npy`` header). Checked before inflating anything."""
    if usize > MAX_MAP_FILE_BYTES:
        raise AttentionDataError(
            f"{path}: its array declares {usize} bytes, more than a stored map may have ({MAX_MAP_FILE_BYTES})"
        )
    if expected is not None:
        nbytes = map_nbytes(*expected)
        if not nbytes <= usize <= nbytes + _NPY_PREAMBLE + MAX_NPY_HEADER:
            raise AttentionDataError(
                f"{path}: its array declares {usize} bytes, but its metadata describes "
                f"{list(expected[0])} of {expected[1]} ({nbytes} bytes)"
            )


def _check_array(path: Path, dtype: np.dtype, shape: tuple[int, ...], expected: Expected) -> np.dtype:
    """The ``.npy`` header's dtype and shape: within the limits and equal to the metadata's."""
    try:
        dtype = readable_dtype(dtype)
        check_map_shape(shape, dtype)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc
    if expected is not None and (
        shape != expected[0] or (dtype != expected[1] and dtype.newbyteorder("=") != expected[1])
    ):
        raise AttentionDataError(
            f"{path}: array of shape {shape} and dtype {dtype} does not match its metadata "
            f"({expected[0]}, {expected[1]})"
        )
    return dtype


def _inflate(path: Path, payload: bytes, usize: int) -> bytes:
    """The deflate stream ``payload`` inflated, never past ``usize`` bytes (its declared size)."""
    try:
        if MAX_INFLATE_RATIO * len(payload) <= usize + _ONE_SHOT_SLACK:  # even a bomb stays small: one call
            return zlib.decompress(payload, -15, max(usize, 1))
        inflater = zlib.decompressobj(-15)
        raw = inflater.decompress(payload, max(usize, 1))
        if not inflater.eof and inflater.decompress(inflater.unconsumed_tail, 1):
            raise AttentionDataError(f"{path}: corrupted attention file (inflates past its declared {usize} bytes)")
    except zlib.error as exc:
        raise AttentionDataError(f"{path}: corrupted attention file ({exc})") from exc
    return raw


def _simple(blob: bytes, path: Path, name: str, *, writable: bool, expected: Expected) -> np.ndarray | None:
    member = _member(blob, f"{name}.npy")
    if member is None:
        return None
    method, crc, start, csize, usize = member
    _check_declared(path, usize, expected)
    payload = blob[start : start + csize]
    if len(payload) != csize:
        raise AttentionDataError(f"{path}: truncated attention file ({len(payload)} of {csize} bytes)")
    raw = _inflate(path, payload, usize) if method == _DEFLATED else payload
    if len(raw) != usize or zlib.crc32(raw) != crc:
        raise AttentionDataError(f"{path}: corrupted attention file (CRC or size mismatch)")
    npy = _parse_npy(raw)
    if npy is None:
        return None
    dtype, shape, fortran, offset = npy
    dtype = _check_array(path, dtype, shape, expected)
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - offset != count * dtype.itemsize:
        raise AttentionDataError(f"{path}: truncated or corrupted attention file (array size mismatch)")
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)  # [cell], read-only
    if writable:
        flat = flat.copy()
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def read_npz_member(path: Path, name: str, *, writable: bool = True, expected: Expected = None) -> np.ndarray | None:
    """The array ``name`` (e.g. ``"attention"``) of ``path`` if it is the file's first member, else None.

    Args:
        path: The ``.npz`` file.
        name: The array's key in the archive (its member is ``name + ".npy"``).
        writable: False: return a read-only view of the inflated bytes (saves a copy when the caller
            converts the array anyway).
        expected: The shape and dtype the metadata describes: anything else is refused before inflating.

    Returns:
        The array (writable and owning its memory unless ``writable=False``), or None: not the simple
        case, use :func:`read_npz`.

    Raises:
        AttentionDataError: The file is a link, too large, damaged, or not the array ``expected``.
        OSError: The file cannot be read.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "m.npz"
    ...     np.savez_compressed(p, attention=np.arange(6, dtype=np.float16).reshape(2, 3))
    ...     read_npz_member(p, "attention").tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    blob = read_limited(path, MAX_MAP_FILE_BYTES, "a map file")
    return _simple(blob, path, name, writable=writable, expected=expected)


def _through_zipfile(blob: bytes, path: Path, name: str, expected: Expected) -> np.ndarray:
    """Any other ``.npz``, read with :mod:`zipfile` and NumPy's header parser, checked the same way."""
    if blob.count(_CENTRAL_MAGIC) > _MAX_MEMBERS:  # each member costs an object: bound them first
        raise AttentionDataError(f"{path}: not an attention map file (more than {_MAX_MEMBERS} members)")
    member = f"{name}.npy"
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = archive.namelist()
        if member not in names:
            raise AttentionDataError(f"{path}: no '{name}' array in file (found {[n[:40] for n in names[:8]]})")
        info = archive.getinfo(member)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise AttentionDataError(f"{path}: unsupported compression method {info.compress_type}")
        _check_declared(path, info.file_size, expected)
        with archive.open(info) as fh:  # reads stop at the declared size; the CRC is checked at its end
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_NPY_HEADER)
            else:
                raise AttentionDataError(f"{path}: .npy format version {version} is not read")
            dtype = _check_array(path, dtype, tuple(shape), expected)
            nbytes = map_nbytes(shape, dtype)
            data = fh.read(nbytes)
            if len(data) != nbytes:
                raise AttentionDataError(f"{path}: truncated attention file ({len(data)} of {nbytes} array bytes)")
            while fh.read(1 << 20):  # the rest (at most the declared size), to check the CRC
                pass
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def read_npz(path: Path, name: str, *, expected: Expected = None) -> np.ndarray:
    """The array ``name`` of the ``.npz`` file ``path`` (writable, owning its memory), checked.

    The store's own files take the fast path of :func:`read_npz_member`; any other valid ``.npz``
    reads through :mod:`zipfile` with the same limits.

    Raises:
        AttentionDataError: The file is a link, too large, damaged, truncated, holds Python objects,
            has no array ``name``, or not the array ``expected``.
        OSError: The file cannot be read.
    """
    blob = read_limited(path, MAX_MAP_FILE_BYTES, "a map file")
    try:
        fast = _simple(blob, path, name, writable=True, expected=expected)
        return fast if fast is not None else _through_zipfile(blob, path, name, expected)
    except AttentionDataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error) as exc:
        raise AttentionDataError(f"{path}: truncated or corrupted attention file ({exc})") from exc


__all__ = ["Expected", "read_npz", "read_npz_member"]

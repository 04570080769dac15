"""Building hostile files and running a command on them as a measured child process.

:func:`run_measured` runs a command in a real child process and returns its exit status, output and
peak memory (``os.wait4``: the child's own ``ru_maxrss``, its reaped children included, measured by a
small launcher process). A child that
runs past its timeout is killed and reported as such: the hostile batches link to a FIFO outside the
batch, so a command that opens what a link points to blocks there and fails this way.

:func:`deflate_bomb` writes a ``.npz`` whose one member inflates to ``nbytes`` zero bytes (2 GiB in a
~2 MB file) without ever holding them: one deflate segment of 1 MiB of zeros, repeated.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MiB = 1 << 20


@dataclass(frozen=True)
class Run:
    """How a child process ended."""

    argv: tuple[str, ...]
    status: int  # exit status (128 + n after signal n); -1 when it was killed for running too long
    stdout: str
    stderr: str
    peak_mb: float  # the child's peak resident memory
    seconds: float

    def describe(self) -> str:
        return f"{' '.join(self.argv[-6:])}: exit {self.status}, {self.peak_mb:.0f} MB\n{self.stderr[-2000:]}"


#: Runs ``argv[2:]`` as its child and writes ``{"status", "maxrss_kb"}`` of it to ``argv[1]``. A child's
#: ``ru_maxrss`` counts the memory of the process it was forked from (Linux carries the parent's peak
#: across ``exec``), so the child is forked from this small process rather than from pytest.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
child.returncode = status = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    json.dump({"status": 128 - status if status < 0 else status, "maxrss_kb": usage.ru_maxrss}, fh)
"""


def run_measured(argv: list[str], *, timeout: float, cwd: Path | None = None) -> Run:
    """Run ``argv`` in a child process; its exit status, output and peak memory (see the module doc).

    The status is -1 when it ran past ``timeout`` (it and its children are then killed).
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hostile-run-") as folder:
        report = Path(folder) / "usage.json"
        with (Path(folder) / "out").open("w+b") as out, (Path(folder) / "err").open("w+b") as err:
            launcher = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(report), *argv],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
            )  # fmt: skip
            try:
                launcher.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        usage = json.loads(report.read_text()) if report.is_file() else {"status": -1, "maxrss_kb": 0}
    return Run(tuple(argv), usage["status"], stdout, stderr, usage["maxrss_kb"] / 1024, time.monotonic() - started)


def cli(*args: object) -> list[str]:
    """``python -m attention_visual ARGS`` (the child imports this checkout: PYTHONPATH is inherited)."""
    return [sys.executable, "-m", "attention_visual", *map(str, args)]


@functools.cache
def _zero_segment() -> bytes:
    """A raw deflate segment (no final block) that inflates to 1 MiB of zeros, independent of what precedes it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def _zeros_crc(mebibytes: int) -> int:
    crc, chunk = 0, bytes(MiB)
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    return crc


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """The ``.npy`` header (magic, version 1.0, padded dict) of an array of ``shape``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_zip(path: Path, name: str, method: int, data: bytes, crc: int, usize: int) -> None:
    """A one-member zip (local header, data, central directory) whose header declares ``usize`` and ``crc``."""
    encoded = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), usize, len(encoded), 0)
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), usize,
        len(encoded), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    directory = len(local) + len(encoded) + len(data)  # where the central directory starts
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(encoded), directory, 0)
    path.write_bytes(local + encoded + data + central + encoded + end)


def deflate_bomb(path: Path, nbytes: int, *, declared: int | None = None) -> None:
    """A ``.npz`` whose ``attention.npy`` is a float32 array of ``nbytes`` zero bytes, deflated (~1 KB per MiB).

    ``declared``: the uncompressed size its zip headers claim (default: the true one); a smaller
    value makes a bomb whose header lies.
    """
    mebibytes = nbytes // MiB
    header = npy_header((mebibytes * MiB // 4,))
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head.compress(header) + head.flush(zlib.Z_FULL_FLUSH) + _zero_segment() * mebibytes + b"\x03\x00"
    crc = _crc_combine(zlib.crc32(header), _zeros_crc(mebibytes), mebibytes * MiB)
    usize = len(header) + mebibytes * MiB
    write_zip(path, "attention.npy", 8, stream, crc, usize if declared is None else declared)


def _crc_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's ``crc32_combine``: the CRC-32 of A + B from those of A and B and B's length."""

    def gf2_times(mat: list[int], vec: int) -> int:
        total, i = 0, 0
        while vec:
            if vec & 1:
                total ^= mat[i]
            vec >>= 1
            i += 1
        return total

    def gf2_square(mat: list[int]) -> list[int]:
        return [gf2_times(mat, mat[n]) for n in range(32)]

    op = [0xEDB88320] + [1 << n for n in range(31)]  # appending one zero bit
    for _ in range(3):
        op = gf2_square(op)  # two, four, then eight zero bits: one zero byte
    while len2:
        if len2 & 1:
            crc1 = gf2_times(op, crc1)
        len2 >>= 1
        if len2:
            op = gf2_square(op)  # twice as many zero bytes
    return crc1 ^ crc2


def make_fifo(path: Path) -> Path:
    """A FIFO at ``path``: opening it for reading blocks until a writer comes, so a reader that follows a
    link to it hangs (and :func:`run_measured` reports the timeout)."""
    os.mkfifo(path)
    return path

"""The report's own files are read back as hostile too: a report folder inside a batch came with it."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from attention_visual.report.disk import read_cells, read_json, write_if_changed

pytestmark = pytest.mark.light

GRID = [2, 3, 5]  # [frame, y, x]: 30 cells


def _npy(array: np.ndarray) -> bytes:
    fh = io.BytesIO()
    np.save(fh, array, allow_pickle=False)
    return fh.getvalue()


def test_the_cells_cache_reads_back_what_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    cells = np.arange(30, dtype=np.float64)  # [cell]
    path.write_bytes(_npy(cells))
    np.testing.assert_array_equal(read_cells(path, GRID), cells)


@pytest.mark.parametrize(
    "content",
    [
        _npy(np.arange(31, dtype=np.float64)),  # another grid's cache
        _npy(np.arange(30, dtype=np.float32)),  # another dtype
        _npy(np.arange(30, dtype=np.float64))[:-8],  # truncated
        _npy(np.arange(30, dtype=np.float64)) + bytes(8),  # longer than its header says
        _npy(np.zeros((30, 1), dtype=np.float64)),  # another shape, the same bytes
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000000,), }"
        + b" " * 45
        + b"\n",  # a header that claims 800 TB
        b"\x93NUMPY garbage",
    ],
    ids=["other-grid", "float32", "truncated", "longer", "2-d", "claims-800-tb", "garbage"],
)
def test_a_cells_cache_that_is_anything_else_is_not_used(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.npy"
    path.write_bytes(content)
    assert read_cells(path, GRID) is None


def test_report_files_linked_out_are_never_read_nor_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.json").write_text('{"key": 1}')
    (outside / "a.npy").write_bytes(_npy(np.arange(30, dtype=np.float64)))
    os.mkfifo(outside / "fifo")  # opening it to read would block
    report = tmp_path / "report"
    report.mkdir()
    for name in ("a.json", "a.npy"):
        (report / name).symlink_to(outside / name)
    (report / "index.html").symlink_to(outside / "fifo")
    assert read_json(report / "a.json") is None
    assert read_cells(report / "a.npy", GRID) is None
    assert write_if_changed(report / "index.html", "<html></html>")  # neither read nor written through
    assert not (report / "index.html").is_symlink() and (report / "index.html").read_text() == "<html></html>"
    assert write_if_changed(report / "a.json", '{"key": 1}')  # the same text outside: replaced, not trusted
    assert (outside / "a.json").read_text() == '{"key": 1}' and not (report / "a.json").is_symlink()
    assert not write_if_changed(report / "a.json", '{"key": 1}')  # now its own file: unchanged, not rewritten

"""The lean ``.npz`` reader against ``np.load``, its fallbacks and its errors on damaged files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError
from attention_visual.storage.files.npz import read_npz_member
from attention_visual.storage.files.store import read_array

pytestmark = pytest.mark.light

ARRAYS = {
    "float16": np.random.default_rng(0).random((3, 4, 5)).astype(np.float16),  # [frame, y, x]
    "float32": np.random.default_rng(1).random((2, 3, 4, 5), dtype=np.float32),  # [block, frame, y, x]
    "fortran": np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)),
    "empty": np.zeros((0, 3, 4), np.float16),
    "big-endian": np.arange(12, dtype=">f4").reshape(3, 4),
}


@pytest.mark.parametrize("compress", [True, False], ids=["compressed", "stored"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_same_array_as_np_load(tmp_path: Path, name: str, compress: bool) -> None:
    path = tmp_path / "m.npz"
    (np.savez_compressed if compress else np.savez)(path, attention=ARRAYS[name])
    got = read_npz_member(path, "attention")
    with np.load(path) as npz:
        want = npz["attention"]
    assert got is not None
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert got.flags.writeable
    view = read_npz_member(path, "attention", writable=False)
    assert view is not None and not view.flags.writeable
    np.testing.assert_array_equal(view, want)


def test_not_the_simple_case_is_left_to_np_load(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, other=np.ones(3), attention=np.arange(4.0))  # "attention" is not the first member
    assert read_npz_member(path, "attention") is None
    np.testing.assert_array_equal(read_array(path), np.arange(4.0))  # the store's reader falls back
    objects = tmp_path / "o.npz"
    np.savez(objects, attention=np.array([{"a": 1}], dtype=object))
    assert read_npz_member(objects, "attention") is None  # never unpickled
    streamed = tmp_path / "s.npz"  # sizes in a data descriptor (written to an unseekable stream)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("attention.npy", "w") as fh:
        np.lib.format.write_array(fh, np.arange(5.0))
    data = bytearray(buffer.getvalue())
    data[6] |= 0x08  # the flag an unseekable writer sets
    streamed.write_bytes(bytes(data))
    assert read_npz_member(streamed, "attention") is None


def test_damaged_files_raise(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez_compressed(path, attention=ARRAYS["float16"])
    data = path.read_bytes()
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(AttentionDataError, match="truncated"):
        read_npz_member(truncated, "attention")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside the deflate stream
    damaged = tmp_path / "d.npz"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(AttentionDataError, match=str(damaged)):
        read_npz_member(damaged, "attention")
    with pytest.raises(AttentionDataError):
        read_array(damaged)

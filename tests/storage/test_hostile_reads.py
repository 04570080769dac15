"""The readers' checks, one by one: limits, sizes before inflating, no links, no special files, no pickles.

The whole-command view (every command on every hostile file, in child processes) is
``tests/cli/test_hostile_files.py``; here each check is exercised on its own, in process.
"""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError, StorageError
from attention_visual.extras import has_extra
from attention_visual.storage import AttentionStore, read_array, read_metadata
from attention_visual.storage.durable.reading import check_no_links, read_limited, regular_file_exists
from attention_visual.storage.files.npz import read_npz
from attention_visual.storage.files.reader import AttentionStoreReader
from attention_visual.storage.files.store import expected_array
from attention_visual.storage.packed.documents import check_array, check_attributes
from attention_visual.storage.schema.limits import MAX_MAP_BYTES, check_map_shape, readable_dtype
from attention_visual.storage.schema.metadata import MapMetadata
from cli.hostile_support import deflate_bomb, npy_header
from support.synthetic import GRID, hot_spot, make_metadata

pytestmark = pytest.mark.light

VID = "prompt_001_vid_001"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store of one complete video, word ``kiss``, steps 0 and 1 (float32 [3, 2, 5])."""
    writer = AttentionStore(tmp_path)
    for step in (0, 1):
        writer.save_step(make_metadata(step=step), hot_spot())
    writer.mark_complete(VID, {"words": ["kiss"]})
    return tmp_path


def _step(store: Path, step: int = 0, suffix: str = ".npz") -> Path:
    return store / VID / "kiss" / f"step_{step:03d}{suffix}"


# -- limits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        ([100_000] * 4, "float32", "more than a stored map may have"),
        ([3, -2, 5], "float32", "non-negative integer"),
        ([3, "2", 5], "float32", "non-negative integer"),
        ([3, 2.0, 5], "float32", "non-negative integer"),
        ([3, True, 5], "float32", "non-negative integer"),
        ("3x2x5", "float32", "not a list"),
        ([1] * 7, "float32", "7 axes"),
        ([3, 2, 5], "object", "Python objects"),
        ([3, 2, 5], "<U8", "not one a stored map may have"),
        ([3, 2, 5], "complex64", "not one a stored map may have"),
    ],
)
def test_map_shape_limits(shape: object, dtype: str, message: str) -> None:
    with pytest.raises(AttentionDataError, match=message):
        check_map_shape(shape, dtype)


def test_the_limits_themselves_are_accepted() -> None:
    assert check_map_shape([MAX_MAP_BYTES // 4], "float32") == (MAX_MAP_BYTES // 4,)
    assert readable_dtype(">f2") == np.dtype(">f2")
    with pytest.raises(AttentionDataError):
        check_map_shape([MAX_MAP_BYTES // 4 + 1], "float32")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("shape", [3, 2, -5], "non-negative integer"),
        ("shape", [100_000, 100_000, 100_000], "more than a stored map"),
        ("shape", "3,2,5", "not a list of lengths"),
        ("dtype", "object", "Python objects"),
        ("video_dimensions", {"width": 80, "height": 10**9, "fps": 16.0, "frames": 9}, "video_dimensions.height"),
        ("video_dimensions", {"width": 80, "height": 32, "fps": 16.0, "frames": -1}, "video_dimensions.frames"),
    ],
)
def test_metadata_breaking_the_limits_is_refused(field: str, value: object, message: str) -> None:
    data = json.loads(make_metadata().to_json())
    with pytest.raises(AttentionDataError, match=message):
        MapMetadata.from_dict({**data, field: value})
    base = MapMetadata.from_dict(data)
    with pytest.raises(AttentionDataError, match=message):  # the fast path of a word's other steps too
        base.updated({field: value})


def test_a_writer_refuses_what_a_reader_would(tmp_path: Path) -> None:
    huge = make_metadata(shape=(2, 1, 1), axes=("frame", "y", "x"))
    with pytest.raises(AttentionDataError, match="cannot store the map"):
        AttentionStore(tmp_path, dtype="float16").save_step(
            huge, np.lib.stride_tricks.as_strided(np.zeros(1, np.float16), (MAX_MAP_BYTES, 1, 1), (0, 0, 0))
        )


# -- .npz ---------------------------------------------------------------------------------------------


def test_a_bomb_is_refused_before_it_is_inflated(store: Path) -> None:
    deflate_bomb(_step(store), 256 << 20)  # 256 MiB of zeros in ~270 KB
    tracemalloc.start()
    try:
        with pytest.raises(AttentionDataError, match="declares 268435584 bytes, but its metadata describes"):
            read_array(_step(store), expected_array(read_metadata(_step(store, suffix="_metadata.json"))))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_bomb_whose_header_lies_stops_at_the_declared_size(store: Path) -> None:
    declared = len(npy_header(GRID)) + 30 * 4
    deflate_bomb(_step(store), 256 << 20, declared=declared)
    tracemalloc.start()
    try:
        with pytest.raises(AttentionDataError, match="inflates past its declared"):
            read_array(_step(store), ((3, 2, 5), np.dtype("float32")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_header_that_does_not_match_the_metadata_is_refused(store: Path) -> None:
    np.savez_compressed(_step(store), attention=np.zeros((3, 5, 2), np.float32))  # transposed
    with pytest.raises(AttentionDataError, match=r"does not match its metadata"):
        AttentionStoreReader(store).read_step(VID, "kiss", 0)
    np.savez_compressed(_step(store), attention=np.zeros(GRID, np.float16))  # another dtype
    with pytest.raises(AttentionDataError, match=r"does not match its metadata"):
        AttentionStoreReader(store).read_steps(VID, "kiss")


@pytest.mark.parametrize("size", [0, 10, 29, 30, 50, 100])
def test_truncated_npz_files_are_one_error(store: Path, size: int) -> None:
    data = _step(store).read_bytes()
    _step(store).write_bytes(data[:size])
    with pytest.raises(AttentionDataError, match=str(_step(store))):
        read_array(_step(store))


def test_the_zipfile_path_is_checked_too(tmp_path: Path) -> None:
    many = tmp_path / "many.npz"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(100):
            archive.writestr(f"x{i}.npy", b"")
    with pytest.raises(AttentionDataError, match="more than 64 members"):
        read_npz(many, "attention")
    later = tmp_path / "later.npz"  # not the first member: the zipfile path, with the metadata's shape
    np.savez(later, other=np.ones(2), attention=np.zeros((2, 3), np.float32))
    assert read_npz(later, "attention", expected=((2, 3), np.dtype("float32"))).shape == (2, 3)
    with pytest.raises(AttentionDataError, match="declares 152 bytes, but its metadata describes"):
        read_npz(later, "attention", expected=((200, 3), np.dtype("float32")))
    pickled = tmp_path / "p.npz"
    buffer = io.BytesIO()
    np.savez(buffer, other=np.ones(1), attention=np.array([{"a": 1}], dtype=object))
    pickled.write_bytes(buffer.getvalue())
    with pytest.raises(AttentionDataError, match="Python objects"):
        read_npz(pickled, "attention")


@pytest.mark.skipif(not has_extra("wan"), reason="needs torch (the wan extra)")
def test_pt_files_are_checked(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "m.pt"
    torch.save({"attention": torch.zeros(3, 2, 5)}, path)
    assert read_array(path, ((3, 2, 5), np.dtype("float32"))).shape == (3, 2, 5)
    with pytest.raises(AttentionDataError, match="does not match its metadata"):
        read_array(path, ((3, 5, 2), np.dtype("float32")))
    torch.save({"attention": torch.zeros(1).expand(10**5, 10**5, 10**5)}, path)  # a view of 4 bytes
    with pytest.raises(AttentionDataError, match="more than a stored map may have"):
        read_array(path)
    torch.save({"attention": [1, 2]}, path)
    with pytest.raises(AttentionDataError, match="no 'attention' tensor"):
        read_array(path)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:  # torch.save never deflates
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    path.write_bytes(data.getvalue())
    with pytest.raises(AttentionDataError, match=r"not a plain torch\.save archive"):
        read_array(path)


# -- links and special files ------------------------------------------------------------------------


def test_links_inside_a_store_are_refused_not_followed(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.npz"
    _step(store, 1).rename(outside)
    _step(store, 1).symlink_to(outside)
    reader = AttentionStoreReader(store)
    with pytest.raises(AttentionDataError, match=r"step_001\.npz: a symbolic link inside the batch"):
        reader.list_steps(VID, "kiss")
    _step(store, 1).unlink()
    outside.rename(_step(store, 1))
    (store / "linked").symlink_to(store / VID, target_is_directory=True)
    with pytest.raises(AttentionDataError, match="linked: a symbolic link"):
        AttentionStoreReader(store).list_videos()
    with pytest.raises(AttentionDataError, match="linked: a symbolic link"):
        AttentionStoreReader(store).read_step("linked", "kiss", 0)


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(AttentionDataError, match="not a regular file"):
        read_limited(fifo, 100)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    with pytest.raises(AttentionDataError, match="not a regular file"):
        regular_file_exists(fifo)
    assert regular_file_exists(tmp_path / "missing") is False
    (tmp_path / "big.json").write_bytes(b" " * 101)
    with pytest.raises(AttentionDataError, match="101 bytes, more than"):
        read_limited(tmp_path / "big.json", 100)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(AttentionDataError, match="link: a symbolic link"):
        check_no_links(tmp_path, tmp_path / "link" / "x" / "zarr.json")
    check_no_links(tmp_path, tmp_path / "real" / "missing" / "zarr.json")


def test_an_unreadable_file_is_an_io_fault(store: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission")
    _step(store).chmod(0)
    with pytest.raises(StorageError, match=r"cannot read .*step_000\.npz: Permission denied"):
        read_array(_step(store))


# -- packed documents -------------------------------------------------------------------------------


def test_packed_attributes_must_agree_with_the_shape() -> None:
    path = Path("a/zarr.json")
    array = check_array({"shape": [2, 3, 2, 5], "data_type": "float32"}, path)
    base = {"shape": [3, 2, 5], "dtype": "float32"}
    check_attributes({"word": "kiss", "steps": [0, 1], "base": base, "overrides": [{}, {}]}, array, path)
    check_attributes({"word": "kiss", "videos": ["a", "b"], "base": base, "overrides": [{}, {}]}, array, path)
    bad = [
        {"word": "kiss", "steps": [0, 1, 2], "base": base, "overrides": [{}, {}, {}]},  # more steps than the array
        {"word": "kiss", "steps": [0, 0], "base": base, "overrides": [{}, {}]},  # the same step twice
        {"word": "kiss", "steps": ["0", "1"], "base": base, "overrides": [{}, {}]},
        {"word": "kiss", "steps": [0, 1], "base": base, "overrides": [{}]},
        {"word": "kiss", "steps": [0, 1], "base": {**base, "shape": [3, 5, 2]}, "overrides": [{}, {}]},
        {"word": "kiss", "steps": [0, 1], "base": base, "overrides": [{}, {"dtype": "float16"}]},
        {"steps": [0, 1], "base": base, "overrides": [{}, {}]},
    ]
    for attrs in bad:
        with pytest.raises(AttentionDataError, match=r"a/zarr\.json: inconsistent packed array"):
            check_attributes(attrs, array, path)
    for document in ({"shape": [2, 3, 2, 5]}, {"shape": [2], "data_type": "float32"}, {"data_type": "float32"}):
        with pytest.raises(AttentionDataError, match=r"a/zarr\.json"):
            check_array(document, path)


@pytest.mark.skipif(not has_extra("analysis"), reason="needs zarr (the analysis extra)")
def test_a_damaged_shard_read_entry_by_entry_is_bad_data_not_an_io_fault(tmp_path: Path) -> None:
    from attention_visual.analysis import pack_batch
    from attention_visual.storage.packed.reader import PackedReader
    from support.batch import build_batch

    batch = tmp_path / "b"
    build_batch(batch, videos_per_prompt=1)
    pack_batch(batch)
    shard = batch / "attention_maps.zarr" / "_aggregated" / "kiss" / "c.0.0.0.0"
    shard.write_bytes(shard.read_bytes()[:10])  # shorter than its own index
    with pytest.raises(AttentionDataError, match=r"c\.0\.0\.0\.0: damaged packed shard \(truncated index\)"):
        PackedReader(batch / "attention_maps.zarr").read_aggregated(VID, "kiss")

"""One rule for where a batch's maps are (``open_maps``), the repair of half states, and what pack would carry."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from attention_visual.analysis.pack import pack_batch
from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage import AttentionStore, AttentionStoreReader, read_metadata
from attention_visual.storage.backend import FILES, PACKED, MapBackend, open_maps
from attention_visual.storage.backend.compare import differences
from attention_visual.storage.backend.placement import (
    BUILDING,
    COMPLETE,
    Transaction,
    locate,
    write_transaction,
)
from attention_visual.storage.backend.transaction import foreign_files, repair_layout, temporaries
from attention_visual.storage.batch.layout import output_conflict
from support.synthetic import random_batch

VID = "prompt_001_vid_001"
RECORD = ".layout-transaction.json"


def values(maps: MapBackend) -> dict[str, np.ndarray]:
    """Every step map and step average of a store, by ``video/word/step``."""
    reader, out = maps.reader(), {}
    for video in reader.list_videos():
        for word in reader.list_words(video):
            for step in reader.list_steps(video, word):
                out[f"{video}/{word}/{step}"] = reader.read_step(video, word, step).attention_map
            out[f"{video}/{word}/avg"] = reader.read_aggregated(video, word).attention_map
    return out


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def both(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A batch holding its files layout and, beside it, a packed store of *other* maps (seed 7)."""
    batch = random_batch(tmp_path / "b", videos=2)
    other = random_batch(tmp_path / "other", videos=2, seed=7)
    pack_batch(other)
    shutil.copytree(other / "attention_maps.zarr", batch / "attention_maps.zarr")
    files = values(MapBackend(FILES, batch / "attention_maps"))
    packed = values(MapBackend(PACKED, batch / "attention_maps.zarr"))
    assert not same(files, packed)
    return batch, files, packed


def test_one_layout_is_read_from_any_of_its_paths(tmp_path: Path) -> None:
    batch = random_batch(tmp_path / "b", videos=1)
    for path in (batch, batch / "attention_maps", batch / "attention_maps.zarr"):
        assert open_maps(path) == MapBackend(FILES, batch / "attention_maps")
    pack_batch(batch)
    for path in (batch, batch / "attention_maps", batch / "attention_maps.zarr"):
        assert open_maps(path) == MapBackend(PACKED, batch / "attention_maps.zarr")
    store = shutil.copytree(batch / "attention_maps.zarr", tmp_path / "elsewhere.zarr")
    assert open_maps(store).layout == PACKED  # a store folder of another name is read as what it is
    assert open_maps(tmp_path / "b2", storage_format="zarr") == MapBackend(PACKED, tmp_path / "b2/attention_maps.zarr")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "manifest.json").write_text("{}")
    with pytest.raises(NotFoundError, match="no attention maps in"):
        open_maps(tmp_path / "empty")


@pytest.mark.parametrize(("state", "live"), [(BUILDING, FILES), (COMPLETE, PACKED)])
def test_a_record_names_the_complete_side_and_every_path_reads_it(
    both: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]],
    state: str,
    live: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch, files, packed = both
    write_transaction(batch, Transaction("pack", FILES, PACKED, state, pid=1))
    for path in (batch, batch / "attention_maps", batch / "attention_maps.zarr"):
        maps = open_maps(path)
        assert maps.layout == live
        assert same(values(maps), files if live == FILES else packed)
    [note] = {r.getMessage() for r in caplog.records if r.levelno == logging.WARNING}
    assert "holds both attention_maps/ and attention_maps.zarr" in note and "\n" not in note
    assert f"reading {'attention_maps' if live == FILES else 'attention_maps.zarr'} " in note


def test_without_a_record_the_side_with_more_verified_videos_is_read(
    both: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    batch, _, packed = both
    assert locate(batch).layout == FILES  # a tie: the files layout
    shutil.rmtree(batch / "attention_maps" / VID)  # an older pack killed while it deleted attention_maps/
    placement = locate(batch)
    assert placement.layout == PACKED and placement.note is not None and "no record" in placement.note
    assert same(values(open_maps(batch)), packed)


def test_repair_rolls_back_an_unverified_pack(
    both: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    batch, files, _ = both
    write_transaction(batch, Transaction("pack", FILES, PACKED, BUILDING, pid=1))
    (batch / ".attention_maps.zarr.tmp-123").mkdir()
    (batch / ".attention_maps.zarr.tmp-123" / "zarr.json").write_text("{}")
    said = repair_layout(batch)
    assert any("rolled back the interrupted pack" in line for line in said)
    assert not (batch / "attention_maps.zarr").exists() and not (batch / RECORD).exists()
    assert not temporaries(batch)
    assert same(values(open_maps(batch)), files)
    assert repair_layout(batch) == []  # nothing left to do


def test_repair_finishes_a_verified_unpack(
    both: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    batch, files, _ = both
    write_transaction(batch, Transaction("unpack", PACKED, FILES, COMPLETE, pid=1))
    (batch / ".attention_maps.zarr.old.tmp-9").mkdir()  # killed while it deleted the retired store
    said = repair_layout(batch)
    assert any("finished the interrupted unpack" in line and "removed attention_maps.zarr" in line for line in said)
    assert not (batch / "attention_maps.zarr").exists() and not (batch / RECORD).exists() and not temporaries(batch)
    assert same(values(open_maps(batch)), files)


def test_repair_without_a_record_removes_only_a_layout_holding_nothing_more(
    both: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]], tmp_path: Path
) -> None:
    batch, _, packed = both
    with pytest.raises(AttentionDataError, match="with different maps"):
        repair_layout(batch)  # both hold finished videos, and they differ: the user decides
    assert (batch / "attention_maps").is_dir() and (batch / "attention_maps.zarr").is_dir()

    shutil.rmtree(batch / "attention_maps" / VID)  # the files layout half deleted (an older pack was killed)
    (batch / "attention_maps" / "prompt_001_vid_002" / "dog" / "step_001.npz").unlink()
    said = repair_layout(batch)
    assert any("kept attention_maps.zarr" in line and "removed attention_maps" in line for line in said)
    assert not (batch / "attention_maps").exists()
    assert same(values(open_maps(batch)), packed)

    same_maps = random_batch(tmp_path / "c", videos=2)  # both layouts, the same maps (an old `pack --keep`)
    shutil.copytree(same_maps, tmp_path / "d")
    pack_batch(tmp_path / "d")
    shutil.copytree(tmp_path / "d" / "attention_maps.zarr", same_maps / "attention_maps.zarr")
    repair_layout(same_maps)
    assert locate(same_maps).layout == FILES and not (same_maps / "attention_maps.zarr").exists()


def test_foreign_files_are_what_pack_would_not_carry(tmp_path: Path) -> None:
    batch = random_batch(tmp_path / "b", videos=2)
    root = batch / "attention_maps"
    (root / "NOTES.txt").write_text("mine")
    (root / "manual").mkdir()
    (root / "manual" / "notes.md").write_text("mine too")
    (root / VID / "dog" / "step_000.npz.orig").write_bytes((root / VID / "dog" / "step_000.npz").read_bytes())
    (root / VID / "dog" / ".step_009.npz.tmp-abc").write_bytes(b"half")  # a killed write: not data
    (root / "empty").mkdir()
    assert foreign_files(MapBackend(FILES, root)) == [
        "NOTES.txt",
        "manual/notes.md",
        f"{VID}/dog/step_000.npz.orig",
    ]
    assert AttentionStoreReader(root).list_videos() == [VID, "prompt_001_vid_002"]


def test_a_report_folder_in_the_store_is_not_a_video(tmp_path: Path) -> None:
    batch = random_batch(tmp_path / "b", videos=1)
    sprites = batch / "attention_maps" / "maps" / VID
    sprites.mkdir(parents=True)
    (sprites / "dog.png").write_bytes(b"png")
    (sprites / "dog.json").write_text("{}")
    (batch / "attention_maps" / "index.html").write_text("<html>")
    assert open_maps(batch).reader().list_videos() == [VID]


def test_differences_find_one_changed_value_and_metadata(tmp_path: Path) -> None:
    batch = random_batch(tmp_path / "a", videos=1)
    copy = shutil.copytree(batch, tmp_path / "b")
    a, b = MapBackend(FILES, batch / "attention_maps"), MapBackend(FILES, copy / "attention_maps")
    assert list(differences(a, b)) == []
    meta = read_metadata(copy / "attention_maps" / VID / "dog" / "step_001_metadata.json")
    info = b.reader().read_step(VID, "dog", 1)
    changed = info.attention_map.copy()
    changed[0, 1, 2] = np.nextafter(changed[0, 1, 2], np.float32(1))  # one value, one ulp
    AttentionStore(copy / "attention_maps").save_step(meta, changed)
    assert list(differences(a, b)) == [f"video {VID}, word 'dog': step maps differ"]
    pack_batch(copy)
    packed = MapBackend(PACKED, copy / "attention_maps.zarr")
    assert list(differences(a, packed)) == [f"video {VID}, word 'dog': step maps differ"]


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("b/attention_maps", "inside the map store"),
        ("b/attention_maps.zarr/x/index.html", "inside the map store"),
        ("elsewhere/attention_maps/r", "inside the map store"),
        ("b/videos/prompt_001/video_001.mp4", "a file of batch"),
        ("b/status", "a file of batch"),
        ("b/manifest.json", "a file of batch"),
        ("b", "the batch folder"),
        ("b/report", None),
        ("b/my_report", None),
        ("other/kiss.mp4", None),
    ],
)
def test_output_targets(tmp_path: Path, target: str, why: str | None) -> None:
    conflict = output_conflict(tmp_path / target, tmp_path / "b", own="report")
    assert (conflict is None) if why is None else (conflict is not None and why in conflict)

"""The batch's own records are hostile too: status files, the manifest, the lock file, the layout
transaction record. Each case plants a link to a *valid* record outside the batch (a reader that
follows it succeeds where it must refuse), or a valid record grown past its size limit.

The whole-command view (every command on a linked ``manifest.json``, store folder or lock file) is
``tests/cli/test_hostile_files.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from attention_visual.errors import AttentionDataError
from attention_visual.storage.backend.maps import FILES, PACKED
from attention_visual.storage.backend.placement import Transaction, read_transaction, write_transaction
from attention_visual.storage.batch import manifest as bm
from attention_visual.storage.batch.layout import LOCK_FILE, MANIFEST_FILE, TRANSACTION_FILE
from attention_visual.storage.batch.lock import BatchLock, read_holder
from attention_visual.storage.schema.limits import MAX_JSON_BYTES, MAX_RECORD_BYTES
from support.shared import changes, snapshot_of

pytestmark = pytest.mark.light

VID = "prompt_001_vid_001"


def _record() -> bm.VideoRecord:
    return bm.VideoRecord(
        video_id=VID, index=0, prompt_index=1, video_index=1, marked_prompt="a (cat)", clean_prompt="a cat",
        words=("cat",), seed=42, word_dirs={"cat": "cat"}, status="done", error=None, rank=0,
        started="2025-01-01T00:00:00+00:00", finished="2025-01-01T00:01:00+00:00",
        timings=bm.Timings(generation_s=1.0), paths=bm.VideoPaths("videos/prompt_001/video_001.mp4"),
    )  # fmt: skip


def _linked_out(path: Path, outside: Path) -> Path:
    """Move the valid record ``path`` outside the batch and leave a link to it in its place."""
    moved = outside / f"copy-{path.name}"
    path.rename(moved)
    path.symlink_to(moved)
    return moved


def _grown(path: Path, limit: int) -> None:
    """Pad the valid JSON record ``path`` with spaces past ``limit`` bytes (still valid JSON)."""
    with path.open("a") as fh:
        fh.write(" " * (limit + 1 - path.stat().st_size))


def _write_status(batch: Path) -> Path:
    path = batch / "status" / f"{VID}.json"
    bm.write_status(path, _record())
    return path


def _write_manifest(batch: Path) -> Path:
    path = batch / MANIFEST_FILE
    manifest = bm.Manifest(
        batch_name=batch.name, created="2025-01-01T00:00:00+00:00", updated="2025-01-01T00:00:00+00:00",
        config_path="c.yaml", config_file="config.yaml", model_id="m", world_size=1, versions={},
        prompts=(), videos=(_record(),), finished="2025-01-01T00:02:00+00:00",
    )  # fmt: skip
    bm.write_manifest(path, manifest)
    return path


def _write_transaction(batch: Path) -> Path:
    write_transaction(batch, Transaction("pack", FILES, PACKED, "building", pid=4242))
    return batch / TRANSACTION_FILE


def _write_lock(batch: Path) -> Path:
    (batch / LOCK_FILE).write_text(json.dumps({"command": "pack", "pid": 4242, "host": "h", "started": "t"}))
    return batch / LOCK_FILE


def _status_ignored(batch: Path) -> None:
    assert bm.read_status(batch / "status" / f"{VID}.json") is None  # ignored with a warning: the video is redone


def _manifest_refused(batch: Path) -> None:
    with pytest.raises(AttentionDataError, match=MANIFEST_FILE):
        bm.find_manifest(batch)


def _transaction_refused(batch: Path) -> None:
    with pytest.raises(AttentionDataError, match=TRANSACTION_FILE):
        read_transaction(batch)


def _holder_unknown(batch: Path) -> None:
    assert read_holder(batch).pid is None


#: (name, write a valid record into the batch -> its path, the size limit it is held to, what a reader must do)
RECORDS: list[tuple[str, Callable[[Path], Path], int, Callable[[Path], None]]] = [
    ("status", _write_status, MAX_RECORD_BYTES, _status_ignored),
    ("manifest", _write_manifest, MAX_JSON_BYTES, _manifest_refused),
    ("transaction", _write_transaction, MAX_RECORD_BYTES, _transaction_refused),
    ("lock-holder", _write_lock, MAX_RECORD_BYTES, _holder_unknown),
]


@pytest.mark.parametrize(("write", "check"), [(w, c) for _, w, _, c in RECORDS], ids=[r[0] for r in RECORDS])
def test_a_record_linked_out_of_the_batch_is_not_read(
    write: Callable[[Path], Path], check: Callable[[Path], None], tmp_path: Path
) -> None:
    batch, outside = tmp_path / "batch", tmp_path / "outside"
    batch.mkdir()
    outside.mkdir()
    _linked_out(write(batch), outside)
    check(batch)


@pytest.mark.parametrize(
    ("write", "limit", "check"), [(w, n, c) for _, w, n, c in RECORDS], ids=[r[0] for r in RECORDS]
)
def test_a_record_past_its_size_limit_is_not_read(
    write: Callable[[Path], Path], limit: int, check: Callable[[Path], None], tmp_path: Path
) -> None:
    _grown(write(tmp_path), limit)
    check(tmp_path)


def test_the_records_as_written_are_read(tmp_path: Path) -> None:
    """The cases above fail for the link or the size, not for the record."""
    for _, write, _, _ in RECORDS:
        write(tmp_path)
    assert bm.read_status(tmp_path / "status" / f"{VID}.json") == _record()
    assert bm.find_manifest(tmp_path) is not None
    assert read_transaction(tmp_path) is not None
    assert read_holder(tmp_path).pid == 4242


def test_the_lock_is_never_written_through_a_link(tmp_path: Path) -> None:
    batch, outside = tmp_path / "batch", tmp_path / "outside"
    batch.mkdir()
    outside.mkdir()
    target = _linked_out(_write_lock(batch), outside)
    before = target.read_bytes()
    with pytest.raises(AttentionDataError, match="a symbolic link"):
        BatchLock.acquire(batch, command="pack")
    assert target.read_bytes() == before
    (batch / LOCK_FILE).unlink()
    with BatchLock.acquire(batch, command="pack"):
        assert read_holder(batch).command == "pack"


#: What the batch writes, linked out: a whole owned folder, a folder inside one, a file inside one.
LINKED = ["report", "videos", "attention_videos", "status", "inputs", "videos/prompt_001", "status/x.json"]


@pytest.mark.parametrize("name", LINKED)
def test_no_command_that_changes_a_batch_takes_it_through_a_link(name: str, tmp_path: Path) -> None:
    """``generate``, ``pack``, ``unpack`` and ``report`` write only under the lock: a link in what the batch
    writes refuses the lock (its writes would land outside the batch), and nothing outside is touched."""
    batch, outside = tmp_path / "batch", tmp_path / "outside"
    (batch / Path(name).parent).mkdir(parents=True)
    target = outside / "target"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("theirs")
    if name.endswith(".json"):
        (batch / name).symlink_to(target / "keep.txt")
    else:
        (batch / name).symlink_to(target, target_is_directory=True)
    before = snapshot_of(outside)
    with pytest.raises(AttentionDataError, match=f"{name}: a symbolic link inside the batch"):
        BatchLock.acquire(batch, command="report")
    assert changes(outside, before) == []
    (batch / name).unlink()
    with BatchLock.acquire(batch, command="report"):  # refused for the link alone, and the lock was released
        assert read_holder(batch).command == "report"

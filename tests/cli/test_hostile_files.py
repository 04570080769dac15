"""Hostile and damaged files, table-driven: every reading command on each, as a real child process.

Each case plants one hostile file in a finished synthetic batch (the files layout, or packed by
``attention-visual pack``): a zip-bomb ``.npz`` (2 GiB of zeros in 2 MB), one whose header lies about
its size, a ``.npz`` truncated to 50 bytes, a pickled object array, crafted metadata and ``zarr.json``
shapes (huge, negative, a string, more steps than the array, chunks that do not fit), damaged and
truncated shards, a Blosc chunk that declares 2 GiB, symbolic links out of the batch (map files, folders,
the store folders themselves, ``manifest.json``, the lock file) and a 512 MB ``manifest.json``. Then every
command that reads a batch runs on it (``stats``, ``report``, ``video --list-available``, ``video``,
``compare``, ``seeds``, ``open_batch``, and ``pack`` or ``unpack``), and each must:

* exit with status 2 (bad data) and print exactly one ``error:`` line, naming the hostile file, and no
  traceback; a command that never reads the hostile file (``--list-available`` reads metadata, not
  arrays) must succeed; a ``report`` that wrote its page anyway marks the file in the video's card;
* peak under 300 MB of resident memory (the child's ``ru_maxrss``);
* read nothing outside the batch: every link points to a FIFO outside it (opening one blocks until the
  child is killed: the test then fails with "timed out"), or to a valid copy of the linked folder (a
  reader that follows it succeeds where it must fail).

``make test`` runs two commands on each case (a different pair per case; together they cover every command
on both layouts); ``make soak`` (in CI) runs every command on every case.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from attention_visual.analysis import pack_batch
from cli.hostile_support import Run, cli, deflate_bomb, make_fifo, npy_header, run_measured, write_zip
from support.batch import build_batch

pytestmark = pytest.mark.slow

VIDEO = "prompt_001_vid_001"
WORD = "kiss"  # of VIDEO; every case damages one of its files
PEAK_MB = 300
TIMEOUT_S = 180

#: Reads the batch through the Python API, as a notebook would; a refused file is one line as in the CLI.
OPEN_BATCH = """
import sys
from attention_visual.analysis import open_batch
from attention_visual.errors import AttentionVisualError
try:
    open_batch(sys.argv[1]).load()
except AttentionVisualError as exc:
    print(f"open_batch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(exc.exit_status)
"""


def commands(batch: Path, out: Path, packed: bool) -> dict[str, list[str]]:
    """Every command that reads the batch, with outputs under ``out`` (outside the batch)."""
    maps = batch / "attention_maps"  # a packed batch's store is found from it too
    look = ("--figsize", "3,2", "--dpi", "40")
    video = ("--attention-dir", maps, "--video-id", VIDEO)
    return {
        "stats": cli("stats", batch, "--output", out / "stats.parquet"),
        "report": cli("report", batch, "--output", out / "report", "--no-plots", "--no-batch-view"),
        "list": cli("video", "--attention-dir", maps, "--list-available"),
        "video": cli("video", *video, "--word", WORD, "--output", out / "v.mp4", *look),
        "compare": cli("compare", *video, "--words", WORD, "flowers", "--output", out / "c.png"),
        "seeds": cli("seeds", batch, "--word", WORD, "--output", out / "seeds.mp4", *look),
        "open_batch": [sys.executable, "-c", OPEN_BATCH, str(batch)],
        "unpack" if packed else "pack": cli("unpack" if packed else "pack", batch),
    }


# -- the cases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile file: ``plant(batch, outside) -> the path the error must name``."""

    name: str
    packed: bool
    plant: Callable[[Path, Path], Path]
    spares: tuple[str, ...] = ()  # commands that never read the planted file: they must succeed


def _seed_file(batch: Path, name: str = "step_000.npz") -> Path:
    return batch / "attention_maps" / VIDEO / WORD / name


def _word_array(batch: Path) -> Path:
    return batch / "attention_maps.zarr" / VIDEO / WORD


def _edit_json(path: Path, edit: Callable[[dict], None]) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


def _link_to_fifo(path: Path, outside: Path) -> Path:
    """Replace ``path`` by a link to a FIFO outside the batch."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(make_fifo(outside / f"fifo-{path.name}"))
    return path


def _link_to_copy(path: Path, outside: Path) -> Path:
    """Replace the folder ``path`` by a link to a valid copy of it outside the batch."""
    copy = outside / f"copy-{path.name}"
    shutil.move(path, copy)
    path.symlink_to(copy, target_is_directory=True)
    return path


def _npz_bomb(batch: Path, outside: Path) -> Path:
    deflate_bomb(_seed_file(batch), 2 << 30)  # 2 GiB of zeros in a 2 MB file
    return _seed_file(batch)


def _npz_bomb_lying(batch: Path, outside: Path) -> Path:
    expected = len(npy_header((3, 2, 3))) + 3 * 2 * 3 * 4  # what the metadata's array would need
    deflate_bomb(_seed_file(batch), 2 << 30, declared=expected)
    return _seed_file(batch)


def _npz_truncated(batch: Path, outside: Path) -> Path:
    path = _seed_file(batch)
    path.write_bytes(path.read_bytes()[:50])
    return path


def _npz_pickled(batch: Path, outside: Path) -> Path:
    path = _seed_file(batch)
    with path.open("wb") as fh:
        np.savez(fh, attention=np.array([{"payload": 1}], dtype=object))
    return path


def _npz_stored_bomb_header(batch: Path, outside: Path) -> Path:
    """A stored (uncompressed) member whose ``.npy`` header claims a [1e5]^3 array in a tiny file."""
    data = npy_header((100_000, 100_000, 100_000)) + bytes(72)
    import zlib

    write_zip(_seed_file(batch), "attention.npy", 0, data, zlib.crc32(data), len(data))
    return _seed_file(batch)


def _npz_fifo(batch: Path, outside: Path) -> Path:
    """A FIFO in place of a map file, inside the batch: opening it to read would block."""
    _seed_file(batch).unlink()
    return make_fifo(_seed_file(batch))


def _metadata_shape(value: object) -> Callable[[Path, Path], Path]:
    def plant(batch: Path, outside: Path) -> Path:
        return _edit_json(_seed_file(batch, "step_000_metadata.json"), lambda d: d.update(shape=value))

    return plant


def _zarr_shape(value: list[object]) -> Callable[[Path, Path], Path]:
    def plant(batch: Path, outside: Path) -> Path:
        return _edit_json(_word_array(batch) / "zarr.json", lambda d: d.update(shape=value))

    return plant


def _zarr_more_steps(batch: Path, outside: Path) -> Path:
    return _edit_json(_word_array(batch) / "zarr.json", lambda d: d["attributes"].update(steps=[0, 1, 2, 3, 4]))


def _zarr_chunks(batch: Path, outside: Path) -> Path:
    def edit(d: dict) -> None:
        d["codecs"][0]["configuration"]["chunk_shape"] = [1, 3, 2, 2]

    return _edit_json(_word_array(batch) / "zarr.json", edit)


def _shard(batch: Path) -> Path:
    return _word_array(batch) / "c.0.0.0.0"


def _shard_index_damaged(batch: Path, outside: Path) -> Path:
    data = bytearray(_shard(batch).read_bytes())
    data[-10] ^= 0xFF  # inside the shard index: its CRC-32C no longer matches
    _shard(batch).write_bytes(bytes(data))
    return _shard(batch)


def _shard_truncated(batch: Path, outside: Path) -> Path:
    data = _shard(batch).read_bytes()
    _shard(batch).write_bytes(data[: len(data) // 2])
    return _shard(batch)


def _blosc_bomb(batch: Path, outside: Path) -> Path:
    """The first chunk's Blosc header declares 2 GiB (the shard index, whose CRC covers only itself, is intact)."""
    data = bytearray(_shard(batch).read_bytes())
    data[4:8] = (2**31 - 1).to_bytes(4, "little")  # nbytes of the first chunk (at offset 0)
    _shard(batch).write_bytes(bytes(data))
    return _shard(batch)


def _video(batch: Path) -> Path:
    return batch / "attention_maps" / VIDEO


def _group(batch: Path) -> Path:
    return batch / "attention_maps.zarr" / VIDEO


def _aggregated(batch: Path) -> Path:
    return batch / "attention_maps.zarr" / "_aggregated" / WORD


def _manifest_sparse(batch: Path, outside: Path) -> Path:
    """A 512 MB ``manifest.json`` (sparse: no disk used); reading it whole would peak far above the limit."""
    path = batch / "manifest.json"
    with path.open("r+b") as fh:
        fh.truncate(512 << 20)
    return path


ARRAYS_ONLY = ("list",)  # ``--list-available`` reads metadata, not arrays
STEPS_ONLY = ("list", "video", "compare")  # the step video and the comparison plot do not read the averages
MAPS_ONLY = ("list", "video", "compare", "pack")  # commands that read the maps, not the manifest
MAPS_ONLY_NO_LOCK = ("list", "video", "compare")  # the same, less ``pack``: its lock refuses a linked manifest
NO_LOCK = ("stats", "report", "list", "video", "compare", "seeds", "open_batch")  # read-only: they never lock
CASES = [
    Case("npz-zip-bomb", False, _npz_bomb, spares=ARRAYS_ONLY),
    Case("npz-bomb-lying-header", False, _npz_bomb_lying, spares=ARRAYS_ONLY),
    Case("npz-header-claims-1e15", False, _npz_stored_bomb_header, spares=ARRAYS_ONLY),
    Case("npz-truncated-50-bytes", False, _npz_truncated, spares=ARRAYS_ONLY),
    Case("npz-pickled-objects", False, _npz_pickled, spares=ARRAYS_ONLY),
    Case("npz-is-a-fifo", False, _npz_fifo, spares=ARRAYS_ONLY),
    Case("npz-link-out", False, lambda b, o: _link_to_fifo(_seed_file(b), o)),
    Case("metadata-link-out", False, lambda b, o: _link_to_fifo(_seed_file(b, "step_000_metadata.json"), o)),
    Case("complete-mark-link-out", False, lambda b, o: _link_to_fifo(_video(b) / "_complete.json", o)),
    Case("word-folder-link-out", False, lambda b, o: _link_to_copy(_seed_file(b).parent, o)),
    Case("video-folder-link-out", False, lambda b, o: _link_to_copy(_video(b), o)),
    Case("metadata-shape-huge", False, _metadata_shape([100_000, 100_000, 100_000])),
    Case("metadata-shape-negative", False, _metadata_shape([3, -2, 3])),
    Case("metadata-shape-string", False, _metadata_shape("3x2x3")),
    Case("zarr-shape-1e5", True, _zarr_shape([100_000] * 4)),
    Case("zarr-shape-negative", True, _zarr_shape([3, 3, -2, 3])),
    Case("zarr-shape-string", True, _zarr_shape([3, "3", 2, 3])),
    Case("zarr-more-steps-than-shape", True, _zarr_more_steps),
    Case("zarr-chunks-do-not-fit", True, _zarr_chunks, spares=ARRAYS_ONLY),
    Case("shard-index-damaged", True, _shard_index_damaged, spares=ARRAYS_ONLY),
    Case("shard-truncated", True, _shard_truncated, spares=ARRAYS_ONLY),
    Case("shard-blosc-bomb", True, _blosc_bomb, spares=ARRAYS_ONLY),
    Case("shard-link-out", True, lambda b, o: _link_to_fifo(_shard(b), o), spares=ARRAYS_ONLY),
    Case("zarr-json-link-out", True, lambda b, o: _link_to_fifo(_word_array(b) / "zarr.json", o)),
    Case("group-link-out", True, lambda b, o: _link_to_copy(_group(b), o)),
    Case("aggregated-link-out", True, lambda b, o: _link_to_copy(_aggregated(b), o), spares=STEPS_ONLY),
    Case("files-store-link-out", False, lambda b, o: _link_to_copy(b / "attention_maps", o)),
    Case("packed-store-link-out", True, lambda b, o: _link_to_copy(b / "attention_maps.zarr", o)),
    Case("manifest-link-out", False, lambda b, o: _link_to_fifo(b / "manifest.json", o), spares=MAPS_ONLY_NO_LOCK),
    Case("manifest-512-mb", False, _manifest_sparse, spares=MAPS_ONLY),
    Case("lock-link-out", True, lambda b, o: _link_to_fifo(b / "generate.lock", o), spares=NO_LOCK),
]


# -- the batches ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """A finished batch in the files layout (False) and the same batch packed (True)."""
    root = tmp_path_factory.mktemp("pristine")
    files = root / "files"
    build_batch(files, videos_per_prompt=1)
    packed = root / "packed"
    shutil.copytree(files, packed)
    pack_batch(packed)
    return {False: files, True: packed}


def _one_error_line(run: Run) -> str:
    lines = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, f"expected one error line\n{run.describe()}"
    return lines[0]


def _quick_commands(case: Case) -> set[str]:
    """The two commands ``make test`` runs on ``case``: a different pair for each case of the table, so every
    command meets every kind of hostile file (``make soak`` runs every command on every case)."""
    names = list(commands(Path("batch"), Path("out"), case.packed))
    index = CASES.index(case)
    return {names[index % len(names)], names[(index + len(names) // 2) % len(names)]}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_two_reading_commands_refuse_the_hostile_file(case: Case, pristine: dict[bool, Path], tmp_path: Path) -> None:
    _check_commands(case, pristine, tmp_path, _quick_commands(case))


@pytest.mark.soak
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_reading_command_refuses_the_hostile_file(case: Case, pristine: dict[bool, Path], tmp_path: Path) -> None:
    _check_commands(case, pristine, tmp_path, None)


def test_the_quick_pairs_cover_every_command() -> None:
    for packed in (False, True):
        names = set(commands(Path("batch"), Path("out"), packed))
        met = set().union(*(_quick_commands(c) for c in CASES if c.packed == packed))
        assert met == names, f"never run by make test (packed={packed}): {sorted(names - met)}"


def _check_commands(case: Case, pristine: dict[bool, Path], tmp_path: Path, only: set[str] | None) -> None:
    """Plants ``case`` in a copy of the pristine batch and runs the commands (``only``, or all) on it."""
    outside = tmp_path / "outside"  # the links point here, never inside the batch
    outside.mkdir()
    batch = tmp_path / "batch"
    shutil.copytree(pristine[case.packed], batch)
    hostile = case.plant(batch, outside)
    runs = {
        name: argv for name, argv in commands(batch, tmp_path / "out", case.packed).items() if not only or name in only
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(runs, pool.map(lambda argv: run_measured(argv, timeout=TIMEOUT_S), runs.values()), strict=True))
    for name, run in done.items():
        assert run.status != -1, f"{name} timed out: it opened a FIFO outside the batch?\n{run.describe()}"
        assert "Traceback" not in run.stderr, f"{name}\n{run.describe()}"
        assert run.peak_mb < PEAK_MB, f"{name} peaked at {run.peak_mb:.0f} MB\n{run.describe()}"
        if name in case.spares:
            assert run.status == 0, f"{name} does not read {hostile.name}, yet failed\n{run.describe()}"
            continue
        assert run.status == 2, f"{name}\n{run.describe()}"
        line = _one_error_line(run)
        assert str(hostile) in line, f"{name} does not name {hostile}:\n{line}"
        if name == "report" and "marks the unreadable maps" in line:  # the page is written: the card says which
            card = tmp_path / "out" / "report" / "cards" / f"{VIDEO}.js"
            assert hostile.name in card.read_text(), f"the report's card of {VIDEO} does not mark {hostile.name}"

"""One layout per batch: ``pack`` is refused while ``generate`` runs, ``generate`` repairs a half-done
pack, every reader command reads the complete side of a half state, and ``generate`` exits 3 when its run
ends with videos not done."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.pack_support import content, leftovers
from attention_visual.analysis import open_batch
from attention_visual.analysis.pack import pack_batch
from attention_visual.cli.main import main
from attention_visual.config import Config, dump_config
from attention_visual.pipeline import BatchOptions, plan_batch, run_batch
from attention_visual.pipeline.resume import batch_maps, video_problem
from attention_visual.pipeline.summary import EXIT_NOT_DONE
from attention_visual.storage import AttentionStore, read_array, read_metadata
from attention_visual.storage.backend import FILES, PACKED, open_maps
from attention_visual.storage.backend.placement import BUILDING, COMPLETE, Transaction, write_transaction
from pipeline.chaos_support import alive, done_statuses, fork_cli, wait_exit, wait_for
from pipeline.pipeline_support import tiny_config, tiny_data, write_config

QUIET = BatchOptions(progress=False)
CONFIG_PATH = Path("tiny_layouts.yaml")
VID = "prompt_001_vid_001"


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("attention-visual: error:")]


@pytest.mark.slow
def test_pack_while_generate_runs_is_refused_and_the_batch_finishes_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmp_path / "out", batch_name="b", attention_analysis={"auto_generate_per_video": True})
    config = write_config(tmp_path / "c.yaml", data)
    batch = tmp_path / "out" / "b"
    pid = fork_cli(["generate", str(config), "--no-progress"], tmp_path / "generate.log")
    assert wait_for(pid, lambda: done_statuses(batch) >= 1), (tmp_path / "generate.log").read_text()[-2000:]
    for command in (["pack", str(batch)], ["unpack", str(batch)], ["report", str(batch), "--no-plots"]):
        assert main(command) == 2
        [line] = error_lines(capsys.readouterr().err)
        assert f"is in use by another run (generate, pid {pid} on host" in line, line
    assert main(["stats", str(batch), "--output", str(tmp_path / "s.csv"), "--include-incomplete"]) == 0  # reads
    assert alive(pid) or done_statuses(batch) == 4
    assert wait_exit(pid) == 0, (tmp_path / "generate.log").read_text()[-3000:]
    reader = open_maps(batch).reader()
    assert open_maps(batch).layout == FILES and not (batch / "attention_maps.zarr").exists()
    assert reader.list_videos(include_incomplete=False) == [f"prompt_00{p}_vid_00{v}" for p in (1, 2) for v in (1, 2)]
    assert main(["pack", str(batch)]) == 0  # once generate has ended
    assert open_maps(batch).layout == PACKED


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny batch run (files layout) and its packed copy; the config that made them."""
    from attention_visual.models.tiny import build_tiny_pipeline

    root = tmp_path_factory.mktemp("layouts")
    config = tiny_config(root / "out", batch_name="files")
    result = run_batch(config, CONFIG_PATH, QUIET, pipe=build_tiny_pipeline(seed=0))
    assert result.exit_code == 0
    packed = copy_batch(result.batch_dir, "packed")
    pack_batch(packed)
    return {"files": result.batch_dir, "packed": packed, "pipe": build_tiny_pipeline(seed=0)}


def config_of(batch: Path) -> Config:
    return tiny_config(batch.parent, batch_name=batch.name)


def copy_batch(batch: Path, name: str) -> Path:
    """A copy of ``batch`` beside it, named ``name``, whose saved config names it (a rerun resumes it)."""
    copy = shutil.copytree(batch, batch.parent / name)
    (copy / "config.yaml").write_text(dump_config(config_of(copy)), encoding="utf-8")
    return copy


def other_maps(batch: Path, name: str) -> Path:
    """A copy of a files-layout batch with other maps: each mirrored left to right, the first video left out."""
    copy = copy_batch(batch, name)
    for meta_path in sorted((copy / "attention_maps").rglob("*_metadata.json")):
        meta = read_metadata(meta_path)
        data = next(
            p for p in meta_path.parent.glob(meta_path.name.replace("_metadata.json", ".*")) if p.suffix != ".json"
        )
        store = AttentionStore(copy / "attention_maps", storage_format=meta.storage_format, dtype=meta.dtype)
        array = np.ascontiguousarray(np.flip(read_array(data), axis=-1))  # [..., x] reversed
        store.save_aggregated(meta, array) if meta.step_index is None else store.save_step(meta, array)
    shutil.rmtree(copy / "attention_maps" / VID)
    return copy


def half_state(generated: dict[str, Any], state: str) -> tuple[Path, Path]:
    """``(batch in a half state, the batch holding only its complete side)``.

    ``building``: a pack killed before it verified (the files layout is complete; beside it a packed store of
    other maps). ``complete``: a pack killed while it deleted the files layout (the packed store is complete;
    beside it other maps, a video already deleted).
    """
    name = f"half_{state}"
    if state == BUILDING:
        batch, live = copy_batch(generated["files"], name), generated["files"]
        other = other_maps(generated["files"], f"{name}_other")
        pack_batch(other)
        shutil.copytree(other / "attention_maps.zarr", batch / "attention_maps.zarr")
    else:
        batch, live = copy_batch(generated["packed"], name), generated["packed"]
        other = other_maps(generated["files"], f"{name}_other")
        shutil.copytree(other / "attention_maps", batch / "attention_maps")
    write_transaction(batch, Transaction("pack", FILES, PACKED, state, pid=4242))
    return batch, live


def listing(maps_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["video", "--attention-dir", str(maps_path), "--list-available"]) == 0
    return capsys.readouterr().out.splitlines()[1:]  # less the header naming the store read


def picture(command: list[str], output: Path) -> np.ndarray:
    from PIL import Image

    assert main([*command, "--output", str(output)]) == 0
    with Image.open(output) as image:
        return np.asarray(image)


@pytest.mark.slow
@pytest.mark.parametrize("state", [BUILDING, COMPLETE])
def test_every_reader_command_reads_the_complete_side_of_a_half_state(
    generated: dict[str, Any],
    state: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from attention_visual.report import write_report

    batch, live = half_state(generated, state)
    layout = FILES if state == BUILDING else PACKED
    assert content(batch).keys() == content(live).keys()

    tables = []  # stats
    for source in (live, batch):
        caplog.clear()
        assert main(["stats", str(source), "--output", str(tmp_path / f"{source.name}.csv")]) == 0
        tables.append(pd.read_csv(tmp_path / f"{source.name}.csv"))
    pd.testing.assert_frame_equal(tables[1], tables[0])
    capsys.readouterr()
    notes = [r.getMessage() for r in caplog.records if "holds both attention_maps/" in r.getMessage()]
    store = "attention_maps" if layout == FILES else "attention_maps.zarr"
    assert len(notes) == 1 and f"reading {store} " in notes[0], notes

    a, b = open_batch(live), open_batch(batch)  # open_batch
    assert np.array_equal(a.attention.values, b.attention.values, equal_nan=True)
    assert np.array_equal(a.aggregated.values, b.aggregated.values, equal_nan=True)
    assert b.attrs["maps"].endswith("attention_maps" if layout == FILES else "attention_maps.zarr")

    expected = listing(live / "attention_maps", capsys)  # the analyzer through `video`, from either path
    assert listing(batch / "attention_maps", capsys) == expected
    assert listing(batch / "attention_maps.zarr", capsys) == expected

    compare = ["compare", "--video-id", VID, "--words", "kiss", "flowers"]  # compare
    assert np.array_equal(
        picture([*compare, "--attention-dir", str(batch / "attention_maps")], tmp_path / "half.png"),
        picture([*compare, "--attention-dir", str(live / "attention_maps")], tmp_path / "live.png"),
    )

    sprites = []  # report
    for source in (live, batch):
        index = write_report(source, comparison_plots=False, batch_view=False, output_dir=tmp_path / f"r_{source.name}")
        sprites.append({p.relative_to(index.parent): p.read_bytes() for p in index.parent.rglob("*.png")})
    assert sprites[0] and sprites[1] == sprites[0]

    config = config_of(batch)  # resume: the same store, every video finished; the rerun repairs the batch
    assert batch_maps(batch, config).layout == layout
    assert all(video_problem(batch, job, config) is None for job in plan_batch(config))
    again = run_batch(config, CONFIG_PATH, QUIET, pipe=generated["pipe"])
    assert (again.exit_code, again.generated, again.skipped) == (0, 0, 4)
    assert open_maps(batch).layout == layout and leftovers(batch) == []
    assert not (batch / ("attention_maps.zarr" if layout == FILES else "attention_maps")).exists()
    now, then = content(batch), content(live)
    assert now.keys() == then.keys() and all(np.array_equal(now[k][1], then[k][1]) for k in now)


@pytest.mark.slow
def test_generate_exits_3_when_its_run_ends_with_videos_not_done(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out", batch_name="b"))
    batch = tmp_path / "out" / "b"
    status = batch / "status" / f"{VID}.json"
    pid = fork_cli(["generate", str(config), "--no-progress"], tmp_path / "log")
    assert wait_for(pid, status.is_file)
    status.unlink()  # someone removes a finished video's record while the run goes on
    assert wait_exit(pid) == EXIT_NOT_DONE
    log = (tmp_path / "log").read_text()
    assert "3 of 4 videos done" in log and "1 not done" in log and "rerun the same command" in log
    assert wait_exit(fork_cli(["generate", str(config), "--no-progress"], tmp_path / "rerun.log")) == 0

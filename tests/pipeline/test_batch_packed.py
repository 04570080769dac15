"""``storage_format: zarr``: generate writes the packed store directly, equal to ``pack`` of a files-layout run;
a rerun on a packed batch (written so, or packed by ``pack``) skips finished videos and redoes unfinished ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from attention_visual.analysis import batch_stats
from attention_visual.analysis.pack import pack_batch
from attention_visual.config import Config, dump_config
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline.summary import BatchResult
from attention_visual.report import write_report
from pipeline.chaos_support import strip_keys
from pipeline.pipeline_support import snapshot, tiny_config

pytestmark = pytest.mark.slow  # full tiny batches

CONFIG_PATH = Path("tiny_packed.yaml")
QUIET = BatchOptions(progress=False)
STORE = "attention_maps.zarr"
VID = "prompt_001_vid_002"
#: fields that differ between two runs of one config: the time a map was stored; the seed files' and the
#: packed files' checksums (their bytes hold those times)
VOLATILE = {"storage_timestamp", "checksums", "packed_files"}


def run(config: Config, pipe: Any) -> BatchResult:
    return run_batch(config, CONFIG_PATH, QUIET, pipe=pipe)


def config_for(output_dir: Path, storage_format: str, **analysis: Any) -> Config:
    return tiny_config(output_dir, batch_name="b", attention_analysis={"storage_format": storage_format, **analysis})


def copy_batch(batch: Path, output_dir: Path, config: Config) -> Path:
    """A copy of ``batch`` under ``output_dir``, its saved config made ``config`` (whose output_dir that is)."""
    copy = output_dir / batch.name
    shutil.copytree(batch, copy)
    (copy / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    return copy


def store_content(store: Path) -> dict[str, Any]:
    """Every file of a packed store: zarr.json documents less their volatile fields, data files as bytes."""
    out: dict[str, Any] = {}
    for path in sorted(store.rglob("*")):
        if path.is_file():
            rel = path.relative_to(store).as_posix()
            is_json = path.name == "zarr.json"
            out[rel] = strip_keys(json.loads(path.read_text()), VOLATILE) if is_json else path.read_bytes()
    return out


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny batch twice: files layout then ``pack``, and ``storage_format: zarr`` (with renders and report)."""
    from attention_visual.models.tiny import build_tiny_pipeline

    root = tmp_path_factory.mktemp("packed")
    pipe = build_tiny_pipeline(seed=0)
    seed = run(config_for(root / "seed", "numpy"), pipe)
    assert seed.generated == 4
    pack_batch(seed.batch_dir)
    zarr = run(config_for(root / "zarr", "zarr", auto_generate_per_video=True, generate_report=True), pipe)
    assert zarr.generated == 4 and zarr.report_error is None and not zarr.render_failures
    return {"seed": seed.batch_dir, "zarr": zarr.batch_dir, "root": root}


def test_zarr_writes_what_pack_makes_of_the_files_layout(batches: dict[str, Path]) -> None:
    packed, direct = batches["seed"] / STORE, batches["zarr"] / STORE
    assert not (batches["zarr"] / "attention_maps").exists()
    a, b = store_content(packed), store_content(direct)
    assert sorted(a) == sorted(b)  # no _staged/ left: the batch's end moved the step averages
    for rel in a:
        assert a[rel] == b[rel], rel
    record = json.loads((direct / VID / "zarr.json").read_text())["attributes"]["complete"]
    assert record["files"] == 2 * 3 and record["packed_files"]  # 2 words x (2 steps + their average)


def test_stats_report_and_videos_of_a_zarr_batch(batches: dict[str, Path]) -> None:
    pd.testing.assert_frame_equal(batch_stats(batches["zarr"]), batch_stats(batches["seed"]))
    manifest = json.loads((batches["zarr"] / "manifest.json").read_text())
    assert manifest["finished"] and all(len(v["paths"]["attention_videos"]) == 4 for v in manifest["videos"])
    assert (batches["zarr"] / "report" / "index.html").is_file()
    assert write_report(batches["seed"], comparison_plots=False).is_file()


@pytest.mark.parametrize("name", ["seed", "zarr"])
def test_a_finished_packed_batch_is_not_regenerated(batches: dict[str, Path], name: str) -> None:
    from attention_visual.models.tiny import build_tiny_pipeline

    fmt = "numpy" if name == "seed" else "zarr"  # the seed batch was packed by `pack` after its run
    extra = {} if name == "seed" else {"auto_generate_per_video": True, "generate_report": True}
    config = config_for(batches["root"] / f"rerun_{name}", fmt, **extra)
    batch = copy_batch(batches[name], batches["root"] / f"rerun_{name}", config)
    before = snapshot(batch / STORE)
    result = run(config, build_tiny_pipeline(seed=0))
    assert (result.generated, result.skipped) == (0, 4)
    assert snapshot(batch / STORE) == before
    assert not (batch / "attention_maps").exists()


@pytest.mark.parametrize("damage", ["unfinished", "corrupted"])
def test_a_half_written_video_of_a_packed_batch_is_redone(batches: dict[str, Path], damage: str) -> None:
    from attention_visual.models.tiny import build_tiny_pipeline

    config = config_for(batches["root"] / f"half_{damage}", "zarr", auto_generate_per_video=True, generate_report=True)
    batch = copy_batch(batches["zarr"], batches["root"] / f"half_{damage}", config)
    store = batch / STORE
    shard = store / VID / "kiss" / "c.0.0.0.0"
    if damage == "unfinished":  # killed while writing its maps: no completion record, no status file yet
        group = store / VID / "zarr.json"
        meta = json.loads(group.read_text())
        meta["attributes"]["complete"] = None
        group.write_text(json.dumps(meta))
        shard.with_name("c.0.0.0.1f2e.partial").write_bytes(shard.read_bytes()[:50])
        shard.unlink()
        (batch / "status" / f"{VID}.json").unlink()
    else:  # a finished video whose shard was changed afterwards: its checksum no longer matches
        data = bytearray(shard.read_bytes())
        data[10] ^= 0xFF
        shard.write_bytes(bytes(data))
    others = {k: v for k, v in snapshot(store).items() if VID not in k and not k.startswith("_aggregated")}
    result = run(config, build_tiny_pipeline(seed=0))
    assert (result.generated, result.skipped) == (1, 3)
    after = snapshot(store)
    assert {k: after.get(k) for k in others} == others  # nothing finished was rewritten
    assert not [k for k in after if k.endswith(".partial")]
    assert store_content(store) == store_content(batches["zarr"] / STORE)


def test_zarr_without_the_analysis_extra_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "prompts: ['a (cat)']\ngeneration: {model_id: tiny, device: cpu, height: 32, width: 48, num_frames: 9}\n"
        "attention_analysis: {storage_format: zarr}\n"
    )
    code = (
        "import sys; sys.modules['zarr'] = None\n"
        "from attention_visual.cli.main import main\n"
        f"sys.exit(main(['config', {str(config)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "zarr" in line]
    assert lines == [
        "attention-visual: error: attention_analysis.storage_format 'zarr' (the packed store) needs the "
        "'analysis' extra (zarr not installed): pip install \"attention_visual[analysis]\""
    ], done.stderr

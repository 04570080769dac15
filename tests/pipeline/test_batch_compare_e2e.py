"""End to end: ``configs/compare_families.yaml``, one marked prompt through every tiny family in one batch.

Each video records its model; each model's maps are its family's; the report and ``stats`` show the models
side by side (a ``model`` column and filter); ``seeds`` takes one model. A comparison killed with
``kill -9`` resumes without redoing its finished videos; one pipeline is in memory at a time. A bad entry
is one line, exit 2, nothing created.
"""

from __future__ import annotations

import contextlib
import gc
import json
import signal
import weakref
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import attention_visual.pipeline.batch as batch_module
from attention_visual.config import load_config
from attention_visual.pipeline import run_batch
from attention_visual.visualization import AttentionAnalyzer
from pipeline.chaos_support import fork_cli, wait_exit, wait_for
from pipeline.pipeline_support import REPO, batch_dirs, generate_batch, snapshot, write_config
from support.cli import run_main
from support.processes import signal_run, wait_ended

COMPARE = REPO / "configs" / "compare_families.yaml"
#: name in the config: (model id, family, [frame, y, x] of a map at 64 x 96 px and 17 frames)
MODELS = {
    "wan": ("tiny", "wan", (5, 4, 6)),
    "skyreels-v2-df": ("tiny-skyreels-v2-df", "wan", (5, 4, 6)),
    "cogvideox": ("tiny-cogvideox", "cogvideox", (5, 4, 6)),
    "hunyuan15": ("tiny-hunyuan15", "hunyuan15", (5, 4, 6)),
    "hunyuanvideo": ("tiny-hunyuan", "hunyuanvideo", (5, 4, 6)),
    "ltx": ("tiny-ltx", "ltx", (3, 2, 3)),
    "ltx2": ("tiny-ltx2", "ltx2", (3, 2, 3)),
}


@pytest.mark.slow
def test_one_prompt_through_every_family_side_by_side(tmp_path: Path) -> None:
    batch, manifest = generate_batch(COMPARE, tmp_path / "out")
    videos = {v["model"]: v for v in manifest["videos"]}
    assert list(videos) == list(MODELS)  # model-major, in the config's order
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    for name, (model_id, family, grid) in MODELS.items():
        video = videos[name]
        assert video["video_id"] == f"{name}_prompt_001_vid_001" and video["model_id"] == model_id
        assert video["seed"] == 42 and video["paths"]["video"] == f"videos/{name}/prompt_001/video_001.mp4"
        assert (batch / video["paths"]["video"]).is_file() and len(video["paths"]["attention_videos"]) == 4
        step = analyzer.load_step(video["video_id"], "dog", 1)
        assert step.attention_map.shape == grid and step.metadata.family == family  # [frame, y, x]
        assert step.metadata.model_id == model_id
    assert manifest["model_id"] == (
        "tiny, tiny-skyreels-v2-df, tiny-cogvideox, tiny-hunyuan15, tiny-hunyuan, tiny-ltx, tiny-ltx2"
    )

    # the report: the statistics table has the model column, the page a model filter, each card its model
    table = pd.read_parquet(batch / "report" / "batch" / "stats.parquet")
    assert set(table["model"]) == set(MODELS)
    view = (batch / "report" / "batch" / "view.js").read_text()
    data = json.loads(view[view.index("(") + 1 : view.rindex(")")])
    assert '<select id="model-filter">' in data["html"]
    assert "consistency across" not in data["html"] and "not pooled" not in data["html"]  # models are not pooled
    assert data["stats"]["columns"][:2] == ["video_id", "model"]
    assert {row[1] for row in data["stats"]["rows"]} == set(MODELS)
    seeds = sorted(p.name for p in (batch / "report" / "batch" / "seeds").glob("dog_*.png"))
    assert seeds == sorted(f"dog_{name}_prompt_001.png" for name in MODELS)  # one seed group per model

    # stats: every model, or one with --model
    assert run_main("stats", batch).returncode == 0
    stats = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(stats["model"]) == set(MODELS) and stats.groupby("model")["frame"].max().to_dict() == {
        "wan": 4, "skyreels-v2-df": 4, "cogvideox": 4, "hunyuan15": 4, "hunyuanvideo": 4, "ltx": 2, "ltx2": 2,
    }  # fmt: skip
    done = run_main("stats", batch, "--model", "ltx", "--output", tmp_path / "ltx.csv")
    assert done.returncode == 0, done.stderr
    assert set(pd.read_csv(tmp_path / "ltx.csv")["model"]) == {"ltx"}
    wrong = run_main("stats", batch, "--model", "mochi", "--output", tmp_path / "none.csv")
    message = (
        "no model named 'mochi' in this batch; its models: cogvideox, hunyuan15, hunyuanvideo, ltx, ltx2, "
        "skyreels-v2-df, wan"
    )
    assert wrong.returncode == 2 and message in wrong.stderr
    assert not (tmp_path / "none.csv").exists()

    # seeds: the models' grids differ, so one model at a time
    mixed = run_main("seeds", batch, "--word", "dog")
    assert mixed.returncode == 2 and "choose one with --model" in mixed.stderr
    done = run_main("seeds", batch, "--word", "dog", "--model", "ltx")
    assert done.returncode == 0, done.stderr
    assert (batch / "seed_videos" / "dog_ltx.mp4").is_file()


def _kill_config(tmp_path: Path, out: Path) -> Path:
    data = yaml.safe_load(COMPARE.read_text())
    data["models"] = [m for m in data["models"] if m["name"] in ("wan", "ltx")]
    data["output_dir"] = str(out)
    data["generation"]["videos_per_prompt"] = 2
    data["attention_analysis"].update(auto_generate_per_video=False, generate_report=False)
    return write_config(tmp_path / "compare_kill.yaml", data)


def _done(out: Path) -> list[str]:
    """The ids of the videos whose status file says done."""
    done = []
    for path in out.glob("*/status/*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(path.read_text())["video"]["status"] == "done":
                done.append(path.stem)
    return sorted(done)


@pytest.mark.slow
def test_a_killed_comparison_resumes_without_redoing_finished_videos(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = _kill_config(tmp_path, out)
    log = tmp_path / "killed.log"
    pid = fork_cli(["generate", str(config), "--no-progress"], log)
    assert wait_for(pid, lambda: len(_done(out)) >= 1, timeout=300), log.read_text()[-2000:]
    wait_ended(signal_run(pid, signal.SIGKILL))
    assert wait_exit(pid) == -signal.SIGKILL
    finished = _done(out)
    assert 1 <= len(finished) < 4, "the batch finished before it could be killed"
    [batch] = batch_dirs(out)
    kept = {k: v for k, v in snapshot(batch).items() if any(video_id in k for video_id in finished)}

    log = tmp_path / "rerun.log"
    assert wait_exit(fork_cli(["generate", str(config), "--no-progress"], log), 300) == 0, log.read_text()[-3000:]
    assert f"resuming batch {batch.name}: {len(finished)} of 4 videos done" in log.read_text()
    after = snapshot(batch)
    assert {k: after.get(k) for k in kept} == kept  # nothing finished was rewritten
    manifest = json.loads((batch / "manifest.json").read_text())
    assert [(v["model"], v["status"]) for v in manifest["videos"]] == [
        ("wan", "done"), ("wan", "done"), ("ltx", "done"), ("ltx", "done"),
    ] and manifest["finished"]  # fmt: skip


def test_one_pipeline_in_memory_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the next model loads, the previous model's pipeline is gone (no reference keeps it alive)."""
    loaded: list[weakref.ref[Any]] = []
    real = batch_module.load_pipeline

    def load(model_id: str, **kwargs: Any) -> Any:
        gc.collect()
        assert all(ref() is None for ref in loaded), "an earlier model's pipeline is still in memory"
        pipe = real(model_id, **kwargs)
        loaded.append(weakref.ref(pipe))
        return pipe

    monkeypatch.setattr(batch_module, "load_pipeline", load)
    config_path = _kill_config(tmp_path, tmp_path / "out")
    result = run_batch(load_config(config_path), config_path)
    assert result.exit_code == 0 and len(loaded) == 2  # wan, then ltx: each loaded once for its two videos


def test_a_bad_entry_is_one_line_exit_2_nothing_created(tmp_path: Path) -> None:
    out = tmp_path / "out"
    models = 'models=["tiny", {"model_id": "tiny-ltx", "num_frames": 9, "height": 48}]'
    done = run_main("generate", COMPARE, "--set", f"output_dir={out}", "--set", models)
    assert done.returncode == 2, done.stderr
    assert "models[1].height must be a multiple of 32 for LTX-Video, got 48" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not out.exists()

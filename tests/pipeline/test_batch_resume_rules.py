"""Which folder a run uses (new / resume / overwrite), what counts as finished, and clearing leftovers.

No model here: finished videos are fabricated file by file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from attention_visual.config import Config, dump_config
from attention_visual.errors import ConfigError
from attention_visual.pipeline.merge import build_manifest, merged_records, planned_record
from attention_visual.pipeline.plan import VideoJob, plan_batch
from attention_visual.pipeline.resume import (
    choose_batch_dir,
    default_prefix,
    is_video_finished,
    prepare_batch_dir,
    remove_leftovers,
)
from attention_visual.storage import AttentionStore
from attention_visual.storage.batch.manifest import write_status
from pipeline.pipeline_support import snapshot, tiny_config

CONFIG_PATH = Path("configs/tiny_demo.yaml")
T0 = datetime(2025, 1, 31, 12, 0, 0)
T1 = datetime(2025, 1, 31, 13, 0, 0)


def finish(batch_dir: Path, config: Config, job: VideoJob) -> None:
    """Fabricate a finished video: its file, its maps' completion mark, its ``done`` status."""
    (batch_dir / job.video_path).parent.mkdir(parents=True, exist_ok=True)
    (batch_dir / job.video_path).write_bytes(b"mp4")
    AttentionStore(batch_dir / "attention_maps").mark_complete(job.video_id, {})
    write_status(batch_dir / job.status_path, planned_record(job, config, status="done", rank=0))


def test_finished_needs_the_video_the_maps_and_a_done_status(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    job = plan_batch(config)[0]
    finish(tmp_path, config, job)
    assert is_video_finished(tmp_path, job, config)
    (tmp_path / job.video_path).unlink()
    assert not is_video_finished(tmp_path, job, config)
    finish(tmp_path, config, job)
    (tmp_path / "attention_maps" / job.video_id / "_complete.json").unlink()
    assert not is_video_finished(tmp_path, job, config)
    finish(tmp_path, config, job)
    write_status(tmp_path / job.status_path, planned_record(job, config, status="failed"))
    assert not is_video_finished(tmp_path, job, config)
    # Without a marked word (or with store_attention off) there are no maps to wait for.
    bare = tiny_config(tmp_path, prompts=["a dog on a beach"])
    bare_job = plan_batch(bare)[0]
    (tmp_path / bare_job.video_path).write_bytes(b"mp4")
    write_status(tmp_path / bare_job.status_path, planned_record(bare_job, bare, status="done"))
    assert is_video_finished(tmp_path, bare_job, bare)


def test_default_name_resumes_the_newest_unfinished_batch_of_the_same_config(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    config = tiny_config(out)
    jobs = plan_batch(config)
    first = choose_batch_dir(config, CONFIG_PATH, jobs, now=T0)
    assert (first.mode, first.path.name) == ("new", "tiny_demo_20250131-120000")
    prepare_batch_dir(first, config)
    assert (first.path / "config.yaml").read_text() == dump_config(config)

    again = choose_batch_dir(config, CONFIG_PATH, jobs, now=T1)
    assert (again.mode, again.path) == ("resume", first.path)

    other = tiny_config(out, generation={"seed": 7})  # a different resolved config: never resumed
    assert choose_batch_dir(other, CONFIG_PATH, plan_batch(other), now=T1).mode == "new"
    assert choose_batch_dir(config, Path("elsewhere/other_name.yaml"), jobs, now=T1).mode == "new"

    for job in jobs:
        finish(first.path, config, job)
    # Every video done, but the run stopped before its manifest said finished (in the report): resumed.
    assert choose_batch_dir(config, CONFIG_PATH, jobs, now=T0).mode == "resume"
    records = merged_records(first.path, jobs, {}, config)
    build_manifest(first.path, config, CONFIG_PATH, jobs, records, 1, "2025-01-31T12:00:00+00:00", True)
    after = choose_batch_dir(config, CONFIG_PATH, jobs, now=T0)  # finished: a new batch (same second)
    assert (after.mode, after.path.name) == ("new", "tiny_demo_20250131-120000-2")
    prepare_batch_dir(after, config)
    newest = choose_batch_dir(config, CONFIG_PATH, jobs, now=T1)
    assert (newest.mode, newest.path) == ("resume", after.path)


def test_explicit_batch_name_with_another_config_is_refused(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, batch_name="mine")
    jobs = plan_batch(config)
    choice = choose_batch_dir(config, CONFIG_PATH, jobs)
    assert (choice.mode, choice.path) == ("new", tmp_path / "mine")
    prepare_batch_dir(choice, config)
    assert choose_batch_dir(config, CONFIG_PATH, jobs).mode == "resume"
    changed = tiny_config(tmp_path, batch_name="mine", generation={"num_inference_steps": 3})
    with pytest.raises(ConfigError, match=r"holds a different config: pass --overwrite .* another batch_name"):
        choose_batch_dir(changed, CONFIG_PATH, jobs)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="files of something else"):
        choose_batch_dir(tiny_config(tmp_path, batch_name="foreign"), CONFIG_PATH, jobs)


def test_a_batch_resumes_whatever_its_render_workers_say(tmp_path: Path) -> None:
    """render_workers says how a batch runs, not what it makes: another value (or none, in a batch made
    before the key existed) resumes the same folder; a prompt read from a file still counts."""
    config = tiny_config(tmp_path, batch_name="mine", attention_analysis={"render_workers": 2})
    jobs = plan_batch(config)
    prepare_batch_dir(choose_batch_dir(config, CONFIG_PATH, jobs), config)
    for workers in (0, "auto"):
        other = tiny_config(tmp_path, batch_name="mine", attention_analysis={"render_workers": workers})
        assert choose_batch_dir(other, CONFIG_PATH, jobs).mode == "resume"
    saved = tmp_path / "mine" / "config.yaml"
    saved.write_text(saved.read_text().replace("  render_workers: 2\n", ""))  # written before the key existed
    assert choose_batch_dir(config, CONFIG_PATH, jobs).mode == "resume"
    saved.write_text(saved.read_text() + "# 2 prompt(s) read from prompts_file:\n#   0: another prompt\n")
    with pytest.raises(ConfigError, match="holds a different config"):
        choose_batch_dir(config, CONFIG_PATH, jobs)


def test_overwrite_clears_only_that_batch_folder(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, batch_name="mine")
    jobs = plan_batch(config)
    prepare_batch_dir(choose_batch_dir(config, CONFIG_PATH, jobs), config)
    finish(tmp_path / "mine", config, jobs[0])
    (tmp_path / "neighbour").mkdir()
    (tmp_path / "neighbour" / "keep.txt").write_text("keep")
    (tmp_path / "mine_sibling.txt").write_text("keep")
    before = snapshot(tmp_path / "neighbour")

    changed = tiny_config(tmp_path, batch_name="mine", generation={"seed": 1})
    choice = choose_batch_dir(changed, CONFIG_PATH, jobs, overwrite=True)
    assert choice.mode == "overwrite"
    prepare_batch_dir(choice, changed)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["config.yaml"]
    assert (tmp_path / "mine" / "config.yaml").read_text() == dump_config(changed)
    assert snapshot(tmp_path / "neighbour") == before
    assert (tmp_path / "mine_sibling.txt").read_text() == "keep"

    # With a default name, --overwrite starts over in the newest batch of the config.
    out = tmp_path / "outputs"
    default = tiny_config(out)
    first = choose_batch_dir(default, CONFIG_PATH, jobs, now=T0)
    prepare_batch_dir(first, default)
    finish(first.path, default, jobs[0])
    again = choose_batch_dir(default, CONFIG_PATH, jobs, overwrite=True, now=T1)
    assert (again.mode, again.path) == ("overwrite", first.path)


def test_remove_leftovers_clears_one_video_and_nothing_else(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    job, other = plan_batch(config)[:2]
    for j in (job, other):
        finish(tmp_path, config, j)
        for word in j.words:
            for stage in ("per_video", "batch_end"):
                path = tmp_path / j.attention_video_path(word, "overlay", "mp4", stage)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"x")
    video = tmp_path / job.video_path
    (video.parent / f".{video.name}.tmp-abc123.mp4").write_bytes(b"half")  # a kill -9 mid-write
    kept = {k: v for k, v in snapshot(tmp_path).items() if other.video_id in k or "video_002" in k}

    remove_leftovers(tmp_path, job, "mp4")
    left = snapshot(tmp_path)
    assert not [k for k in left if job.video_id in k or "video_001" in k]
    assert {k: v for k, v in left.items() if k in kept} == kept
    assert default_prefix(Path("my demo (v2).yaml")) == "my_demo_v2"

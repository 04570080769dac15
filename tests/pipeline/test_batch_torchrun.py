"""Two processes under ``torchrun`` (gloo, CPU) share one batch: every video is made exactly once, each
rank's attention videos and report assets by its own render workers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.pipeline_support import REPO, batch_dirs, cli_env, tiny_data, write_config


@pytest.mark.slow
def test_two_ranks_split_the_batch_and_rank_0_merges_it(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    analysis = {"auto_generate_videos": True, "auto_generate_per_video": True, "generate_report": True}
    data = tiny_data(out, attention_analysis=analysis)  # per video on every rank, batch-end renders on rank 0
    data["generation"]["videos_per_prompt"] = 3  # 6 videos: 3 per rank
    config = write_config(tmp_path / "multi.yaml", data)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "attention_visual", "generate", str(config), "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=240)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    [batch] = batch_dirs(out)

    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["finished"]
    videos = manifest["videos"]
    assert len(videos) == 6 and all(v["status"] == "done" for v in videos)
    assert [v["rank"] for v in videos] == [i % 2 for i in range(6)]
    for v in videos:
        made = re.findall(rf"{v['video_id']} done \(rank (\d)", log)
        assert made == [str(v["index"] % 2)], f"{v['video_id']} was generated {len(made)} times"
        assert (batch / v["paths"]["video"]).is_file()
        assert (batch / "attention_maps" / v["video_id"] / "_complete.json").is_file()
        for stage in ("per_video", "batch_end"):
            renders = [r for r in v["renders"] if r["stage"] == stage]
            assert len(renders) == 2 * len(v["words"]) and all(r["status"] == "done" for r in renders)
            assert all((batch / r["path"]).is_file() for r in renders)
        assert not v["queued"] and (batch / "report/maps" / v["video_id"] / "assets.json").is_file()
    assert len(re.findall(r"rendering in \d+ worker process\(es\) beside the generation", log)) == 2  # one per rank
    assert sorted(p.name for p in (batch / "status").iterdir()) == sorted(f"{v['video_id']}.json" for v in videos)
    assert log.count("videos done") == 1  # only rank 0 prints the summary

"""End to end from the CLI on the tiny HunyuanVideo model: videos, maps, renders, report, ``stats``.

``configs/hunyuanvideo.yaml`` on ``tiny-hunyuan``: the dual-stream blocks in the files layout (with
``<text>``), the single-stream blocks with ``joint_attention: full`` in the packed store; bad input gets one
line, exit 2 and nothing created.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attention_visual.analysis import open_batch
from attention_visual.render.video_reader import probe_video
from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import REPO, batch_dirs
from support.cli import refused, run_main

CONFIG = REPO / "configs" / "hunyuanvideo.yaml"
TINY = ("--set", "generation.model_id=tiny-hunyuan", "--set", "generation.device=cpu",
        "--set", "generation.dtype=float32", "--set", "generation.height=32", "--set", "generation.width=48",
        "--set", "generation.num_frames=9", "--set", "generation.num_inference_steps=2",
        "--set", "prompts=['a small (dog) runs on the (beach)']", "--no-progress")  # fmt: skip


def generate(out: Path, *overrides: str) -> Path:
    done = run_main("generate", str(CONFIG), "--set", f"output_dir={out}", *TINY, *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    [batch] = batch_dirs(out)
    return batch


@pytest.mark.slow
def test_dual_stream_batch_with_renders_report_and_stats(tmp_path: Path) -> None:
    batch = generate(tmp_path / "out", "--set", "generation.videos_per_prompt=2")
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["counts"]["done"] == 2 and manifest["counts"]["render_failures"] == 0
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    for v in manifest["videos"]:
        assert v["words"] == ["dog", "beach", "<text>"]
        info = probe_video(batch / v["paths"]["video"])
        assert (info.width, info.height, info.frames, info.fps) == (48, 32, 9, 24.0)
        assert len(v["paths"]["attention_videos"]) == 2 * 3  # step video and overlay of each of the three maps
        for word in v["words"]:
            steps = analyzer.load_all_steps(v["video_id"], word)
            assert [s.metadata.step_index for s in steps] == [0, 1]
            meta = steps[0].metadata
            assert steps[0].attention_map.shape == (3, 2, 3)  # [frame, y, x]: the cond pass only
            assert (meta.family, meta.variant, meta.attention_kind, meta.joint_attention) == (
                "hunyuanvideo", "hunyuanvideo-t2v", "joint_dual", "text",
            )  # fmt: skip
            assert meta.blocks == ("transformer_blocks.0.attn", "transformer_blocks.1.attn")
            assert meta.latent_to_video_frames == ((0, 0), (1, 4), (5, 8))
    assert (batch / "report" / "index.html").is_file()
    done = run_main("stats", str(batch))
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(table.word) == {"dog", "beach", "<text>"} and set(table.video_id) == {
        v["video_id"] for v in manifest["videos"]
    }


@pytest.mark.slow
def test_single_stream_full_shares_into_the_packed_store(tmp_path: Path) -> None:
    batch = generate(
        tmp_path / "out",
        "--set", "attention_analysis.block_list=single_transformer_blocks",
        "--set", "attention_analysis.joint_attention=full", "--set", "attention_analysis.storage_format=zarr",
        "--set", "attention_analysis.generate_report=false",
    )  # fmt: skip
    ds = open_batch(batch)
    maps = ds["attention"].sel(word=["dog", "<text>"]).values  # [video, word, step, frame, y, x]
    assert maps.shape == (1, 2, 2, 3, 2, 3)
    dog, text = maps[:, 0], maps[:, 1]
    assert (dog <= text + 1e-6).all() and float(np.ptp(dog)) > 0  # a word's full share is part of the text share


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("--set", "generation.num_frames=80"), "generation.num_frames must be of the form 4k+1 for HunyuanVideo"),
        (("--set", "generation.height=40"), "generation.height must be a multiple of 16 for"),
        (("--set", "attention_analysis.guidance_pass=both"), "HunyuanVideo is guidance-distilled"),
        (("--set", "attention_analysis.image_map=true"), "image_map"),
        (("--set", "generation.pipeline=i2v"), "cannot run pipeline 'i2v'; it runs: t2v"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_created(
    tmp_path: Path, overrides: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    done = run_main("generate", str(CONFIG), "--set", f"output_dir={out}", *TINY, *overrides)
    assert message in refused(done, out)

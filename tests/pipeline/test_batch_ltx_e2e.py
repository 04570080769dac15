"""End to end: LTX-Video batches on the tiny models from the CLI (videos, maps, renders, report, stats, seeds).

``configs/ltx_video.yaml`` runs as its comment documents (``--set generation.model_id=tiny-ltx`` plus tiny
sizes); image-to-video and the condition pipeline run from configs written here, one of them into the
packed store. Bad LTX input is one line, exit 2, nothing created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import REPO, generate_batch, write_config
from support.cli import refused, run_main

EXAMPLE_IMAGE = REPO / "configs" / "inputs" / "example.png"
LTX_CONFIG = REPO / "configs" / "ltx_video.yaml"
TINY = {
    "generation.device": "cpu",
    "generation.height": 64,
    "generation.width": 96,
    "generation.num_frames": 17,
    "generation.num_inference_steps": 2,
    "attention_analysis.visualization_params.figsize": "[3, 2]",
    "attention_analysis.visualization_params.interpolation_steps": 0,
}


def _sets(**settings: Any) -> list[str]:
    return [arg for key, value in {**TINY, **settings}.items() for arg in ("--set", f"{key}={value}")]


@pytest.mark.slow
def test_text_to_video_batch_with_stats_and_seeds(tmp_path: Path) -> None:
    batch, manifest = generate_batch(
        LTX_CONFIG,
        tmp_path,
        *_sets(**{"generation.model_id": "tiny-ltx", "generation.videos_per_prompt": 2}),
        "--set",
        'prompts=["a small (dog) runs on the (beach)"]',
    )
    video = manifest["videos"][0]
    assert all((batch / v["paths"]["video"]).is_file() and v["paths"]["attention_videos"] for v in manifest["videos"])
    step = AttentionAnalyzer(batch / "attention_maps").load_step(video["video_id"], "dog", 0)
    m = step.metadata
    assert step.attention_map.shape == (3, 2, 3)  # [frame, y, x]: (17 - 1) / 8 + 1, 64 / 32, 96 / 32
    assert (m.family, m.variant, m.pixels_per_token, m.temporal_factor) == ("ltx", "ltx-video-t2v", 32, 8)
    assert m.video_dimensions.fps == 25.0 and m.video_dimensions.frames == 17  # the family's fps: the frame_rate
    assert [tuple(r) for r in m.latent_to_video_frames] == [(0, 0), (1, 8), (9, 16)]
    assert m.blocks == ("transformer_blocks.0.attn2", "transformer_blocks.1.attn2")
    assert run_main("stats", batch).returncode == 0
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(table["word"]) == {"dog", "beach"} and table["frame"].max() == 2
    done = run_main("seeds", batch, "--word", "dog")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (batch / "seed_videos" / "dog.mp4").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(("model_id", "pipeline"), [("tiny-ltx-i2v", "auto"), ("tiny-ltx", "condition")])
def test_image_conditioned_batches_into_the_packed_store(tmp_path: Path, model_id: str, pipeline: str) -> None:
    """The image is latent frame 0 (i2v) or a conditioning item at frame 0 (condition): labelled conditioning."""
    config = write_config(
        tmp_path / "job.yaml",
        {
            "prompts": [{"prompt": "the (sun) sets behind a green (hill)", "image": str(EXAMPLE_IMAGE)}],
            "generation": {"model_id": model_id, "pipeline": pipeline, "guidance_scale": 3.0},
            "attention_analysis": {"storage_format": "zarr", "guidance_pass": "both", "generate_report": True},
        },
    )
    batch, manifest = generate_batch(config, tmp_path / "out", *_sets())
    assert (batch / "attention_maps.zarr").is_dir() and not (batch / "attention_maps").exists()
    video = manifest["videos"][0]
    raw, metas = AttentionAnalyzer(batch / "attention_maps.zarr").raw_step_stack(video["video_id"], "sun")
    assert raw.shape == (2, 2, 3, 2, 3)  # [step, pass, frame, y, x]
    assert [m.conditioning_frames for m in metas] == [(0,), (0,)] and metas[0].passes == ("cond", "uncond")
    assets = json.loads((batch / "report" / "maps" / video["video_id"] / "assets.json").read_text())
    report = assets["words"]["sun"]["info"]
    assert report["frame_labels"][1].endswith("conditioning") and not report["frame_labels"][2].endswith("conditioning")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("generation.num_frames=16", "generation.num_frames must be of the form 8k+1 for LTX-Video (e.g. 81), got 16"),
        ("generation.height=48", "generation.height must be a multiple of 32 for LTX-Video, got 48"),
        ("attention_analysis.joint_attention=full", "LTX-Video has cross-attention"),
        ("generation.flow_shift=3.0", "generation.flow_shift is not used by LTX-Video"),
    ],
)
def test_bad_ltx_input_is_one_line_exit_2_nothing_created(tmp_path: Path, setting: str, message: str) -> None:
    out = tmp_path / "out"
    done = run_main(
        "generate", LTX_CONFIG, *_sets(**{"generation.model_id": "tiny-ltx"}), "--set", setting,
        "--set", f"output_dir={out}",
    )  # fmt: skip
    assert message in refused(done, out)

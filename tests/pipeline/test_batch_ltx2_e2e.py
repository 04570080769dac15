"""End to end: LTX-2 batches on the tiny models from the CLI (videos, maps, renders, report, stats).

``configs/ltx2.yaml`` runs as its comment documents (``--set generation.model_id=tiny-ltx2`` plus tiny sizes).
Image-to-video, and the condition pipeline with an image, need PyAV (the pipeline re-compresses the image with
H.264; ``av`` is a dev dependency, and without it the config check refuses the batch in one line:
``tests/pipeline/test_variant_checks.py``); a video condition does not. Bad LTX-2 input is one line, exit 2,
nothing created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import REPO, generate_batch, write_config
from support.cli import run_main
from support.maps import write_video

EXAMPLE_IMAGE = REPO / "configs" / "inputs" / "example.png"
LTX2_CONFIG = REPO / "configs" / "ltx2.yaml"
TINY = {
    "generation.model_id": "tiny-ltx2",
    "generation.device": "cpu",
    "generation.height": 64,
    "generation.width": 96,
    "generation.num_frames": 17,
    "generation.num_inference_steps": 2,
    "generation.max_sequence_length": 128,
    "attention_analysis.visualization_params.figsize": "[3, 2]",
    "attention_analysis.visualization_params.interpolation_steps": 0,
}


def _sets(**settings: Any) -> list[str]:
    return [arg for key, value in {**TINY, **settings}.items() for arg in ("--set", f"{key}={value}")]


@pytest.mark.slow
def test_text_to_video_batch_with_renders_report_and_stats(tmp_path: Path) -> None:
    batch, manifest = generate_batch(
        LTX2_CONFIG, tmp_path, *_sets(), "--set", 'prompts=["a small (dog) runs on the (beach) with (flowers)"]'
    )
    [video] = manifest["videos"]
    assert (batch / video["paths"]["video"]).is_file() and video["paths"]["attention_videos"]
    assert all((batch / p).is_file() for p in video["paths"]["attention_videos"])
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    step = analyzer.load_step(video["video_id"], "flowers", 1)
    m = step.metadata
    assert step.attention_map.shape == (3, 2, 3)  # [frame, y, x]: (17 - 1) / 8 + 1, 64 / 32, 96 / 32
    assert (m.family, m.variant, m.pixels_per_token, m.temporal_factor) == ("ltx2", "ltx2-t2v", 32, 8)
    assert m.video_dimensions.fps == 24.0 and m.video_dimensions.frames == 17  # the family's fps: the frame_rate
    assert [tuple(r) for r in m.latent_to_video_frames] == [(0, 0), (1, 8), (9, 16)]
    assert m.blocks == ("transformer_blocks.0.attn2", "transformer_blocks.1.attn2")
    assert m.token_pieces == ("▁flow", "ers") and m.token_indices == (9, 10)  # key columns: real tokens first
    assert m.step_index == 1 and m.passes == ("cond",)
    assets = json.loads((batch / "report" / "maps" / video["video_id"] / "assets.json").read_text())
    assert set(assets["words"]) == {"dog", "beach", "flowers"}
    assert run_main("stats", batch).returncode == 0
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(table["word"]) == {"dog", "beach", "flowers"} and table["frame"].max() == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_id", "pipeline", "given"),
    [("tiny-ltx2-i2v", "auto", "image"), ("tiny-ltx2", "condition", "image"), ("tiny-ltx2", "condition", "video")],
)
def test_conditioned_batches_hold_their_frames(tmp_path: Path, model_id: str, pipeline: str, given: str) -> None:
    """i2v: the image is latent frame 0; condition: the image or video overwrites the frames it covers (all 3)."""
    clip = (
        {"video": str(write_video(tmp_path / "clip.mp4", frames=17, width=96, height=64))} if given == "video" else {}
    )
    config = write_config(
        tmp_path / "job.yaml",
        {
            "prompts": [{"prompt": "the (sun) sets behind a green (hill)", **(clip or {"image": str(EXAMPLE_IMAGE)})}],
            "generation": {"model_id": model_id, "pipeline": pipeline, "guidance_scale": 3.0},
            "attention_analysis": {"storage_format": "zarr", "guidance_pass": "both"},
        },
    )
    out = tmp_path / "out"
    batch, manifest = generate_batch(config, out, *_sets(**{"generation.model_id": model_id}))
    raw, metas = AttentionAnalyzer(batch / "attention_maps.zarr").raw_step_stack(
        manifest["videos"][0]["video_id"], "sun"
    )
    assert raw.shape == (2, 2, 3, 2, 3)  # [step, pass, frame, y, x]
    held = (0, 1, 2) if given == "video" else (0,)  # 17 frames: every latent frame; an image: frame 0
    assert [m.conditioning_frames for m in metas] == [held, held] and metas[0].passes == ("cond", "uncond")
    assert metas[0].variant == ("ltx2-i2v" if pipeline == "auto" else "ltx2-condition")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("generation.num_frames=16", "generation.num_frames must be of the form 8k+1 for LTX-2 (e.g. 81), got 16"),
        ("generation.height=48", "generation.height must be a multiple of 32 for LTX-2, got 48"),
        ("generation.max_sequence_length=200", "generation.max_sequence_length must be a multiple of 128 for LTX-2"),
        ("attention_analysis.joint_attention=full", "LTX-2 has cross-attention"),
        ("generation.flow_shift=3.0", "generation.flow_shift is not used by LTX-2"),
        ("generation.pipeline=vace", "cannot run pipeline 'vace'; it runs: t2v, i2v, condition"),
    ],
)
def test_bad_ltx2_input_is_one_line_exit_2_nothing_created(tmp_path: Path, setting: str, message: str) -> None:
    out = tmp_path / "out"
    done = run_main("generate", LTX2_CONFIG, *_sets(), "--set", setting, "--set", f"output_dir={out}")
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()

"""End to end: a batch on every tiny Wan derivative from the CLI (videos, maps, renders, report, stats).

``configs/skyreels_v2_df.yaml`` and ``configs/chronoedit.yaml`` run as their comments document; the other
derivatives run from configs written here. Bad input for them is one line, exit 2, nothing created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import REPO, generate_batch, write_config
from support.cli import run_main

EXAMPLE_IMAGE = str(REPO / "configs" / "inputs" / "example.png")


def _sets(model_id: str, height: int, width: int, **more: Any) -> list[str]:
    settings = {
        "generation.model_id": model_id,
        "generation.device": "cpu",
        "generation.height": height,
        "generation.width": width,
        "generation.num_inference_steps": 2,
        "attention_analysis.visualization_params.figsize": "[3, 2]",
        "attention_analysis.visualization_params.interpolation_steps": 0,
        **more,
    }
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def _clip(path: Path, height: int, width: int) -> str:
    frames = np.zeros((9, height, width, 3), np.uint8)  # [frame, height, width, rgb]
    frames[..., 1] = np.arange(9)[:, None, None] * 25
    iio.imwrite(path, frames, fps=8, codec="libx264")
    return str(path)


def _config(tmp_path: Path, model_id: str, inputs: dict[str, Any], **generation: Any) -> Path:
    return write_config(
        tmp_path / f"{model_id}.yaml",
        {
            "prompts": [{"prompt": "a small (dog) runs on the (beach)", **inputs}],
            "generation": {"model_id": model_id, "num_frames": 5 if model_id == "tiny-chronoedit" else 9, **generation},
        },
    )


def _check_batch(batch: Path, manifest: dict[str, Any], variant: str, grid: tuple[int, int, int], fps: float) -> Any:
    video = manifest["videos"][0]
    assert (batch / video["paths"]["video"]).is_file() and video["paths"]["attention_videos"]
    steps = AttentionAnalyzer(batch / "attention_maps").load_all_steps(video["video_id"], video["words"][0])
    assert [s.attention_map.shape for s in steps] == [grid, grid]  # [frame, y, x] of both steps
    meta = steps[0].metadata
    assert (meta.family, meta.variant, meta.video_dimensions.fps) == ("wan", variant, fps)
    assert run_main("stats", batch).returncode == 0
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(table["word"]) >= {"dog", "beach"} and table["frame"].max() == grid[0] - 1
    return steps


def _example(tmp_path: Path, config: str, model_id: str, prompt: str, **more: Any) -> tuple[Path, dict[str, Any]]:
    """The example config ``configs/<config>`` on its tiny model at 32 x 48 px, with one prompt (YAML)."""
    return generate_batch(
        REPO / "configs" / config, tmp_path, *_sets(model_id, 32, 48, **more), "--set", f"prompts=[{prompt}]"
    )


@pytest.mark.slow
def test_skyreels_v2_diffusion_forcing_example_config(tmp_path: Path) -> None:
    more = {"generation.num_frames": 9, "generation.flow_shift": 3.0}
    batch, manifest = _example(
        tmp_path, "skyreels_v2_df.yaml", "tiny-skyreels-v2-df", '"a small (dog) runs on the (beach)"', **more
    )
    steps = _check_batch(batch, manifest, "skyreels-v2-df-t2v", (3, 2, 3), 24.0)
    assert [s.metadata.frame_timesteps for s in steps] == [(999.0,) * 3, (750.0,) * 3]  # synchronous: one row each


@pytest.mark.slow
def test_chronoedit_example_config(tmp_path: Path) -> None:
    prompt = '{"prompt": "a small (dog) runs on the (beach)", "image": "inputs/example.png"}'
    batch, manifest = _example(tmp_path, "chronoedit.yaml", "tiny-chronoedit", prompt)
    steps = _check_batch(batch, manifest, "chronoedit", (2, 2, 3), 16.0)
    assert steps[0].metadata.latent_to_video_frames == ((0, 0), (1, 4))  # the image, then its edit
    assert "<image>" in AttentionAnalyzer(batch / "attention_maps").get_available_words(
        manifest["videos"][0]["video_id"]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_id", "variant", "height", "width", "inputs", "generation"),
    [
        ("tiny-skyreels-v2", "skyreels-v2-t2v", 32, 48, {}, {}),
        ("tiny-skyreels-v2-i2v", "skyreels-v2-i2v", 32, 48, {"image": EXAMPLE_IMAGE}, {"max_sequence_length": 512}),
        ("tiny-skyreels-v2-df-i2v", "skyreels-v2-df-i2v", 32, 48, {"image": EXAMPLE_IMAGE}, {}),
        ("tiny-lucy-edit", "lucy-edit", 64, 96, {"video": "clip"}, {}),
    ],
)
def test_derivative_batches_from_a_config(
    tmp_path: Path,
    model_id: str,
    variant: str,
    height: int,
    width: int,
    inputs: dict[str, Any],
    generation: dict[str, Any],
) -> None:
    if inputs.get("video") == "clip":
        inputs = {"video": _clip(tmp_path / "clip.mp4", height, width)}
    config = _config(tmp_path, model_id, inputs, **generation)
    batch, manifest = generate_batch(config, tmp_path / "out", *_sets(model_id, height, width))
    steps = _check_batch(batch, manifest, variant, (3, 2, 3), 24.0)  # SkyReels-V2's and Lucy-Edit's fps
    video = manifest["videos"][0]
    if model_id == "tiny-skyreels-v2-df-i2v":
        assert steps[0].metadata.conditioning_frames == (0,) and steps[0].metadata.frame_timesteps[0] == 0.0
        assets = json.loads((batch / "report" / "maps" / video["video_id"] / "assets.json").read_text())
        assert assets["words"]["dog"]["info"]["frame_labels"][1].endswith("conditioning")
    if inputs:
        assert sorted(p.name for p in (batch / "inputs" / "prompt_001").iterdir()) == [
            f"{name}{Path(path).suffix}" for name, path in inputs.items()
        ]


@pytest.mark.parametrize(
    ("model_id", "setting", "message"),
    [
        ("tiny-chronoedit", "generation.num_frames=9", "generation.num_frames must be 5 for chronoedit"),
        ("tiny-skyreels-v2-i2v", "generation.max_sequence_length=32", "must be 512 for skyreels-v2-i2v"),
        ("tiny-lucy-edit", "generation.width=48", "generation.width must be a multiple of 32 for lucy-edit"),
    ],
)
def test_bad_derivative_input_is_one_line_exit_2_nothing_created(
    tmp_path: Path, model_id: str, setting: str, message: str
) -> None:
    out = tmp_path / "out"
    inputs = {"video": _clip(tmp_path / "clip.mp4", 64, 96)} if model_id == "tiny-lucy-edit" else {}
    if model_id != "tiny-lucy-edit":
        inputs = {"image": EXAMPLE_IMAGE}
    config = _config(tmp_path, model_id, inputs, max_sequence_length=512 if "i2v" in model_id else None)
    done = run_main(
        "generate", config, *_sets(model_id, 64 if "lucy" in model_id else 32, 96 if "lucy" in model_id else 48),
        "--set", setting, "--set", f"output_dir={out}",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()

"""End to end: every Wan variant's batch on its tiny model from the CLI, with capture, videos and report.

The four example configs run as documented (``--set generation.model_id=tiny-...`` plus tiny sizes);
video-to-video, first-last-frame and VACE run from configs written here. Each case checks the inputs
copied into the batch and shown in the report, and the expert / conditioning-frame labels. The CLI's
``main`` runs in the test process (a real process is what the kill, torchrun and console-script tests
are about).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest

from attention_visual.visualization import AttentionAnalyzer
from pipeline.pipeline_support import REPO, generate_batch, write_config

EXAMPLE_IMAGE = REPO / "configs" / "inputs" / "example.png"
ONE_PROMPT = ("--set", 'prompts=["a small (dog) runs on the beach"]')  # the text examples have two: one is enough


def _tiny(model_id: str, height: int, width: int, steps: int = 2) -> list[str]:
    settings = {
        "generation.model_id": model_id,
        "generation.device": "cpu",
        "generation.enable_model_cpu_offload": "false",
        "generation.height": height,
        "generation.width": width,
        "generation.num_frames": 9,
        "generation.num_inference_steps": steps,
        "generation.fps": 8,
        "attention_analysis.visualization_params.figsize": "[3, 2]",
        "attention_analysis.visualization_params.interpolation_steps": 0,
    }
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def _run(config: Path, out: Path, *overrides: str) -> tuple[Path, dict[str, Any]]:
    batch, manifest = generate_batch(config, out, *overrides)
    for video in manifest["videos"]:
        assert (batch / video["paths"]["video"]).is_file()
        assert video["paths"]["attention_videos"], video
    return batch, manifest


def _labels(batch: Path, video_id: str, word: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((batch / "report" / "maps" / video_id / "assets.json").read_text())
    return data["words"][word]["info"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_wan22_a14b_labels_both_experts(tmp_path: Path) -> None:
    batch, manifest = _run(
        REPO / "configs" / "wan22_t2v_a14b.yaml", tmp_path, *_tiny("tiny-wan22-a14b", 32, 48), *ONE_PROMPT
    )
    video = manifest["videos"][0]
    steps = AttentionAnalyzer(batch / "attention_maps").load_all_steps(video["video_id"], video["words"][0])
    assert [s.metadata.expert for s in steps] == ["high_noise", "low_noise"]
    labels = _labels(batch, video["video_id"], video["words"][0])["step_labels"]
    assert labels[0].endswith("high-noise expert") and labels[1].endswith("low-noise expert")
    assert not (batch / "inputs").exists()


@pytest.mark.slow
def test_ti2v_5b_text_to_video_has_32_pixel_tokens(tmp_path: Path) -> None:
    batch, manifest = _run(
        REPO / "configs" / "wan22_ti2v_5b.yaml", tmp_path, *_tiny("tiny-ti2v-5b", 64, 96), *ONE_PROMPT
    )
    video = manifest["videos"][0]
    step = AttentionAnalyzer(batch / "attention_maps").load_step(video["video_id"], video["words"][0], 0)
    assert step.attention_map.shape == (3, 2, 3)  # [frame, y, x]: 64/32 x 96/32
    assert step.metadata.pixels_per_token == 32


@pytest.mark.slow
def test_ti2v_5b_image_to_video_marks_the_input_frame(tmp_path: Path) -> None:
    batch, manifest = _run(REPO / "configs" / "wan22_ti2v_5b_i2v.yaml", tmp_path, *_tiny("tiny-ti2v-5b", 64, 96))
    assert (batch / "inputs" / "prompt_001" / "image.png").read_bytes() == EXAMPLE_IMAGE.read_bytes()
    video = manifest["videos"][0]
    frames = _labels(batch, video["video_id"], video["words"][0])["frame_labels"]
    assert frames[1].endswith("conditioning") and not frames[2].endswith("conditioning")
    html = (batch / "report" / "index.html").read_text()
    assert 'src="../inputs/prompt_001/image.png"' in html and "input image" in html


@pytest.mark.slow
def test_wan21_i2v_14b_with_the_image_map(tmp_path: Path) -> None:
    batch, manifest = _run(REPO / "configs" / "wan21_i2v_14b.yaml", tmp_path, *_tiny("tiny-i2v", 32, 48))
    video = manifest["videos"][0]
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    assert "<image>" in analyzer.get_available_words(video["video_id"])
    share = analyzer.load_step(video["video_id"], "<image>", 0)
    assert share.metadata.quantity == "image_share"
    assert share.attention_map.min() > 0 and share.attention_map.max() < 1
    assert (batch / "inputs" / "prompt_001" / "image.png").is_file()
    # <image> is rendered and shown like a word, but is not highlighted in the prompt text
    assert video["words"] == ["sun", "hill", "<image>"]
    assert manifest["prompts"][0]["words"] == ["sun", "hill"]
    rendered = {(r["word"], r["kind"]) for r in video["renders"] if r["status"] == "done"}
    assert {("<image>", "attention"), ("<image>", "overlay")} <= rendered
    assert all((batch / r["path"]).is_file() for r in video["renders"])
    # the video's card (a script the page loads) shows it escaped; no report file holds it raw
    card = (batch / "report" / "cards" / f"{video['video_id']}.js").read_text()
    assert "\\u0026lt;image\\u0026gt;" in card
    report_files = [p for p in (batch / "report").rglob("*") if p.suffix in {".html", ".js", ".svg"}]
    assert report_files and not any("<image>" in p.read_text() for p in report_files)


def _clip(path: Path) -> Path:
    frames = np.zeros((9, 32, 48, 3), np.uint8)  # [frame, height, width, rgb]
    frames[..., 0] = np.arange(9)[:, None, None] * 25
    iio.imwrite(path, frames, fps=8, codec="libx264")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_id", "pipeline", "inputs"),
    [
        ("tiny-v2v", "v2v", {"video": "clip.mp4", "strength": 0.5}),
        ("tiny-flf2v", "auto", {"image": str(EXAMPLE_IMAGE), "last_image": str(EXAMPLE_IMAGE)}),
        ("tiny-vace", "vace", {"video": "clip.mp4", "reference_images": [str(EXAMPLE_IMAGE)]}),
    ],
)
def test_other_variants_from_a_config(tmp_path: Path, model_id: str, pipeline: str, inputs: dict[str, Any]) -> None:
    _clip(tmp_path / "clip.mp4")
    config = write_config(
        tmp_path / "job.yaml",
        {
            "prompts": [{"prompt": "a red (car) on the (road)", **inputs}],
            "generation": {
                "pipeline": pipeline,
                "max_sequence_length": 512 if model_id == "tiny-flf2v" else 32,
            },
        },
    )
    steps = 4 if pipeline == "v2v" else 2
    batch, manifest = _run(config, tmp_path / "out", *_tiny(model_id, 32, 48, steps))
    video = manifest["videos"][0]
    steps = AttentionAnalyzer(batch / "attention_maps").load_all_steps(video["video_id"], "car")
    copied = sorted(p.name for p in (batch / "inputs" / "prompt_001").iterdir())
    if pipeline == "v2v":
        assert len(steps) == 2 and copied == ["video.mp4"]  # strength 0.5 of 4 steps
    elif pipeline == "vace":
        assert steps[0].metadata.conditioning_frames == (0,)  # one reference image: latent frame 0
        assert copied == ["reference_images_0.png", "video.mp4"]
    else:
        assert copied == ["image.png", "last_image.png"]

"""End to end from the CLI on the tiny CogVideoX models: videos, maps, renders, report, ``stats``, ``seeds``.

``configs/cogvideox_5b.yaml`` (guidance_pass both, <text>) on ``tiny-cogvideox1.5`` in the files layout and on
``tiny-cogvideox-i2v`` (an input image, ``joint_attention: full``) in the packed store; bad input gets one
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

CONFIG = REPO / "configs" / "cogvideox_5b.yaml"
TINY = ("--set", "generation.device=cpu", "--set", "generation.dtype=float32", "--set", "generation.height=32",
        "--set", "generation.width=48", "--set", "generation.num_inference_steps=2", "--no-progress")  # fmt: skip


def generate(out: Path, *overrides: str) -> Path:
    done = run_main("generate", str(CONFIG), "--set", f"output_dir={out}", *TINY, *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    [batch] = batch_dirs(out)
    return batch


@pytest.mark.slow
def test_cogvideox_1_5_batch_with_renders_report_stats_and_seeds(tmp_path: Path) -> None:
    batch = generate(
        tmp_path / "out",
        "--set", "generation.model_id=tiny-cogvideox1.5", "--set", "generation.num_frames=17",
        "--set", "generation.videos_per_prompt=2", "--set", "prompts=['a small (dog) runs on the (beach)']",
    )  # fmt: skip
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["counts"]["done"] == 2 and manifest["counts"]["render_failures"] == 0
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    for v in manifest["videos"]:
        assert v["words"] == ["dog", "beach", "<text>"]
        info = probe_video(batch / v["paths"]["video"])
        assert (info.width, info.height, info.frames, info.fps) == (48, 32, 17, 16.0)  # 1.5: 16 fps
        assert len(v["paths"]["attention_videos"]) == 2 * 3  # step video and overlay of each of the three maps
        for word in v["words"]:
            steps = analyzer.load_all_steps(v["video_id"], word)
            assert [s.metadata.step_index for s in steps] == [0, 1]
            meta = steps[0].metadata
            assert steps[0].attention_map.shape == (2, 3, 2, 3)  # [pass, frame, y, x]
            assert (meta.family, meta.variant, meta.joint_attention) == ("cogvideox", "cogvideox1.5-5b", "text")
            assert meta.quantity == ("text_share" if word == "<text>" else "text_attention")
            # 5 latent frames + 1 padding frame in front: map frame 0 covers video frame 0 only
            assert meta.latent_to_video_frames == ((0, 0), (1, 8), (9, 16))
            assert meta.blocks == ("transformer_blocks.0.attn1", "transformer_blocks.1.attn1")
        # the video's card (a script the report page loads) shows <text> escaped
        card = (batch / "report" / "cards" / f"{v['video_id']}.js").read_text(encoding="utf-8")
        assert "\\u0026lt;text\\u0026gt;" in card
    report_files = [p for p in (batch / "report").rglob("*") if p.suffix in {".html", ".js", ".svg"}]
    assert report_files and not any("<text>" in p.read_text(encoding="utf-8") for p in report_files)

    done = run_main("stats", str(batch))
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert set(table.word) == {"dog", "beach", "<text>"} and set(table.video_id) == {
        v["video_id"] for v in manifest["videos"]
    }
    done = run_main("seeds", str(batch), "--word", "dog")
    assert done.returncode == 0, done.stderr[-2000:]
    assert probe_video(Path(done.stdout.strip().splitlines()[-1])).frames > 0


@pytest.mark.slow
def test_cogvideox_image_to_video_into_the_packed_store(tmp_path: Path) -> None:
    image = REPO / "configs" / "inputs" / "example.png"
    batch = generate(
        tmp_path / "out",
        "--set", "generation.model_id=tiny-cogvideox-i2v", "--set", "generation.num_frames=9",
        "--set", f"prompts=[{{prompt: 'a (dog) on the beach', image: {image}}}]",
        "--set", "attention_analysis.storage_format=zarr", "--set", "attention_analysis.joint_attention=full",
        "--set", "attention_analysis.generate_report=false",
    )  # fmt: skip
    assert (batch / "attention_maps.zarr").is_dir() and (batch / "inputs" / "prompt_001" / "image.png").is_file()
    ds = open_batch(batch)
    maps = ds["attention"].sel(word=["dog", "<text>"]).values  # [video, word, step, pass, frame, y, x]
    assert maps.shape == (1, 2, 2, 2, 3, 2, 3)
    dog, text = maps[:, 0], maps[:, 1]
    assert (dog <= text + 1e-6).all() and float(np.ptp(dog)) > 0  # a word's full share is part of the text share


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("--set", "generation.num_frames=80"), "generation.num_frames must be of the form 4k+1 for CogVideoX"),
        (("--set", "generation.height=40"), "generation.height must be a multiple of 16 for"),
        (("--set", "generation.flow_shift=3.0"), "generation.flow_shift is not used by CogVideoX"),
        (("--set", "generation.pipeline=flf2v"), "pipeline 'flf2v' is not one of"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_created(
    tmp_path: Path, overrides: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    done = run_main(
        "generate", str(CONFIG), "--set", f"output_dir={out}", "--set", "generation.model_id=tiny-cogvideox",
        *TINY, *overrides,
    )  # fmt: skip
    assert message in refused(done, out)


def test_an_unsupported_pipeline_names_the_supported_families(tmp_path: Path) -> None:
    folder = tmp_path / "mochi"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "MochiPipeline"}))
    out = tmp_path / "out"
    done = run_main(
        "generate", str(CONFIG), "--set", f"output_dir={out}", "--set", f"generation.model_id={folder}", *TINY
    )
    line = refused(done, out)
    assert "MochiPipeline" in line and "Wan (WanPipeline" in line and "CogVideoX (CogVideoXPipeline" in line
    assert "LTX-Video (LTXPipeline" in line

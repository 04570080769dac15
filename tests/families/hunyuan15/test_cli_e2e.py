"""End to end from the CLI on the tiny HunyuanVideo-1.5 models: videos, maps, renders, report, ``stats``.

``configs/hunyuan15_480p.yaml`` (guidance_pass both, ``<text>``, ``<glyph>``) on ``tiny-hunyuan15`` in the
files layout and on ``tiny-hunyuan15-i2v`` (an input image, ``<image>``, ``joint_attention: full``) in the
packed store; bad input gets one line, exit 2 and nothing created.
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

CONFIG = REPO / "configs" / "hunyuan15_480p.yaml"
TINY = ("--set", "generation.device=cpu", "--set", "generation.dtype=float32", "--set", "generation.height=32",
        "--set", "generation.width=48", "--set", "generation.num_frames=9",
        "--set", "generation.num_inference_steps=2", "--no-progress")  # fmt: skip


def generate(out: Path, *overrides: str) -> Path:
    done = run_main("generate", str(CONFIG), "--set", f"output_dir={out}", *TINY, *overrides)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    [batch] = batch_dirs(out)
    return batch


@pytest.mark.slow
def test_text_to_video_batch_with_renders_report_and_stats(tmp_path: Path) -> None:
    batch = generate(tmp_path / "out", "--set", "generation.model_id=tiny-hunyuan15")
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["counts"]["done"] == 2 and manifest["counts"]["render_failures"] == 0
    analyzer = AttentionAnalyzer(batch / "attention_maps")
    words = {1: ["kiss", "flowers", "<text>", "<glyph>"], 2: ["dog", "beach", "<text>", "<glyph>"]}
    for v in manifest["videos"]:
        assert v["words"] == words[v["prompt_index"]]
        info = probe_video(batch / v["paths"]["video"])
        assert (info.width, info.height, info.frames, info.fps) == (48, 32, 9, 24.0)  # HunyuanVideo-1.5: 24 fps
        assert len(v["paths"]["attention_videos"]) == 2 * 4  # step video and overlay of each map
        for word in v["words"]:
            steps = analyzer.load_all_steps(v["video_id"], word)
            assert [s.metadata.step_index for s in steps] == [0, 1]
            meta = steps[0].metadata
            assert steps[0].attention_map.shape == (2, 3, 2, 3)  # [pass, frame, y, x]
            assert (meta.family, meta.variant, meta.joint_attention) == ("hunyuan15", "hunyuanvideo1.5-t2v", "text")
            quantity = {"<text>": "text_share", "<glyph>": "glyph_share"}.get(word, "text_attention")
            assert meta.quantity == quantity and meta.passes == ("cond", "uncond")
            assert meta.latent_to_video_frames == ((0, 0), (1, 4), (5, 8))
            assert meta.blocks == ("transformer_blocks.0.attn", "transformer_blocks.1.attn")
        glyph = analyzer.load_aggregated(v["video_id"], "<glyph>").attention_map  # [pass, frame, y, x]
        assert (float(glyph[0].max()) > 0) == (v["prompt_index"] == 2) and not glyph[1].any()  # quoted text only
    # each video's card (a script the page loads) shows <glyph> escaped; no report file holds it raw
    for v in manifest["videos"]:
        card = (batch / "report" / "cards" / f"{v['video_id']}.js").read_text(encoding="utf-8")
        assert "\\u0026lt;glyph\\u0026gt;" in card
    report_files = [p for p in (batch / "report").rglob("*") if p.suffix in {".html", ".js", ".svg"}]
    assert report_files and not any("<glyph>" in p.read_text(encoding="utf-8") for p in report_files)

    done = run_main("stats", str(batch))
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_parquet(batch / "analysis" / "stats.parquet")
    assert {"kiss", "dog", "<text>", "<glyph>"} <= set(table.word)
    assert set(table.video_id) == {v["video_id"] for v in manifest["videos"]}


@pytest.mark.slow
def test_image_to_video_into_the_packed_store(tmp_path: Path) -> None:
    image = REPO / "configs" / "inputs" / "example.png"
    batch = generate(
        tmp_path / "out",
        "--set", "generation.model_id=tiny-hunyuan15-i2v",
        "--set", f"prompts=[{{prompt: 'a (dog) on the beach', image: {image}}}]",
        "--set", "attention_analysis.storage_format=zarr", "--set", "attention_analysis.joint_attention=full",
        "--set", "attention_analysis.image_map=true", "--set", "attention_analysis.glyph_map=false",
        "--set", "attention_analysis.generate_report=false",
    )  # fmt: skip
    assert (batch / "attention_maps.zarr").is_dir() and (batch / "inputs" / "prompt_001" / "image.png").is_file()
    [video] = json.loads((batch / "manifest.json").read_text())["videos"]
    assert probe_video(batch / video["paths"]["video"]).width == 48
    ds = open_batch(batch)
    maps = ds["attention"].sel(word=["dog", "<text>", "<image>"]).values  # [video, word, step, pass, frame, y, x]
    assert maps.shape == (1, 3, 2, 2, 3, 2, 3)
    dog, text, picture = maps[:, 0], maps[:, 1], maps[:, 2]
    assert (dog <= text + 1e-6).all() and float(np.ptp(dog)) > 0  # a word's full share is part of the text share
    assert (text + picture <= 1 + 1e-6).all() and float(picture.min()) > 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("--set", "generation.num_frames=80"), "generation.num_frames must be of the form 4k+1 for HunyuanVideo-1.5"),
        (("--set", "generation.height=40"), "generation.height must be a multiple of 16 for"),
        (("--set", "generation.max_sequence_length=512"), "generation.max_sequence_length must be"),
        (("--set", "generation.pipeline=i2v"), "cannot run pipeline 'i2v'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_created(
    tmp_path: Path, overrides: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    done = run_main(
        "generate", str(CONFIG), "--set", f"output_dir={out}", "--set", "generation.model_id=tiny-hunyuan15",
        *TINY, *overrides,
    )  # fmt: skip
    assert message in refused(done, out)


def test_glyph_map_on_a_family_without_glyph_keys_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_main(
        "generate", str(CONFIG), "--set", f"output_dir={out}", "--set", "generation.model_id=tiny", *TINY,
        "--set", "attention_analysis.text_share_map=false",
    )  # fmt: skip
    line = refused(done, out)
    assert "attention_analysis.glyph_map needs glyph keys" in line and "Wan" in line

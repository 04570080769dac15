"""End to end: ``attention-visual generate configs/tiny_demo.yaml``, every output checked.

The run is the session's shared tiny demo batch (``tiny_demo`` in tests/conftest.py: the CLI's ``main``
in the test process, once per test run); ``python -m attention_visual`` as a real process is covered
by the kill/resume, torchrun and console-script tests.
"""

from __future__ import annotations

import json

import pytest

from attention_visual.config import dump_config, load_config
from attention_visual.render.video_reader import probe_video, read_frames
from attention_visual.visualization import AttentionAnalyzer
from support.tiny_demo import BUDGET_S, TINY_DEMO_CONFIG, TinyDemo


@pytest.mark.slow
def test_the_tiny_demo_produces_the_documented_layout(tiny_demo: TinyDemo) -> None:
    done, batch = tiny_demo.run, tiny_demo.batch
    assert done.returncode == 0, done.stderr[-3000:]
    assert batch.name.startswith("tiny_demo_")
    assert "4 of 4 videos done" in done.stdout and str(batch) in done.stdout
    print(f"tiny demo: {tiny_demo.wall_s:.1f} s wall, {tiny_demo.cpu_s:.1f} CPU s (budget {BUDGET_S:.0f} s wall)")

    config = load_config(TINY_DEMO_CONFIG, overrides=list(tiny_demo.overrides))
    assert (batch / "config.yaml").read_text() == dump_config(config)

    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["batch_name"] == batch.name
    assert manifest["model_id"] == "tiny" and manifest["world_size"] == 1 and manifest["finished"]
    assert {"torch", "diffusers", "transformers", "attention_visual", "python"} <= set(manifest["versions"])
    assert manifest["config_path"] == str(TINY_DEMO_CONFIG)
    assert manifest["counts"] == {"done": 4, "failed": 0, "pending": 0, "interrupted": 0, "render_failures": 0}
    assert [p["words"] for p in manifest["prompts"]] == [["kiss", "flowers"], ["dog", "beach", "sky"]]
    videos = manifest["videos"]
    assert [v["video_id"] for v in videos] == [
        "prompt_001_vid_001", "prompt_001_vid_002", "prompt_002_vid_001", "prompt_002_vid_002",
    ]  # fmt: skip
    assert [v["seed"] for v in videos] == [42, 43, 44, 45]

    analyzer = AttentionAnalyzer(batch / "attention_maps")
    assert analyzer.get_available_videos() == [v["video_id"] for v in videos]
    for v in videos:
        assert v["status"] == "done" and v["error"] is None
        folder = f"videos/prompt_{v['prompt_index']:03d}"
        assert v["paths"]["video"] == f"{folder}/video_{v['video_index']:03d}.mp4"
        assert v["paths"]["attention_maps"] == f"attention_maps/{v['video_id']}"
        info = probe_video(batch / v["paths"]["video"])
        assert (info.codec, info.width, info.height, info.frames, info.fps) == ("h264", 192, 128, 17, 8.0)
        frames = list(read_frames(batch / v["paths"]["video"], info))
        assert len(frames) == 17 and frames[0].shape == (128, 192, 3)

        expected = {
            f"{prefix}{v['video_id']}_{word}_{kind}.mp4"
            for prefix in (f"{folder}/attention_videos/", "attention_videos/")
            for word in v["words"]
            for kind in ("attention", "overlay")
        }
        assert set(v["paths"]["attention_videos"]) == expected
        for rel in expected:
            rendered = probe_video(batch / rel)
            assert rendered.codec == "h264" and rendered.frames > 0
            assert next(iter(read_frames(batch / rel, rendered))).shape == (rendered.height, rendered.width, 3)

        assert analyzer.is_complete(v["video_id"])
        assert analyzer.get_available_words(v["video_id"]) == sorted(v["words"])
        for word in v["words"]:
            steps = analyzer.load_all_steps(v["video_id"], word)
            assert [s.metadata.step_index for s in steps] == [0, 1, 2, 3]
            assert steps[0].attention_map.shape == (5, 8, 12)  # [frame, y, x]
            meta = steps[0].metadata
            assert (meta.seed, meta.model_id, meta.marked_prompt) == (v["seed"], "tiny", v["marked_prompt"])
            assert (meta.video_dimensions.width, meta.video_dimensions.height) == (192, 128)
            assert meta.video_dimensions.frames == 17 and meta.video_dimensions.fps == 8
            assert analyzer.load_aggregated(v["video_id"], word).attention_map.shape == (5, 8, 12)

    status_files = sorted(p.name for p in (batch / "status").iterdir())
    assert status_files == [f"{v['video_id']}.json" for v in videos]
    assert not [p for p in batch.rglob("*") if ".tmp-" in p.name]


@pytest.mark.timing
def test_the_tiny_demo_runs_within_its_budget(tiny_demo: TinyDemo) -> None:
    """The README's first command takes well under its budget (wall clock: ``make soak`` runs it, on its own)."""
    assert tiny_demo.wall_s < BUDGET_S, f"{tiny_demo.wall_s:.0f} s wall, {tiny_demo.cpu_s:.0f} CPU s"

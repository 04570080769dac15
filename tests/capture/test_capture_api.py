"""The capture's contract: hooks restored exactly, misuse refused clearly, saves in the store layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.errors import CaptureError, PromptError
from attention_visual.models import TINY_DEFAULTS
from attention_visual.visualization import AttentionAnalyzer

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
MSL = TINY_DEFAULTS.max_sequence_length


def snapshot(pipe: Any) -> dict[str, Any]:
    """Everything a hook could change: per-module attributes and hook dicts."""
    state: dict[str, Any] = {}
    for root_name in ("transformer", "text_encoder"):
        for name, module in getattr(pipe, root_name).named_modules():
            key = f"{root_name}.{name}"
            state[key] = (
                sorted(vars(module).keys()),
                len(module._forward_hooks),
                len(module._forward_pre_hooks),
                "forward" in vars(module),
            )
    registry = getattr(pipe.transformer, "_diffusers_hook", None)
    state["registry"] = None if registry is None else list(registry.hooks)
    return state


def generate(pipe: Any, prompt: str, **kw: Any) -> Any:
    kwargs = {**TINY_DEFAULTS.call_kwargs(), "output_type": "latent", **kw}
    return pipe(prompt=prompt, generator=torch.Generator().manual_seed(0), **kwargs)


def test_pipeline_is_restored_exactly(tiny_pipe: Any) -> None:
    generate(tiny_pipe, "warm up")  # the pipeline itself creates its hook registry on first use
    before = snapshot(tiny_pipe)
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap:
        assert snapshot(tiny_pipe) != before
        generate(tiny_pipe, cap.prompt)
    assert snapshot(tiny_pipe) == before


def test_restored_on_exception(tiny_pipe: Any) -> None:
    before = snapshot(tiny_pipe)
    with pytest.raises(ZeroDivisionError), AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL):
        raise ZeroDivisionError
    assert snapshot(tiny_pipe) == before


def test_fresh_pipeline_without_registry_is_restored(fresh_tiny_pipe: Any) -> None:
    before = snapshot(fresh_tiny_pipe)
    with AttentionCapture(fresh_tiny_pipe, PROMPT, max_sequence_length=MSL):
        pass
    assert snapshot(fresh_tiny_pipe) == before


def test_entering_twice_is_an_error(tiny_pipe: Any) -> None:
    cap = AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL)
    with cap, pytest.raises(CaptureError, match="already entered"), cap:
        pass
    other = AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL)
    with (
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL),
        pytest.raises(CaptureError, match="already active"),
        other,
    ):
        pass


def test_batched_calls_are_refused(tiny_pipe: Any) -> None:
    with (
        pytest.raises(CaptureError, match="one video per pipeline call"),
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap,
    ):
        generate(tiny_pipe, cap.prompt, num_videos_per_prompt=2)
    with (
        pytest.raises(CaptureError, match="one video per pipeline call"),
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap,
    ):
        generate(tiny_pipe, [cap.prompt, cap.prompt])


def test_wrong_prompt_or_length_is_refused(tiny_pipe: Any) -> None:
    with (
        pytest.raises(CaptureError, match=r"other than capture.prompt"),
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL),
    ):
        generate(tiny_pipe, "a dog on a road")
    with (
        pytest.raises(CaptureError, match="max_sequence_length"),
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap,
    ):
        generate(tiny_pipe, cap.prompt, max_sequence_length=MSL + 8)


def test_second_generation_in_one_capture_is_refused(tiny_pipe: Any) -> None:
    with (
        pytest.raises(CaptureError, match="already captured"),
        AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap,
    ):
        generate(tiny_pipe, cap.prompt)
        generate(tiny_pipe, cap.prompt)


def test_bad_settings_and_blocks(tiny_pipe: Any) -> None:
    with pytest.raises(CaptureError, match="guidance_pass"):
        CaptureSettings(guidance_pass="neg")
    with pytest.raises(CaptureError, match="storage_interval"):
        CaptureSettings(storage_interval=0)
    with pytest.raises(CaptureError, match=r"blocks \[5\] do not exist"):
        AttentionCapture(tiny_pipe, PROMPT, CaptureSettings(blocks=(0, 5)), max_sequence_length=MSL)
    with pytest.raises(PromptError):
        AttentionCapture(tiny_pipe, "a (kiss", max_sequence_length=MSL)
    with (
        pytest.raises(CaptureError, match="does not divide"),
        AttentionCapture(tiny_pipe, PROMPT, CaptureSettings(spatial_downsample_factor=2), max_sequence_length=MSL) as c,
    ):
        generate(tiny_pipe, c.prompt)


def test_uncond_without_guidance_reports_nothing_captured(tiny_pipe: Any) -> None:
    settings = CaptureSettings(guidance_pass="uncond")
    with AttentionCapture(tiny_pipe, PROMPT, settings, max_sequence_length=MSL) as cap:
        generate(tiny_pipe, cap.prompt, guidance_scale=1.0)
    with pytest.raises(CaptureError, match="guidance_scale > 1"):
        cap.word_maps()


def test_maps_before_generation_are_an_error(tiny_pipe: Any) -> None:
    cap = AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL)
    with pytest.raises(CaptureError, match="nothing captured yet"):
        cap.word_maps()


def test_save_writes_the_store_layout(tiny_pipe: Any, tmp_path: Path) -> None:
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=MSL) as cap:
        generate(tiny_pipe, cap.prompt)
    root = tmp_path / "attention_maps"
    cap.save(root, "prompt_001_vid_001", model_id="tiny", seed=0)
    video = root / "prompt_001_vid_001"
    assert sorted(p.name for p in (video / "kiss").iterdir()) == [
        "step_000.npz",
        "step_000_metadata.json",
        "step_001.npz",
        "step_001_metadata.json",
    ]
    assert (video / "aggregated" / "flowers_aggregated.npz").is_file()
    assert (video / "_complete.json").is_file()
    an = AttentionAnalyzer(root)
    info = an.load_step("prompt_001_vid_001", "kiss", 1)
    np.testing.assert_allclose(info.attention_map, cap.word_maps()["kiss"][1])
    meta = info.metadata
    assert meta.video_dimensions.width == 48 and meta.video_dimensions.height == 32
    assert meta.video_dimensions.frames == 9
    assert meta.token_grid.frames == 3 and (meta.token_grid.height, meta.token_grid.width) == (2, 3)
    assert meta.token_pieces == ("▁ki", "ss") and meta.clean_prompt == cap.prompt
    assert meta.marked_prompt == PROMPT and meta.char_spans == ((11, 15),)
    assert meta.blocks == ("blocks.0.attn2", "blocks.1.attn2")
    assert meta.timestep == cap.records[1].timestep and meta.step_index == 1
    assert meta.latent_to_video_frames == ((0, 0), (1, 4), (5, 8))
    agg = an.load_aggregated("prompt_001_vid_001", "kiss")
    np.testing.assert_allclose(agg.attention_map, cap.word_maps()["kiss"].mean(axis=0), atol=1e-7)
    with pytest.raises(CaptureError, match="already exist"):
        cap.save(root, "prompt_001_vid_001")


def test_save_per_head_float16_torch(tiny_pipe: Any, tmp_path: Path) -> None:
    settings = CaptureSettings(store_per_head=True, storage_dtype="float16")
    with AttentionCapture(tiny_pipe, PROMPT, settings, max_sequence_length=MSL) as cap:
        generate(tiny_pipe, cap.prompt)
    cap.save(tmp_path, "v1", storage_format="torch")
    info = AttentionAnalyzer(tmp_path).load_step("v1", "flowers", 0)
    assert info.path.suffix == ".pt"
    assert info.attention_map.dtype == np.float16
    assert info.metadata.axes == ("head", "frame", "y", "x")
    assert info.metadata.reduction.heads == "kept"

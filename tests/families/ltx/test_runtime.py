"""The LTX-Video family's torch side: ``attn2`` and its mask, reading a packed call, the grid from coordinates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families import family_named
from attention_visual.families.interface import CallArgs
from attention_visual.families.runtime import describe_pipeline, runtime_of
from attention_visual.models import load_pipeline
from attention_visual.models.tiny_ltx import DYNAMIC_SHIFT_SCHEDULER, build_tiny_ltx, build_tiny_ltx_condition

LTX = family_named("ltx")
RUNTIME: Any = runtime_of(LTX)  # the module: its helpers too


@pytest.fixture(scope="module")
def ltx() -> Any:
    return build_tiny_ltx(0)


def test_variants_of_the_three_pipelines(ltx: Any) -> None:
    variant = describe_pipeline(ltx)
    assert (variant.name, variant.pixels_per_cell, variant.temporal_factor, variant.guidance) == (
        "ltx-video-t2v", 32, 8, "batched",
    )  # fmt: skip
    assert variant.batch_passes == ("uncond", "cond") and variant.step_source == "counted"
    assert describe_pipeline(build_tiny_ltx_condition(0)).name == "ltx-video-condition"
    assert LTX.frame_count_rule == "8k+1" and LTX.accepts_frame_count(121) and not LTX.accepts_frame_count(81 + 4)


def test_locator_names_every_block(ltx: Any) -> None:
    variant = describe_pipeline(ltx)
    found = RUNTIME.locate(ltx.transformer, variant, "transformer_blocks")
    assert [site.name for site in found] == ["transformer_blocks.0.attn2", "transformer_blocks.1.attn2"]
    assert all(site.module is ltx.transformer.transformer_blocks[site.index].attn2 for site in found)
    with pytest.raises(CaptureError, match="not an LTX-Video transformer"):
        RUNTIME.locate(nn.Linear(2, 2), variant, "transformer_blocks")
    block = nn.Module()
    block.attn2 = nn.Linear(2, 2)
    model = nn.Module()
    model.transformer_blocks = nn.ModuleList([block])
    with pytest.raises(CaptureError, match=r"transformer_blocks\.0\.attn2 .* no norm_q/norm_k"):
        RUNTIME.locate(model, variant, "transformer_blocks")


def test_the_probe_reads_the_mask_the_block_passes(ltx: Any) -> None:
    variant = describe_pipeline(ltx)
    probe = RUNTIME.probe(variant, image_map=False)
    assert [(p.slot, p.path, p.when) for p in probe.points] == [
        ("call", "", "call"), ("query", "norm_q", "output"), ("key", "norm_k", "output"),
    ]  # fmt: skip
    q, k = torch.zeros(2, 18, 24), torch.zeros(2, 5, 24)
    bias = torch.tensor([[0.0, 0.0, -10000.0, -10000.0, -10000.0], [0.0] * 4 + [-10000.0]])[:, None]  # [2, 1, 5]
    kwargs = {"encoder_hidden_states": None, "attention_mask": bias}
    inputs = probe.measures[0].build({"call": CallArgs((q,), kwargs), "query": q, "key": k})
    assert inputs.kind == "cross" and torch.equal(inputs.key_bias, bias[:, 0])
    positional = probe.measures[0].build({"call": CallArgs((q, None, bias), {}), "query": q, "key": k})
    assert torch.equal(positional.key_bias, bias[:, 0])
    unmasked = probe.measures[0].build({"call": CallArgs((q,), {}), "query": q, "key": k})
    assert torch.equal(unmasked.key_bias, torch.zeros(2, 5))  # no mask: every key attended, as the model does
    with pytest.raises(CaptureError, match=r"per-key bias \[batch, 1, 5\]"):
        probe.measures[0].build(
            {"call": CallArgs((q,), {"attention_mask": torch.zeros(2, 18, 5)}), "query": q, "key": k}
        )
    with pytest.raises(CaptureError, match="image_map needs an attention with an image branch; ltx-video-t2v has none"):
        RUNTIME.probe(variant, image_map=True)


def test_a_packed_call_is_read_from_its_grid_arguments(ltx: Any) -> None:
    variant = describe_pipeline(ltx)
    hidden, t = torch.zeros(2, 18, 8), torch.full((2,), 500.0)
    call = RUNTIME.read_call(
        variant, ltx.transformer, (), {"hidden_states": hidden, "timestep": t, "num_frames": 3, "height": 2, "width": 3}
    )
    assert (call.batch, call.grid, call.drop_leading_frames, call.conditioning_frames) == (2, (3, 2, 3), 0, None)
    positional = RUNTIME.read_call(variant, ltx.transformer, (hidden, None, t, None, 3, 2, 3), {})
    assert positional.grid == (3, 2, 3)
    with pytest.raises(CaptureError, match="18 video tokens for a grid of \\(3, 2, 2\\)"):
        RUNTIME.read_call(variant, ltx.transformer, (hidden, None, t, None, 3, 2, 2), {})
    with pytest.raises(CaptureError, match="neither num_frames/height/width nor video_coords"):
        RUNTIME.read_call(variant, ltx.transformer, (hidden,), {})
    per_token = torch.full((2, 18), 500.0)
    per_token[:, :6] = 0.0  # the image latent of LTXImageToVideoPipeline: t · (1 − mask)
    i2v = RUNTIME.read_call(variant, ltx.transformer, (hidden, None, per_token, None, 3, 2, 3), {})
    assert i2v.conditioning_frames == (0,)


def coords(frames: list[float], rows: int = 2, cols: int = 3, px: int = 32) -> torch.Tensor:
    """``[3, token]`` video coordinates of whole frames at the given times (seconds), frame-major."""
    y, x = torch.meshgrid(torch.arange(float(rows)), torch.arange(float(cols)), indexing="ij")
    per_frame = [torch.stack([torch.full((rows * cols,), t), y.flatten() * px, x.flatten() * px]) for t in frames]
    return torch.cat(per_frame, dim=1)


def test_the_grid_comes_from_the_video_coordinates() -> None:
    """Items at frames ≥ 1 are prepended whole grids; the video starts at the first token at time 0."""
    assert RUNTIME.grid_from_coords(coords([0.0, 0.04, 0.36]), 32) == (0, (3, 2, 3))
    assert RUNTIME.grid_from_coords(coords([0.32, 0.64, 0.68, 0.0, 0.04, 0.36]), 32) == (3, (6, 2, 3))
    with pytest.raises(CaptureError, match="no token at time 0"):
        RUNTIME.grid_from_coords(coords([0.32]), 32)
    transposed = coords([0.0, 0.04], rows=3, cols=2)[:, [0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11]]
    with pytest.raises(CaptureError, match="not a frame-major grid"):
        RUNTIME.grid_from_coords(transposed, 32)
    partial = torch.cat([coords([0.32])[:, :4], coords([0.0, 0.04])], dim=1)  # 4 tokens: not a whole frame
    with pytest.raises(CaptureError, match="not a frame-major grid"):
        RUNTIME.grid_from_coords(partial, 32)


def test_the_condition_pipeline_needs_a_static_shift_scheduler(tmp_path: Path) -> None:
    dynamic = build_tiny_ltx(0, scheduler=DYNAMIC_SHIFT_SCHEDULER)
    with pytest.raises(CaptureError, match=r"without dynamic shifting .* run it as pipeline t2v or i2v"):
        RUNTIME.check_scheduler(RUNTIME.pipeline_class("LTXConditionPipeline").from_pipe(dynamic))
    RUNTIME.check_scheduler(dynamic)  # LTXPipeline computes its mu: fine
    dynamic.save_pretrained(tmp_path)
    assert type(load_pipeline(str(tmp_path), device="cpu", local_files_only=True)).__name__ == "LTXPipeline"
    with pytest.raises(ConfigError, match="without dynamic shifting"):
        load_pipeline(str(tmp_path), device="cpu", local_files_only=True, pipeline="condition")


def test_loading_rules(ltx: Any) -> None:
    with pytest.raises(ConfigError, match="LTX-Video's FlowMatchEulerDiscreteScheduler"):
        RUNTIME.set_flow_shift(ltx, 3.0)
    with pytest.raises(ConfigError, match=r"generation\.flow_shift .* LTX-Video"):
        load_pipeline("tiny-ltx", device="cpu", flow_shift=3.0)
    with pytest.raises(ValueError, match="not a pipeline class of LTX-Video"):
        RUNTIME.pipeline_class("WanPipeline")


def test_load_pipeline_picks_the_class_from_model_index(tmp_path: Path) -> None:
    from attention_visual.models.loading import resolve_variant

    build_tiny_ltx_condition(0).save_pretrained(tmp_path)
    assert type(load_pipeline(str(tmp_path), device="cpu", local_files_only=True)).__name__ == "LTXConditionPipeline"
    assert resolve_variant(str(tmp_path), local_files_only=True).name == "ltx-video-condition"
    i2v = load_pipeline(str(tmp_path), device="cpu", local_files_only=True, pipeline="i2v")
    assert type(i2v).__name__ == "LTXImageToVideoPipeline" and describe_pipeline(i2v).conditioning_frames() == (0,)

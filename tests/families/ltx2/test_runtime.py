"""The LTX-2 family's torch side: ``attn2`` and its mask, reading a call, the connector's key layout, loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from attention_visual.capture import AttentionCapture
from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families import family_named
from attention_visual.families.interface import CALL_FACTS_SLOT, CallArgs
from attention_visual.families.runtime import describe_pipeline, runtime_of
from attention_visual.models import load_pipeline
from attention_visual.models.loading import resolve_variant
from attention_visual.models.tiny_ltx2 import (
    REGISTERS,
    TINY_LTX2_SETTINGS,
    build_tiny_ltx2,
    build_tiny_ltx2_condition,
)
from attention_visual.models.tiny_variants import tiny_image

LTX2 = family_named("ltx2")
RUNTIME: Any = runtime_of(LTX2)  # the module: its helpers too


@pytest.fixture(scope="module")
def ltx2() -> Any:
    return build_tiny_ltx2(0)


def test_the_variant_has_the_pipelines_factors(ltx2: Any) -> None:
    variant = describe_pipeline(ltx2)
    assert (variant.name, variant.pixels_per_cell, variant.temporal_factor, variant.latent_frames_per_cell) == (
        "ltx2-t2v", 32, 8, 1,
    )  # fmt: skip
    assert variant.guidance == "batched" and variant.step_source == "counted"


def test_a_connector_without_registers_is_refused() -> None:
    """Without registers the connector keeps the left padding in front of the prompt: its keys are not read."""
    pipe = build_tiny_ltx2(0)
    pipe.connectors.video_connector.learnable_registers = None
    with pytest.raises(CaptureError, match="no learned registers, so the prompt's tokens are not the first text keys"):
        AttentionCapture(pipe, "a (cat)", max_sequence_length=REGISTERS)


def test_the_connector_puts_the_real_tokens_first_and_registers_behind(ltx2: Any) -> None:
    """What the transformer's keys are made of, read at the connector's first block (before any mixing)."""
    seen: dict[str, torch.Tensor] = {}
    connector = ltx2.connectors.video_connector
    handles = [
        ltx2.connectors.text_proj_in.register_forward_hook(lambda m, a, out: seen.setdefault("projected", out)),
        connector.transformer_blocks[0].register_forward_pre_hook(lambda m, a: seen.setdefault("keys", a[0])),
    ]
    try:
        ltx2(prompt="a cat and a dog", negative_prompt="", **TINY_LTX2_SETTINGS.call_kwargs(), output_type="latent")
    finally:
        for h in handles:
            h.remove()
    projected, keys = seen["projected"], seen["keys"]  # [2 (uncond, cond), 128, width]
    n = len(ltx2.tokenizer("a cat and a dog").input_ids)  # <bos> and 5 pieces
    assert torch.equal(keys[1, :n], projected[1, -n:])  # the real tokens, left-padded by the tokenizer, now first
    registers = connector.learnable_registers  # [128, width]
    assert torch.equal(keys[1, n:], registers[n:])  # behind them the registers of those positions
    assert torch.equal(keys[0, 1:], registers[1:]) and torch.equal(keys[0, :1], projected[0, -1:])  # "": <bos>


def test_locator_and_probe(ltx2: Any) -> None:
    variant = describe_pipeline(ltx2)
    found = RUNTIME.locate(ltx2.transformer, variant, "transformer_blocks")
    assert [site.name for site in found] == ["transformer_blocks.0.attn2", "transformer_blocks.1.attn2"]
    assert all(site.module is ltx2.transformer.transformer_blocks[site.index].attn2 for site in found)
    assert found[0].module is not ltx2.transformer.transformer_blocks[0].audio_attn2
    with pytest.raises(CaptureError, match="not an LTX-2 transformer"):
        RUNTIME.locate(torch.nn.Linear(2, 2), variant, "transformer_blocks")
    probe = RUNTIME.probe(variant, image_map=False)
    assert [(p.slot, p.path, p.when) for p in probe.points] == [
        ("call", "", "call"), ("query", "norm_q", "output"), ("key", "norm_k", "output"),
    ]  # fmt: skip
    q, k = torch.zeros(2, 18, 24), torch.zeros(2, 5, 24)
    bias = torch.zeros(2, 1, 5)
    words = probe.measures[0].build
    inputs = words({"call": CallArgs((q,), {"attention_mask": bias}), "query": q, "key": k, CALL_FACTS_SLOT: {}})
    assert inputs.kind == "cross" and torch.equal(inputs.key_bias, bias[:, 0]) and inputs.query is q
    assert words({"call": CallArgs((q,), {}), "query": q, "key": k, CALL_FACTS_SLOT: {}}).key_bias is None
    keyframes = torch.arange(2 * 24 * 24.0).view(2, 24, 24)  # 18 grid tokens, then 6 appended keyframe tokens
    kept = words({"call": CallArgs((q,), {}), "query": keyframes, "key": k, CALL_FACTS_SLOT: {"grid_tokens": 18}})
    assert torch.equal(kept.query, keyframes[:, :18])  # the grid's rows, the keyframe rows left out
    with pytest.raises(CaptureError, match="query_rotary_emb: this LTX-2 transformer rotates its text attention"):
        words({"call": CallArgs((q, None, None, (q, q)), {}), "query": q, "key": k, CALL_FACTS_SLOT: {}})
    with pytest.raises(CaptureError, match=r"per-key bias \[batch, 1, 5\]"):
        per_query = CallArgs((q,), {"attention_mask": torch.zeros(2, 18, 5)})
        words({"call": per_query, "query": q, "key": k, CALL_FACTS_SLOT: {}})
    with pytest.raises(CaptureError, match="image_map needs an attention with an image branch; ltx2-t2v has none"):
        RUNTIME.probe(variant, image_map=True)


def test_a_call_is_read_from_its_grid_arguments(ltx2: Any) -> None:
    variant = describe_pipeline(ltx2)
    hidden, t = torch.zeros(2, 18, 8), torch.full((2,), 500.0)
    grid = {"num_frames": 3, "height": 2, "width": 3}
    call = RUNTIME.read_call(variant, ltx2.transformer, (), {"hidden_states": hidden, "timestep": t, **grid})
    assert (call.batch, call.grid, call.drop_leading_frames, call.conditioning_frames) == (2, (3, 2, 3), 0, None)
    with pytest.raises(CaptureError, match=r"18 video tokens for a grid of \(3, 2, 2\)"):
        RUNTIME.read_call(variant, ltx2.transformer, (), {"hidden_states": hidden, **grid, "width": 2})
    with pytest.raises(CaptureError, match="without num_frames/height/width"):
        RUNTIME.read_call(variant, ltx2.transformer, (hidden,), {})
    per_token = torch.full((2, 18), 500.0)
    per_token[:, :6] = 0.0  # the image latent of LTX2ImageToVideoPipeline: t · (1 − mask)
    i2v = RUNTIME.read_call(variant, ltx2.transformer, (), {"hidden_states": hidden, "timestep": per_token, **grid})
    assert i2v.conditioning_frames == (0,) and i2v.facts == {}
    held = {"hidden_states": hidden, "timestep": torch.zeros(2, 18), "sigma": t, **grid}  # a video over every frame
    assert RUNTIME.read_call(variant, ltx2.transformer, (), held).conditioning_frames == (0, 1, 2)  # below sigma


def test_appended_keyframe_tokens_are_left_out_of_the_grid(ltx2: Any) -> None:
    """LTX2ConditionPipeline appends a keyframe's tokens (here one latent frame, 6) after the grid's 18."""
    variant = describe_pipeline(build_tiny_ltx2_condition(0))
    per_token = torch.full((2, 24), 500.0)
    per_token[:, :6] = 0.0  # frame 0 conditioned in place
    per_token[:, 18:] = 50.0  # the keyframe: t · (1 − strength)
    call = {"hidden_states": torch.zeros(2, 24, 8), "timestep": per_token, "sigma": torch.full((2,), 500.0)}
    read = RUNTIME.read_call(variant, ltx2.transformer, (), {**call, "num_frames": 3, "height": 2, "width": 3})
    assert (read.grid, read.drop_leading_frames, read.conditioning_frames) == ((3, 2, 3), 0, (0,))
    assert read.facts == {"grid_tokens": 18} and read.timestep is call["sigma"]  # the step's, for the pass clock
    with pytest.raises(CaptureError, match=r"24 video tokens for a grid of \(5, 2, 3\)"):  # fewer tokens than the grid
        RUNTIME.read_call(variant, ltx2.transformer, (), {**call, "num_frames": 5, "height": 2, "width": 3})


def test_the_batch_inputs_become_one_condition_at_index_0() -> None:
    pipe = build_tiny_ltx2_condition(0)
    variant = describe_pipeline(pipe)
    image, frames = tiny_image(64, 96), [tiny_image(64, 96, seed) for seed in range(17)]
    for given, expected in (
        ({"image": image}, image),
        ({"video": frames}, frames),
        ({"image": image, "video": frames}, image),
    ):
        args = RUNTIME.adapt_call(pipe, variant, {"num_frames": 17, **given})
        [condition] = args.pop("conditions")
        assert (condition.frames, condition.index, condition.strength, condition.crf) == (expected, 0, 1.0, None)
        assert args == {"num_frames": 17}  # image and video taken out: the pipeline does not take them
    assert RUNTIME.adapt_call(pipe, variant, {"num_frames": 17, "image": None}) == {"num_frames": 17}  # text to video
    t2v = describe_pipeline(build_tiny_ltx2(0))
    assert RUNTIME.adapt_call(pipe, t2v, {"image": image}) == {"image": image}  # other pipelines: unchanged


def test_loading_rules(ltx2: Any) -> None:
    with pytest.raises(ConfigError, match="LTX-2's FlowMatchEulerDiscreteScheduler"):
        RUNTIME.set_flow_shift(ltx2, 3.0)
    with pytest.raises(ConfigError, match=r"generation\.flow_shift .* LTX-2"):
        load_pipeline("tiny-ltx2", device="cpu", flow_shift=3.0)
    with pytest.raises(ValueError, match="not a pipeline class of LTX-2"):
        RUNTIME.pipeline_class("LTXPipeline")


def test_load_pipeline_picks_the_class_from_model_index(tmp_path: Path) -> None:
    build_tiny_ltx2(0).save_pretrained(tmp_path)
    pipe = load_pipeline(str(tmp_path), device="cpu", local_files_only=True)
    assert type(pipe).__name__ == "LTX2Pipeline" and type(pipe.tokenizer).__name__ == "GemmaTokenizer"
    assert resolve_variant(str(tmp_path), local_files_only=True).name == "ltx2-t2v"
    i2v = load_pipeline(str(tmp_path), device="cpu", local_files_only=True, pipeline="i2v")
    assert type(i2v).__name__ == "LTX2ImageToVideoPipeline" and describe_pipeline(i2v).conditioning_frames() == (0,)
    condition = load_pipeline(str(tmp_path), device="cpu", local_files_only=True, pipeline="condition")
    assert type(condition).__name__ == "LTX2ConditionPipeline" and describe_pipeline(condition).name == "ltx2-condition"
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'vace'; it runs: t2v, i2v, condition"):
        load_pipeline(str(tmp_path), device="cpu", local_files_only=True, pipeline="vace")


def test_the_tiny_condition_pipeline_loads_from_its_model_index(tmp_path: Path) -> None:
    build_tiny_ltx2_condition(0).save_pretrained(tmp_path)
    pipe = load_pipeline(str(tmp_path), device="cpu", local_files_only=True)
    assert type(pipe).__name__ == "LTX2ConditionPipeline" and describe_pipeline(pipe).name == "ltx2-condition"
    assert resolve_variant(str(tmp_path), local_files_only=True).name == "ltx2-condition"


def test_cast_puts_every_component_in_the_dtype() -> None:
    pipe = build_tiny_ltx2(0)
    RUNTIME.cast(pipe, torch.bfloat16)
    for name in ("text_encoder", "connectors", "transformer", "vae", "audio_vae", "vocoder"):
        assert getattr(pipe, name).dtype == torch.bfloat16, name

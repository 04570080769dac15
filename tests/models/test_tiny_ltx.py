"""The tiny LTX-Video pipelines: LTX's factors, a non-square grid, determinism, a save/load round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from diffusers.pipelines.pipeline_utils import DiffusionPipeline

from attention_visual.errors import ConfigError
from attention_visual.models.tiny_ltx import (
    TINY_LTX_SETTINGS,
    TinyLtxSettings,
    build_tiny_ltx,
    build_tiny_ltx_condition,
    build_tiny_ltx_i2v,
)
from attention_visual.models.tiny_variants import tiny_image

PROMPT = "a cat and a dog"
BUILDERS = {"t2v": build_tiny_ltx, "i2v": build_tiny_ltx_i2v, "condition": build_tiny_ltx_condition}


def inputs(kind: str) -> dict[str, Any]:
    h, w = TINY_LTX_SETTINGS.height, TINY_LTX_SETTINGS.width
    if kind == "i2v":
        return {"image": tiny_image(h, w)}
    if kind == "condition":  # one item mixed into latent frame 0, one prepended (frame 8 → 6 extra tokens)
        return {
            "conditions": [
                LTXVideoCondition(image=tiny_image(h, w), frame_index=0),
                LTXVideoCondition(image=tiny_image(h, w, 1), frame_index=8),
            ]
        }
    return {}


def generate(pipe: Any, kind: str, seed: int = 0, output_type: str = "np") -> np.ndarray:
    out = pipe(
        prompt=PROMPT,
        **TINY_LTX_SETTINGS.call_kwargs(),
        **inputs(kind),
        generator=torch.Generator().manual_seed(seed),
        output_type=output_type,
    ).frames
    return out.numpy() if isinstance(out, torch.Tensor) else np.asarray(out)


def test_settings_give_a_non_square_grid_with_ltx_factors() -> None:
    assert TINY_LTX_SETTINGS.latent_grid == (3, 2, 3)  # 17 frames → (17 - 1) / 8 + 1; 64 / 32 × 96 / 32
    assert TINY_LTX_SETTINGS.max_sequence_length == 128
    with pytest.raises(ConfigError, match="multiple of 32"):
        TinyLtxSettings(height=48)
    with pytest.raises(ConfigError, match="8k \\+ 1"):
        TinyLtxSettings(height=64, width=96, num_frames=9 + 4)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_pipeline_runs_and_is_deterministic(kind: str) -> None:
    pipe = BUILDERS[kind](0)
    assert pipe.vae_spatial_compression_ratio == 32 and pipe.vae_temporal_compression_ratio == 8
    video = generate(pipe, kind)
    assert video.shape == (1, 17, 64, 96, 3)  # (latent frames - 1) × 8 + 1 decoded frames
    np.testing.assert_array_equal(video, generate(pipe, kind))
    assert not np.array_equal(video, generate(BUILDERS[kind](1), kind))


def test_transformer_sees_the_packed_grid_and_the_prepended_tokens() -> None:
    """LTXPipeline passes the latent grid; LTXConditionPipeline passes video_coords with 6 extra tokens first."""
    seen: dict[str, dict[str, Any]] = {}
    for kind in ("t2v", "condition"):
        pipe = BUILDERS[kind](0)

        def hook(module: Any, args: Any, kwargs: dict[str, Any], kind: str = kind) -> None:
            seen.setdefault(kind, kwargs)

        handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            generate(pipe, kind, output_type="latent")
        finally:
            handle.remove()
    t2v, cond = seen["t2v"], seen["condition"]
    assert tuple(t2v["hidden_states"].shape) == (2, 18, 8)  # [uncond, cond] × 3·2·3 tokens × channels
    assert (t2v["num_frames"], t2v["height"], t2v["width"]) == (3, 2, 3)
    assert tuple(t2v["encoder_attention_mask"].shape) == (2, 128)
    assert tuple(cond["hidden_states"].shape) == (2, 6 + 18, 8)
    assert "num_frames" not in cond and tuple(cond["video_coords"].shape) == (2, 3, 24)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_save_pretrained_round_trip(kind: str, tmp_path: Path) -> None:
    """The tiny pipeline saved and loaded back with diffusers' own from_pretrained is the same model."""
    pipe = BUILDERS[kind](0)
    pipe.save_pretrained(tmp_path)
    loaded = DiffusionPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded) is type(pipe)
    for name in ("transformer", "vae", "text_encoder"):
        a, b = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    assert loaded.tokenizer(PROMPT).input_ids == pipe.tokenizer(PROMPT).input_ids
    public = [{k: v for k, v in p.scheduler.config.items() if not k.startswith("_")} for p in (pipe, loaded)]
    assert public[0] == public[1]
    np.testing.assert_allclose(generate(loaded, kind), generate(pipe, kind), atol=1e-5)

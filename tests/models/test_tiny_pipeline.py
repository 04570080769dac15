"""Tests of the tiny offline Wan pipeline: shapes, determinism and non-uniform cross-attention."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler

from attention_visual.errors import ConfigError
from attention_visual.models import TINY_DEFAULTS, TinyDefaults, build_tiny_pipeline

PROMPT = "A romantic kiss between a man and woman with flowers"
NUM_PROMPT_TOKENS = 13  # 12 pieces + </s>, see test_tiny_tokenizer.py


def _generate(pipe: WanPipeline, seed: int = 0, output_type: str = "np") -> np.ndarray:
    out = pipe(
        PROMPT,
        **TINY_DEFAULTS.call_kwargs(),
        generator=torch.Generator().manual_seed(seed),
        output_type=output_type,
    )
    frames = out.frames
    return frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)


@contextmanager
def _record_cross_attention(pipe: WanPipeline) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Record (normed query, normed key) of every cross-attention call; hooks removed on exit."""
    records: list[tuple[torch.Tensor, torch.Tensor]] = []
    pending: dict[int, torch.Tensor] = {}
    handles = []
    for index, block in enumerate(pipe.transformer.blocks):

        def on_q(_m: torch.nn.Module, _i: object, out: torch.Tensor, index: int = index) -> None:
            pending[index] = out.detach()

        def on_k(_m: torch.nn.Module, _i: object, out: torch.Tensor, index: int = index) -> None:
            records.append((pending.pop(index), out.detach()))

        handles.append(block.attn2.norm_q.register_forward_hook(on_q))
        handles.append(block.attn2.norm_k.register_forward_hook(on_k))
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()


def _attention_probs(query: torch.Tensor, key: torch.Tensor, heads: int = 2) -> torch.Tensor:
    """Softmax attention of normed q [B, Q, H*D] over normed k [B, K, H*D] → [B, H, Q, K]."""
    q = query.unflatten(-1, (heads, -1)).transpose(1, 2)
    k = key.unflatten(-1, (heads, -1)).transpose(1, 2)
    probs: torch.Tensor = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return probs


def test_latent_shape_matches_defaults(tiny_pipe: WanPipeline) -> None:
    latents = _generate(tiny_pipe, output_type="latent")
    assert latents.shape == (1, *TINY_DEFAULTS.latent_shape) == (1, 16, 3, 4, 6)
    assert TINY_DEFAULTS.latent_grid == (3, 2, 3)
    assert TINY_DEFAULTS.num_cells == 18


def test_video_shape_and_range(tiny_pipe: WanPipeline) -> None:
    video = _generate(tiny_pipe)  # [batch, frame, height, width, rgb]
    assert video.shape == (1, 9, 32, 48, 3)
    assert np.isfinite(video).all()
    assert video.min() >= 0.0 and video.max() <= 1.0
    assert video.std() > 0.01


def test_cross_attention_latent_grid(fresh_tiny_pipe: WanPipeline) -> None:
    with _record_cross_attention(fresh_tiny_pipe) as records:
        _generate(fresh_tiny_pipe, output_type="latent")
    # 2 steps x 2 blocks x (cond, uncond) with guidance_scale > 1
    assert len(records) == TINY_DEFAULTS.num_inference_steps * 2 * 2
    query, key = records[0]
    assert query.shape == (1, TINY_DEFAULTS.num_cells, 24)  # [batch, video tokens, heads * dim]
    assert key.shape == (1, TINY_DEFAULTS.max_sequence_length, 24)  # [batch, prompt tokens, heads * dim]


def test_cross_attention_is_not_uniform(fresh_tiny_pipe: WanPipeline) -> None:
    with _record_cross_attention(fresh_tiny_pipe) as records:
        _generate(fresh_tiny_pipe, output_type="latent")
    query, key = records[0]  # block 0, step 0, cond pass
    probs = _attention_probs(query, key)  # [batch, head, video token, prompt token]
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean() / math.log(probs.shape[-1])
    assert entropy < 0.85
    per_token = probs[..., :NUM_PROMPT_TOKENS].mean(dim=2)  # [batch, head, prompt token]
    assert (per_token.amax(-1) / per_token.amin(-1)).min() > 3.0  # some words draw far more attention
    assert probs[..., :NUM_PROMPT_TOKENS].std(dim=2).mean() > 0.02  # and it varies over the video


def test_gain_sharpens_attention() -> None:
    entropies = []
    for gain in (1.0, 2.0):
        pipe = build_tiny_pipeline(cross_attention_gain=gain)
        with _record_cross_attention(pipe) as records:
            _generate(pipe, output_type="latent")
        probs = _attention_probs(*records[0])
        entropies.append(float(-(probs * probs.log()).sum(-1).mean()))
    assert entropies[1] < entropies[0] - 0.3


def test_deterministic_for_a_seed(tiny_pipe: WanPipeline) -> None:
    other = build_tiny_pipeline(seed=0)
    np.testing.assert_array_equal(_generate(tiny_pipe), _generate(other))
    for (name, a), (_, b) in zip(
        tiny_pipe.components["transformer"].state_dict().items(),
        other.components["transformer"].state_dict().items(),
        strict=True,
    ):
        assert torch.equal(a, b), name


def test_seed_changes_weights(tiny_pipe: WanPipeline) -> None:
    other = build_tiny_pipeline(seed=1)
    a = tiny_pipe.transformer.blocks[0].attn2.to_q.weight
    b = other.transformer.blocks[0].attn2.to_q.weight
    assert not torch.equal(a, b)


def test_build_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_pipeline(seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_components() -> None:
    pipe = build_tiny_pipeline()
    assert isinstance(pipe.scheduler, UniPCMultistepScheduler)
    assert pipe.scheduler.config.prediction_type == "flow_prediction"
    assert pipe.scheduler.config.use_flow_sigmas
    assert pipe.text_encoder.config.vocab_size == len(pipe.tokenizer)
    assert pipe.transformer.config.text_dim == pipe.text_encoder.config.d_model
    assert pipe.vae.dtype == torch.float32
    assert not pipe.transformer.training
    assert not pipe.text_encoder.training


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height": 40}, "height=40"),
        ({"width": 0}, "width=0"),
        ({"num_frames": 8}, "num_frames=8"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
    ],
)
def test_tiny_defaults_validation(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TinyDefaults(**kwargs)


def test_build_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="cross_attention_gain"):
        build_tiny_pipeline(cross_attention_gain=0.0)
    with pytest.raises(ConfigError, match="flow_shift"):
        build_tiny_pipeline(flow_shift=-1.0)

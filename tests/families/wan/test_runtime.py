"""The Wan family's torch side: finding ``attn2``, recognising pipelines, reading a transformer call."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from attention_visual.errors import CaptureError
from attention_visual.families import family_named
from attention_visual.families.runtime import describe_pipeline, runtime_of

WAN = family_named("wan")
RUNTIME = runtime_of(WAN)


def test_locator_names_every_block(tiny_pipe: Any) -> None:
    variant = describe_pipeline(tiny_pipe)
    found = RUNTIME.locate(tiny_pipe.transformer, variant, "blocks")
    assert [site.name for site in found] == ["blocks.0.attn2", "blocks.1.attn2"]
    assert variant.block_name(7) == "blocks.7.attn2" and variant.block_name(3, "vace_blocks") == "vace_blocks.3.attn2"
    assert all(site.module is tiny_pipe.transformer.blocks[site.index].attn2 for site in found)
    assert {site.heads for site in found} == {2}
    with pytest.raises(CaptureError, match="not a Wan transformer"):
        RUNTIME.locate(torch.nn.Linear(2, 2), variant, "blocks")


def test_locator_names_what_it_cannot_capture(tiny_pipe: Any) -> None:
    variant = describe_pipeline(tiny_pipe)
    block = nn.Module()
    block.cross_attn = nn.Linear(2, 2)
    model = nn.Module()
    model.blocks = nn.ModuleList([block])
    with pytest.raises(CaptureError, match=r"blocks\.0\.cross_attn, not attn2: .* not supported"):
        RUNTIME.locate(model, variant, "blocks")
    with pytest.raises(CaptureError, match="no 'vace_blocks' list"):
        RUNTIME.locate(model, variant, "vace_blocks")


def test_a_call_is_read_from_the_latents_and_the_patch(tiny_pipe: Any) -> None:
    """``[batch, channel, frame, height, width]`` latents, patch (1, 2, 2): a frame-major 3 x 2 x 3 grid."""
    variant = describe_pipeline(tiny_pipe)
    latents = torch.zeros(1, 16, 3, 4, 6)
    call = RUNTIME.read_call(variant, tiny_pipe.transformer, (), {"hidden_states": latents, "timestep": torch.ones(1)})
    assert (call.batch, call.grid, call.drop_leading_frames) == (1, (3, 2, 3), 0)
    positional = RUNTIME.read_call(variant, tiny_pipe.transformer, (latents, torch.ones(1)), {})
    assert positional.grid == (3, 2, 3) and positional.timestep is not None
    with pytest.raises(CaptureError, match="without hidden_states"):
        RUNTIME.read_call(variant, tiny_pipe.transformer, (), {})


def test_the_probe_hooks_norm_q_and_norm_k_and_the_image_branch_when_asked(tiny_pipe: Any) -> None:
    variant = describe_pipeline(tiny_pipe)
    text = RUNTIME.probe(variant, image_map=False)
    assert [(p.slot, p.path, p.when) for p in text.points] == [
        ("query", "norm_q", "output"),
        ("key", "norm_k", "output"),
    ]
    assert [(m.kind, m.trigger) for m in text.measures] == [("words", "key")]
    image = RUNTIME.probe(variant, image_map=True)
    assert [m.trigger for m in image.measures] == ["key", "key_img"]
    with pytest.raises(CaptureError, match="fused projections"):
        image.measures[1].build({"query": 1, "key": 2})


def test_every_family_variant_is_one_of_the_tiny_models() -> None:
    from attention_visual.models import TINY_MODELS

    assert {m.model_id: m.variant for m in TINY_MODELS.values() if m.variant in WAN.variants} == dict(WAN.tiny_models)

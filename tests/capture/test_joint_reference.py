"""The float64 joint-attention reference, and the exact-recomputation recipe for CogVideoX, on every tiny model.

1. The reference (:mod:`capture.joint_reference`) is right: its probabilities, times the values and
   through ``to_out``, give the attention output the model computed.
2. The recipe the capture follows (forward hooks on ``attn1.norm_q``/``norm_k``, the RoPE tables from a
   forward pre-hook with kwargs on ``attn1``, the model's own ``apply_rotary_emb`` on the video rows, one
   batch item per guidance pass, :func:`~attention_visual.capture.joint_math.joint_word_attention`) equals
   the reference for ``text``, ``full`` and ``<text>``, both passes, every step and block.
3. Deliberate breakages (RoPE skipped, the batch items swapped) fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
import torch
from diffusers.models.embeddings import apply_rotary_emb

from attention_visual.capture.joint_math import FULL_MODE, TEXT_MODE, joint_word_attention
from attention_visual.models.tiny_cogvideox import TINY_COGVIDEOX, build_tiny_cogvideox
from attention_visual.models.tiny_variants import tiny_image
from capture.joint_reference import JointCall, record_attn1_inputs, reference_probs, text_share, word_maps

PROMPT = "a romantic kiss between a man and woman with flowers"
WORDS = ((2, 3), (10, 11))  # "▁ki ss", "▁flow ers" in the tiny tokenizer
ROPE_MODELS = (
    "tiny-cogvideox",
    "tiny-cogvideox1.5",
    "tiny-cogvideox-i2v",
    "tiny-cogvideox1.5-i2v",
    "tiny-cogvideox-v2v",
)


@cache
def pipe_of(model_id: str) -> Any:
    return build_tiny_cogvideox(model_id)


def call_kwargs(model_id: str) -> dict[str, Any]:
    spec = TINY_COGVIDEOX[model_id]
    kwargs = spec.call_kwargs()
    if "image" in spec.inputs:
        kwargs["image"] = tiny_image(spec.height, spec.width)
    if "video" in spec.inputs:
        kwargs["video"] = [tiny_image(spec.height, spec.width, 10 + n) for n in range(spec.num_frames)]
        kwargs["num_inference_steps"], kwargs["strength"] = 4, 0.5  # the last 2 of 4 steps
    return kwargs


@dataclass
class Recipe:
    """What the capture recipe computed, per transformer call and block: ``[batch, head, map, video_token]``."""

    skip_rope: bool = False
    maps: dict[str, list[list[torch.Tensor]]] = field(default_factory=lambda: {TEXT_MODE: [], FULL_MODE: []})
    _q: torch.Tensor | None = None
    _rope: Any = None


@contextmanager
def run_recipe(transformer: torch.nn.Module, recipe: Recipe, columns: torch.Tensor, bounds: Any) -> Iterator[None]:
    """The capture's recipe, written out with plain torch hooks (the family runtime does the same)."""
    handles = []
    n_blocks = len(transformer.transformer_blocks)

    def on_call(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        recipe._rope = kwargs.get("image_rotary_emb")
        recipe._text = kwargs["encoder_hidden_states"].shape[1]

    def on_q(module: Any, args: Any, out: torch.Tensor) -> None:
        recipe._q = out  # [batch, head, text + video, d]

    def on_k(module: Any, args: Any, key: torch.Tensor) -> None:
        n_text = recipe._text
        query = recipe._q[:, :, n_text:]  # [batch, head, video, d]
        if recipe._rope is not None and not recipe.skip_rope:  # as CogVideoXAttnProcessor2_0 applies it
            query = apply_rotary_emb(query, recipe._rope)
            key = torch.cat([key[:, :, :n_text], apply_rotary_emb(key[:, :, n_text:], recipe._rope)], dim=2)
        for mode in (TEXT_MODE, FULL_MODE):
            per_item = [
                joint_word_attention(
                    query[b], key[b], (0, n_text), columns, bounds, mode=mode, text_share=True, chunk_size=7
                )
                for b in range(query.shape[0])
            ]  # [head, map, video] each
            calls = recipe.maps[mode]
            if not calls or len(calls[-1]) == n_blocks:
                calls.append([])
            calls[-1].append(torch.stack(per_item))

    for block in transformer.transformer_blocks:
        handles.append(block.attn1.register_forward_pre_hook(on_call, with_kwargs=True))
        handles.append(block.attn1.norm_q.register_forward_hook(on_q))
        handles.append(block.attn1.norm_k.register_forward_hook(on_k))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class Run:
    passes: list[list[JointCall]]
    recipe: Recipe
    output: torch.Tensor


def run(model_id: str, *, skip_rope: bool = False) -> Run:
    pipe = pipe_of(model_id)
    cols = torch.tensor([c for w in WORDS for c in w])
    bounds = ((0, 2), (2, 4))
    recipe = Recipe(skip_rope=skip_rope)
    with record_attn1_inputs(pipe.transformer) as log, run_recipe(pipe.transformer, recipe, cols, bounds):
        out = pipe(
            prompt=PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent", **call_kwargs(model_id)
        ).frames
    return Run(log.passes(len(pipe.transformer.transformer_blocks)), recipe, out)


@pytest.mark.parametrize("model_id", sorted(TINY_COGVIDEOX))
@torch.no_grad()
def test_the_reference_reproduces_the_attention_output(model_id: str) -> None:
    """P · V through to_out equals what attn1 returned: the reference is the model's softmax."""
    pipe = pipe_of(model_id)
    outputs: list[torch.Tensor] = []
    handles = [
        b.attn1.register_forward_hook(lambda m, a, out: outputs.append(out[0].detach().clone()))
        for b in pipe.transformer.transformer_blocks
    ]
    try:
        with record_attn1_inputs(pipe.transformer) as log:
            pipe(
                prompt=PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent", **call_kwargs(model_id)
            )
    finally:
        for h in handles:
            h.remove()
    assert len(log.calls) == len(outputs) >= 4
    for call, got in zip(log.calls, outputs, strict=True):
        probs, _ = reference_probs(call)
        attn = call.attn
        x = torch.cat([call.text, call.video], dim=1).double()
        v = torch.nn.functional.linear(x, attn.to_v.weight.double(), attn.to_v.bias.double())
        v = v.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # [batch, head, key, d]
        o = (probs @ v).transpose(1, 2).flatten(2)  # [batch, video, inner]
        o = torch.nn.functional.linear(o, attn.to_out[0].weight.double(), attn.to_out[0].bias.double())
        torch.testing.assert_close(o, got.double(), atol=2e-5, rtol=1e-5)
        if call.rope is not None:  # without RoPE the reference is not the model's
            wrong, _ = reference_probs(call, skip_rope=True)
            o_wrong = (wrong @ v).transpose(1, 2).flatten(2)
            o_wrong = torch.nn.functional.linear(o_wrong, attn.to_out[0].weight.double(), attn.to_out[0].bias.double())
            assert float((o_wrong - got.double()).abs().max()) > 1e-3


def compare(r: Run, *, swap_items: bool = False) -> float:
    """The largest difference between the recipe's maps and the reference over every call, block and map."""
    worst = 0.0
    for mode in (TEXT_MODE, FULL_MODE):
        assert len(r.recipe.maps[mode]) == len(r.passes)
        for calls, got_blocks in zip(r.passes, r.recipe.maps[mode], strict=True):
            for call, got in zip(calls, got_blocks, strict=True):  # got: [batch, head, map, video]
                probs, n_text = reference_probs(call)
                ref = torch.stack(
                    [word_maps(probs, n_text, w, mode) for w in WORDS] + [text_share(probs, n_text)], dim=2
                )  # [batch, head, map, video]
                if swap_items:
                    got = got.flip(0)
                worst = max(worst, float((got.double() - ref).abs().max()))
    return worst


@pytest.mark.parametrize("model_id", sorted(TINY_COGVIDEOX))
def test_the_recipe_equals_the_float64_reference(model_id: str) -> None:
    tokens = pipe_of(model_id).tokenizer(PROMPT).input_ids
    assert [tokens[i] for w in WORDS for i in w] == pipe_of(model_id).tokenizer.convert_tokens_to_ids(
        ["▁ki", "ss", "▁flow", "ers"]
    )
    r = run(model_id)
    pipe = pipe_of(model_id)
    assert len(r.passes) == pipe.num_timesteps == 2  # two steps, each one batched [uncond, cond] call
    assert all(c.video.shape[0] == 2 for calls in r.passes for c in calls)
    assert compare(r) <= 1e-5
    # both parts of the softmax carry weight, and the maps vary over the video
    text_only = torch.stack([b[1, :, 0] for calls in r.recipe.maps[TEXT_MODE] for b in calls])
    assert float(text_only.max() - text_only.min()) > 1e-3


@pytest.mark.parametrize("model_id", ROPE_MODELS)
def test_skipping_rope_breaks_the_maps(model_id: str) -> None:
    assert compare(run(model_id, skip_rope=True)) > 1e-3


def test_swapped_batch_items_break_the_maps() -> None:
    """The uncond and cond items differ: taking one for the other is caught."""
    r = run("tiny-cogvideox-2b")
    assert compare(r) <= 1e-5
    assert compare(r, swap_items=True) > 1e-4

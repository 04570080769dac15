"""An independent float64 reference for HunyuanVideo-1.5's joint attention: explicit softmax over all keys.

It records, with its own hooks:

* the inputs of every ``transformer_blocks.N.attn`` call (a forward pre-hook with kwargs: the video and
  context hidden states, the context's boolean mask, the RoPE tables);
* per transformer call, where each stream's valid tokens landed in the context the blocks see: the rows
  the transformer builds for the Qwen2.5-VL tokens (``context_embedder``'s output + the type embedding 0),
  the byT5 tokens (``context_embedder_2`` + type 1) and the image tokens (``image_embedder`` + type 2) are
  found, by exact equality, among the rows of the first block's ``encoder_hidden_states``;
* the Qwen token ids the text encoder saw, so that a word's tokens are found by their ids after the
  pipeline's own ``prompt_template_encode_start_idx``.

and recomputes everything by hand in float64 from the module's weights, as
``HunyuanVideo15AttnProcessor2_0`` defines it::

    q = rms(to_q(video)), k = rms(to_k(video))              per head, then RoPE (pairs of channels rotated)
    k_ctx = rms(add_k_proj(context))                        per head, no RoPE
    P = softmax(q [k, k_ctx]ᵀ / √d), masked keys at -inf    the video queries' rows, over all keys

Nothing of the capture code is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from support.float64 import linear64


@dataclass
class AttnCall:
    block: int
    video: torch.Tensor  # [batch, video_token, dim]: the attention's hidden_states (norm1's output)
    context: torch.Tensor  # [batch, context_token, dim]: its encoder_hidden_states (norm1_context's output)
    mask: torch.Tensor  # [batch, context_token] bool: the context's mask as the blocks get it
    rope: tuple[torch.Tensor, torch.Tensor]  # (cos, sin) [video_token, head_dim]
    attn: Any


@dataclass
class Layout:
    """Where the valid tokens of each stream are among the context keys of one transformer call (item 0)."""

    text: list[int]  # context position of the Qwen token i (after the cut), for each valid i
    glyph: list[int]
    image: list[int]
    input_ids: list[int]  # the Qwen ids the text encoder encoded for this pass (template included)


@dataclass
class Call:
    layout: Layout
    blocks: list[AttnCall]


@dataclass
class Log:
    calls: list[Call] = field(default_factory=list)
    encoded: list[list[int]] = field(default_factory=list)  # the text encoder's input ids, in call order
    _blocks: list[AttnCall] = field(default_factory=list)
    _rows: dict[str, torch.Tensor] = field(default_factory=dict)


def _find(rows: torch.Tensor, context: torch.Tensor) -> list[int]:
    """The position of each of ``rows`` ``[n, dim]`` among ``context`` ``[L, dim]`` (exactly one match each)."""
    if rows.shape[0] == 0:
        return []
    equal = (context[None, :, :] == rows[:, None, :]).all(-1)  # [n, L]
    assert bool((equal.sum(-1) == 1).all()), "a row is not found exactly once in the context"
    return [int(i) for i in equal.float().argmax(-1)]


@contextmanager
def record(pipe: Any) -> Iterator[Log]:
    """Record what :func:`reference_probs` and the word positions need, for every transformer call of ``pipe``."""
    transformer = pipe.transformer
    log = Log()
    weights = transformer.cond_type_embed.weight  # [3, dim]: text, glyph, image

    def on_call(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        log._rows = {"masks": kwargs["encoder_attention_mask"], "glyph_mask": kwargs["encoder_attention_mask_2"]}
        log._rows["has_image"] = (kwargs["image_embeds"] != 0).any()
        log._blocks = []

    def keep(name: str) -> Any:
        def hook(module: Any, args: Any, out: torch.Tensor) -> None:
            log._rows[name] = out.detach().clone()

        return hook

    def first_block(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        context = (args[1] if len(args) > 1 else kwargs["encoder_hidden_states"])[0]  # item 0 [L, dim]
        rows = log._rows
        text = (rows["text"][0] + weights[0])[rows["masks"][0].bool()]
        glyph = (rows["glyph"][0] + weights[1])[rows["glyph_mask"][0].bool()]
        image = rows["image"][0] + weights[2] if bool(rows["has_image"]) else rows["image"][0][:0]
        # the prompt was encoded first, the negative prompt second (when guidance is on); passes alternate
        ids = log.encoded[min(len(log.calls) % 2, len(log.encoded) - 1)]
        log.calls.append(Call(Layout(_find(text, context), _find(glyph, context), _find(image, context), ids), []))

    def on_attn(i: int) -> Any:
        def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            rope = kwargs["image_rotary_emb"]
            log.calls[-1].blocks.append(
                AttnCall(
                    i,
                    kwargs["hidden_states"].detach().clone(),
                    kwargs["encoder_hidden_states"].detach().clone(),
                    kwargs["attention_mask"].detach().clone().bool(),
                    (rope[0].detach().clone(), rope[1].detach().clone()),
                    module,
                )
            )

        return hook

    def on_encode(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        log.encoded.append(kwargs["input_ids"][0].tolist())

    handles = [
        transformer.register_forward_pre_hook(on_call, with_kwargs=True),
        transformer.context_embedder.register_forward_hook(keep("text")),
        transformer.context_embedder_2.register_forward_hook(keep("glyph")),
        transformer.image_embedder.register_forward_hook(keep("image")),
        transformer.transformer_blocks[0].register_forward_pre_hook(first_block, with_kwargs=True),
        pipe.text_encoder.register_forward_pre_hook(on_encode, with_kwargs=True),
        *(
            block.attn.register_forward_pre_hook(on_attn(i), with_kwargs=True)
            for i, block in enumerate(transformer.transformer_blocks)
        ),
    ]
    try:
        yield log
    finally:
        for h in handles:
            h.remove()


def _rms(x: torch.Tensor, norm: Any) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + norm.eps) * norm.weight.double()


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs ``(2i, 2i+1)`` of ``x`` ``[batch, token, head, d]`` by the tables ``[token, d]``."""
    pairs = x.unflatten(-1, (-1, 2))  # [batch, token, head, d/2, 2]
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos.double()[:, None] + rotated * sin.double()[:, None]


@torch.no_grad()
def reference_probs(call: AttnCall, *, skip_rope: bool = False, skip_mask: bool = False) -> torch.Tensor:
    """``[batch, head, video_token, key]`` float64 probabilities of the video queries over all keys."""
    attn, heads = call.attn, call.attn.heads
    q = _rms(linear64(call.video, attn.to_q).unflatten(-1, (heads, -1)), attn.norm_q)  # [batch, video, head, d]
    k = _rms(linear64(call.video, attn.to_k).unflatten(-1, (heads, -1)), attn.norm_k)
    if not skip_rope:
        q, k = _rope(q, *call.rope), _rope(k, *call.rope)
    k_ctx = _rms(linear64(call.context, attn.add_k_proj).unflatten(-1, (heads, -1)), attn.norm_added_k)
    keys = torch.cat([k, k_ctx], dim=1)  # [batch, key, head, d]
    logits = torch.einsum("bqhd,bkhd->bhqk", q, keys) / math.sqrt(q.shape[-1])
    if not skip_mask:
        n = q.shape[1]
        valid = torch.cat([torch.ones(call.mask.shape[0], n, dtype=torch.bool), call.mask], dim=1)  # [batch, key]
        logits = logits.masked_fill(~valid[:, None, None, :], float("-inf"))
    return torch.softmax(logits, dim=-1)


def word_positions(layout: Layout, token_ids: Sequence[int], cut: int) -> list[int]:
    """The positions (after the pipeline's cut) of every occurrence of the id sequence ``token_ids``."""
    ids, n = layout.input_ids[cut:], len(token_ids)
    starts = [i for i in range(len(ids) - n + 1) if ids[i : i + n] == list(token_ids)]
    return [s + j for s in starts for j in range(n)]


def share(probs: torch.Tensor, keys: Sequence[int]) -> torch.Tensor:
    """``[batch, head, video_token]``: the softmax's share of ``keys``."""
    return probs[..., list(keys)].sum(-1)

"""An independent reference for the captured maps: explicit float64 softmax(q kᵀ/√d).

It records the *inputs* of every ``attn2`` call (a forward pre-hook on the attention module,
not on norm_q/norm_k as the capture does), recomputes q and k from the module's weights by
hand (linear + RMS norm), and takes a full softmax over every text key, padding included. Where the
model passes ``attention_mask`` to ``attn2`` (LTX-Video: ``[batch, 1, key]``, 0 on real keys and
-10000 on padding, made by the transformer from ``encoder_attention_mask``), that additive bias is
added to the float64 logits, as the model's attention adds it; ``item`` picks the batch item (a
batched ``[uncond, cond]`` pass).

For the image branch of I2V/FLF2V (``attn2.add_k_proj`` present) the context is split as the model
splits it, ``[image tokens, last 512 text tokens]``; :func:`reference_image_share` recomputes both
branches' outputs (two separate softmaxes) in float64 and returns ‖o_img‖ / (‖o_img‖ + ‖o_txt‖).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

TEXT_CONTEXT = 512  # diffusers' WanAttnProcessor: the last 512 context tokens are text when add_k_proj exists


@dataclass
class AttnCall:
    block: int
    hidden: torch.Tensor  # [batch, video_token, dim]
    context: torch.Tensor  # [batch, context_token, dim]
    attn: Any = None  # the attn2 module that ran (which expert / block list)
    model: str = ""  # label of the transformer that ran
    mask: torch.Tensor | None = None  # [batch, 1, context_token] additive bias, as passed to attn2


@dataclass
class CallLog:
    calls: list[AttnCall] = field(default_factory=list)


@contextmanager
def record_attn2_inputs(
    transformer: torch.nn.Module, block_list: str = "blocks", *, others: dict[str, torch.nn.Module] | None = None
) -> Iterator[CallLog]:
    """Record every ``<block_list>.N.attn2`` call of ``transformer`` (label ``""``) and of ``others``."""
    log = CallLog()
    handles = []
    models = {"": transformer, **(others or {})}
    for label, model in models.items():
        for i, block in enumerate(getattr(model, block_list)):

            def hook(
                module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], i: int = i, label: str = label
            ) -> None:
                hidden = kwargs.get("hidden_states", args[0] if args else None)
                context = kwargs.get("encoder_hidden_states", args[1] if len(args) > 1 else None)
                mask = kwargs.get("attention_mask", args[2] if len(args) > 2 else None)
                assert isinstance(hidden, torch.Tensor) and isinstance(context, torch.Tensor)
                kept = mask.detach().clone() if isinstance(mask, torch.Tensor) else None
                log.calls.append(AttnCall(i, hidden.detach().clone(), context.detach().clone(), module, label, kept))

            handles.append(block.attn2.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield log
    finally:
        for h in handles:
            h.remove()


def _rms_norm(x: torch.Tensor, norm: torch.nn.RMSNorm) -> torch.Tensor:
    eps = norm.eps if norm.eps is not None else torch.finfo(torch.float32).eps
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * norm.weight.double()


def _linear(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())


def _split(attn: Any, context: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(image tokens or None, text tokens)`` of one item's context, as the model splits it."""
    if getattr(attn, "add_k_proj", None) is None:
        return None, context
    n_img = context.shape[0] - TEXT_CONTEXT
    return context[:n_img], context[n_img:]


def _by_head(x: torch.Tensor, heads: int) -> torch.Tensor:
    return x.view(x.shape[0], heads, -1).transpose(0, 1)  # [head, token, d]


@torch.no_grad()
def reference_probs(transformer: torch.nn.Module | None, call: AttnCall, item: int = 0) -> torch.Tensor:
    """``[head, video_token, text_token]`` float64 probabilities of one call (batch item ``item``), text keys only."""
    attn = call.attn if call.attn is not None else transformer.blocks[call.block].attn2  # type: ignore[union-attr]
    _, text = _split(attn, call.context[item])
    q = _rms_norm(_linear(call.hidden[item], attn.to_q), attn.norm_q)
    k = _rms_norm(_linear(text, attn.to_k), attn.norm_k)
    heads = attn.heads
    d = q.shape[-1] // heads
    qh, kh = _by_head(q, heads), _by_head(k, heads)  # [head, video_token, d], [head, text_token, d]
    logits = qh @ kh.transpose(1, 2) / math.sqrt(d)  # [head, video_token, text_token]
    if call.mask is not None:
        logits = logits + call.mask[item].double()  # [1, text_token]: the same bias for every head and query
    return torch.softmax(logits, dim=-1)


@torch.no_grad()
def reference_image_share(call: AttnCall, per_head: bool = False) -> torch.Tensor:
    """``[head_or_1, video_token]`` float64: ‖o_img‖ / (‖o_img‖ + ‖o_txt‖), both branches recomputed."""
    attn = call.attn
    image, text = _split(attn, call.context[0])
    assert image is not None, "not an image-branch attn2"
    heads = attn.heads
    q = _by_head(_rms_norm(_linear(call.hidden[0], attn.to_q), attn.norm_q), heads)
    d = q.shape[-1]

    def branch(k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # [head, video_token, d]
        kh, vh = _by_head(k, heads), _by_head(v, heads)
        return torch.softmax(q @ kh.transpose(1, 2) / math.sqrt(d), dim=-1) @ vh

    o_txt = branch(_rms_norm(_linear(text, attn.to_k), attn.norm_k), _linear(text, attn.to_v))
    o_img = branch(_rms_norm(_linear(image, attn.add_k_proj), attn.norm_added_k), _linear(image, attn.add_v_proj))
    if per_head:
        n_img, n_txt = o_img.norm(dim=-1), o_txt.norm(dim=-1)  # [head, video_token]
    else:
        n_img = o_img.transpose(0, 1).flatten(1).norm(dim=-1)[None]  # [1, video_token]
        n_txt = o_txt.transpose(0, 1).flatten(1).norm(dim=-1)[None]
    return n_img / (n_img + n_txt)


def reduce_word(probs: torch.Tensor, columns: tuple[int, ...], how: str = "sum") -> torch.Tensor:
    """``[head, video_token]`` from ``[head, video_token, text_token]``."""
    sel = probs[..., list(columns)]
    return {"sum": sel.sum(-1), "mean": sel.mean(-1), "max": sel.amax(-1)}[how]

"""An independent reference for the captured maps: explicit float64 softmax(q kᵀ/√d).

It records the *inputs* of every ``attn2`` call (a forward pre-hook on the attention module,
not on norm_q/norm_k as the capture does), recomputes q and k from the module's weights by
hand (linear + RMS norm), and takes a full softmax over every text key, padding included.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class AttnCall:
    block: int
    hidden: torch.Tensor  # [batch, video_token, dim]
    context: torch.Tensor  # [batch, text_token, dim]


@dataclass
class CallLog:
    calls: list[AttnCall] = field(default_factory=list)


@contextmanager
def record_attn2_inputs(transformer: torch.nn.Module) -> Iterator[CallLog]:
    log = CallLog()
    handles = []
    for i, block in enumerate(transformer.blocks):

        def hook(module: Any, args: tuple[Any, ...], i: int = i) -> None:
            log.calls.append(AttnCall(i, args[0].detach().clone(), args[1].detach().clone()))

        handles.append(block.attn2.register_forward_pre_hook(hook))
    try:
        yield log
    finally:
        for h in handles:
            h.remove()


def _rms_norm(x: torch.Tensor, norm: torch.nn.RMSNorm) -> torch.Tensor:
    eps = norm.eps if norm.eps is not None else torch.finfo(torch.float32).eps
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * norm.weight.double()


@torch.no_grad()
def reference_probs(transformer: torch.nn.Module, call: AttnCall) -> torch.Tensor:
    """``[head, video_token, text_token]`` float64 probabilities of one call (batch item 0)."""
    attn = transformer.blocks[call.block].attn2
    q = torch.nn.functional.linear(call.hidden[0].double(), attn.to_q.weight.double(), attn.to_q.bias.double())
    k = torch.nn.functional.linear(call.context[0].double(), attn.to_k.weight.double(), attn.to_k.bias.double())
    q, k = _rms_norm(q, attn.norm_q), _rms_norm(k, attn.norm_k)
    heads = attn.heads
    d = q.shape[-1] // heads
    qh = q.view(-1, heads, d).transpose(0, 1)  # [head, video_token, d]
    kh = k.view(-1, heads, d).transpose(0, 1)  # [head, text_token, d]
    return torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(d), dim=-1)


def reduce_word(probs: torch.Tensor, columns: tuple[int, ...], how: str = "sum") -> torch.Tensor:
    """``[head, video_token]`` from ``[head, video_token, text_token]``."""
    sel = probs[..., list(columns)]
    return {"sum": sel.sum(-1), "mean": sel.mean(-1), "max": sel.amax(-1)}[how]

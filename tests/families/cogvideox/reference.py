"""An independent float64 reference for joint attention (CogVideoX's ``attn1``): explicit softmax over all keys.

It records the *inputs* of every ``transformer_blocks.N.attn1`` call (a forward pre-hook with kwargs on
the attention module: the video and text hidden states and the RoPE tables the pipeline passes), and
recomputes everything by hand in float64 from the module's weights, as ``CogVideoXAttnProcessor2_0``
defines it::

    x = [text, video]                                  (concatenated along the sequence)
    q = LayerNorm_head(to_q(x)),  k = LayerNorm_head(to_k(x))      per head, [batch, head, token, d]
    q[:, :, text:] = rope(q[:, :, text:]);  k[:, :, text:] = rope(k[:, :, text:])   (RoPE models only)
    P = softmax(q kᵀ / √d)                             over all text + video keys, no mask

``rope`` is written out here (pairs of channels rotated by the recorded cos/sin tables), not taken from
diffusers. Nothing of the capture code is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class JointCall:
    block: int
    video: torch.Tensor  # [batch, video_token, dim]: the attention's hidden_states (norm1's output)
    text: torch.Tensor  # [batch, text_token, dim]: its encoder_hidden_states
    rope: tuple[torch.Tensor, torch.Tensor] | None  # (cos, sin) [video_token, d] or None
    attn: Any


@dataclass
class JointLog:
    calls: list[JointCall] = field(default_factory=list)

    def passes(self, n_blocks: int) -> list[list[JointCall]]:
        """The calls grouped per transformer call (every block once, in order)."""
        assert len(self.calls) % n_blocks == 0
        groups = [self.calls[i : i + n_blocks] for i in range(0, len(self.calls), n_blocks)]
        for g in groups:
            assert [c.block for c in g] == list(range(n_blocks))
        return groups


@contextmanager
def record_attn1_inputs(transformer: torch.nn.Module) -> Iterator[JointLog]:
    """Record the inputs of every ``transformer_blocks.N.attn1`` call of ``transformer``."""
    log = JointLog()
    handles = []
    for i, block in enumerate(transformer.transformer_blocks):

        def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], i: int = i) -> None:
            rope = kwargs.get("image_rotary_emb")
            log.calls.append(
                JointCall(
                    i,
                    kwargs["hidden_states"].detach().clone(),
                    kwargs["encoder_hidden_states"].detach().clone(),
                    None if rope is None else (rope[0].detach().clone(), rope[1].detach().clone()),
                    module,
                )
            )

        handles.append(block.attn1.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield log
    finally:
        for h in handles:
            h.remove()


def _linear(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    bias = None if layer.bias is None else layer.bias.double()
    return torch.nn.functional.linear(x.double(), layer.weight.double(), bias)


def _layer_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight.double() + norm.bias.double()


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs ``(2i, 2i+1)`` of ``x`` ``[batch, head, token, d]`` by the tables ``[token, d]``."""
    pairs = x.unflatten(-1, (-1, 2))  # [batch, head, token, d/2, 2]
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos.double() + rotated * sin.double()


@torch.no_grad()
def reference_probs(call: JointCall, *, skip_rope: bool = False) -> tuple[torch.Tensor, int]:
    """``(P, n_text)``: float64 ``[batch, head, video_token, key]`` probabilities of the video queries, all keys."""
    attn = call.attn
    n_text = call.text.shape[1]
    x = torch.cat([call.text, call.video], dim=1)  # [batch, token, dim]
    heads = attn.heads
    q = _linear(x, attn.to_q).unflatten(-1, (heads, -1)).transpose(1, 2)  # [batch, head, token, d]
    k = _linear(x, attn.to_k).unflatten(-1, (heads, -1)).transpose(1, 2)
    q, k = _layer_norm(q, attn.norm_q), _layer_norm(k, attn.norm_k)
    if call.rope is not None and not skip_rope:
        cos, sin = call.rope
        q = torch.cat([q[:, :, :n_text], _rope(q[:, :, n_text:], cos, sin)], dim=2)
        k = torch.cat([k[:, :, :n_text], _rope(k[:, :, n_text:], cos, sin)], dim=2)
    d = q.shape[-1]
    logits = q[:, :, n_text:] @ k.transpose(-1, -2) / math.sqrt(d)  # [batch, head, video, key]
    return torch.softmax(logits, dim=-1), n_text


def word_maps(probs: torch.Tensor, n_text: int, columns: tuple[int, ...], mode: str, how: str = "sum") -> torch.Tensor:
    """``[batch, head, video_token]``: a word's map (``text``: renormalised over the text keys; ``full``)."""
    text = probs[..., :n_text]
    if mode == "text":
        text = text / text.sum(-1, keepdim=True)
    sel = text[..., list(columns)]
    return {"sum": sel.sum(-1), "mean": sel.mean(-1), "max": sel.amax(-1)}[how]


def text_share(probs: torch.Tensor, n_text: int) -> torch.Tensor:
    """``[batch, head, video_token]``: the attention's share that goes to the text keys."""
    return probs[..., :n_text].sum(-1)

"""An independent float64 reference for HunyuanVideo's joint attention, both streams: explicit masked softmax.

It records the *inputs* of every ``attn`` call of both module lists (a forward pre-hook with kwargs on the
attention module: the video and text hidden states, the boolean mask and the RoPE tables the transformer
passes) and recomputes everything by hand in float64 from the module's weights, as
``HunyuanVideoAttnProcessor2_0`` defines it::

    dual stream:    q_v = RMS(to_q(video)),  k_v = RMS(to_k(video)),  k_t = RMS_added(add_k_proj(text))
    single stream:  q = RMS(to_q([video, text])),  k = RMS(to_k([video, text]));  q_v, k_v, k_t its rows
    q_v, k_v = rope(q_v), rope(k_v)                       (the video rows only; the text keys are not rotated)
    P = softmax(q_v [k_v, k_t]ᵀ / √d  + (0 where mask else -inf))      over all video + text keys

``RMS`` is the per-head RMSNorm and ``rope`` the rotation of channel pairs by the recorded cos/sin tables,
both written out here, not taken from diffusers. Nothing of the capture code is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

BLOCK_LISTS = ("transformer_blocks", "single_transformer_blocks")


@dataclass
class AttnCall:
    block_list: str
    block: int
    video: torch.Tensor  # [batch, video_token, dim]: the attention's hidden_states
    text: torch.Tensor  # [batch, text_token, dim]: its encoder_hidden_states
    mask: torch.Tensor  # [batch, video + text] bool: True = attended
    rope: tuple[torch.Tensor, torch.Tensor] | None  # (cos, sin) [video_token, d] or None
    attn: Any


@dataclass
class AttnLog:
    calls: list[AttnCall] = field(default_factory=list)

    def passes(self, block_list: str, n_blocks: int) -> list[list[AttnCall]]:
        """The calls of ``block_list`` grouped per transformer call (every block once, in order)."""
        calls = [c for c in self.calls if c.block_list == block_list]
        assert len(calls) % n_blocks == 0
        groups = [calls[i : i + n_blocks] for i in range(0, len(calls), n_blocks)]
        for g in groups:
            assert [c.block for c in g] == list(range(n_blocks))
        return groups


@contextmanager
def record_attn_inputs(transformer: torch.nn.Module) -> Iterator[AttnLog]:
    """Record the inputs of every ``attn`` call of both module lists of ``transformer``."""
    log = AttnLog()
    handles = []
    for block_list in BLOCK_LISTS:
        for i, block in enumerate(getattr(transformer, block_list)):

            def hook(module: Any, args: Any, kwargs: dict[str, Any], i: int = i, block_list: str = block_list) -> None:
                rope = kwargs.get("image_rotary_emb")
                mask = kwargs["attention_mask"]
                log.calls.append(
                    AttnCall(
                        block_list,
                        i,
                        kwargs["hidden_states"].detach().clone(),
                        kwargs["encoder_hidden_states"].detach().clone(),
                        mask.reshape(mask.shape[0], -1).detach().clone(),
                        None if rope is None else (rope[0].detach().clone(), rope[1].detach().clone()),
                        module,
                    )
                )

            handles.append(block.attn.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield log
    finally:
        for h in handles:
            h.remove()


def _heads(x: torch.Tensor, layer: torch.nn.Linear, heads: int) -> torch.Tensor:
    """``[batch, head, token, d]`` float64 of a linear projection."""
    bias = None if layer.bias is None else layer.bias.double()
    out = torch.nn.functional.linear(x.double(), layer.weight.double(), bias)
    return out.unflatten(-1, (heads, -1)).transpose(1, 2)


def _rms(x: torch.Tensor, norm: Any) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + norm.eps) * norm.weight.double()


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs ``(2i, 2i+1)`` of ``x`` ``[batch, head, token, d]`` by the tables ``[token, d]``."""
    pairs = x.unflatten(-1, (-1, 2))  # [batch, head, token, d/2, 2]
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos.double() + rotated * sin.double()


@torch.no_grad()
def reference_probs(
    call: AttnCall, *, skip_rope: bool = False, ignore_mask: bool = False
) -> tuple[torch.Tensor, slice]:
    """``(P, text)``: float64 ``[batch, head, video_token, key]`` probabilities of the video queries over all keys
    ``[video, text]``, and the slice of the text keys."""
    attn, heads = call.attn, call.attn.heads
    n = call.video.shape[1]
    if call.block_list == "transformer_blocks":
        q = _rms(_heads(call.video, attn.to_q, heads), attn.norm_q)
        k_video = _rms(_heads(call.video, attn.to_k, heads), attn.norm_k)
        k_text = _rms(_heads(call.text, attn.add_k_proj, heads), attn.norm_added_k)
    else:
        x = torch.cat([call.video, call.text], dim=1)
        q = _rms(_heads(x, attn.to_q, heads), attn.norm_q)[:, :, :n]
        k = _rms(_heads(x, attn.to_k, heads), attn.norm_k)
        k_video, k_text = k[:, :, :n], k[:, :, n:]
    if call.rope is not None and not skip_rope:
        q, k_video = _rope(q, *call.rope), _rope(k_video, *call.rope)
    keys = torch.cat([k_video, k_text], dim=2)  # [batch, head, key, d]
    logits = q @ keys.transpose(-1, -2) / math.sqrt(q.shape[-1])  # [batch, head, video, key]
    if not ignore_mask:
        logits = logits.masked_fill(~call.mask[:, None, None, :], float("-inf"))
    return torch.softmax(logits, dim=-1), slice(n, keys.shape[2])


def word_maps(probs: torch.Tensor, text: slice, columns: tuple[int, ...], mode: str, how: str = "sum") -> torch.Tensor:
    """``[batch, head, video_token]``: a word's map (``text``: renormalised over the text keys; ``full``)."""
    p = probs[..., text]
    if mode == "text":
        p = p / p.sum(-1, keepdim=True)
    sel = p[..., list(columns)]
    return {"sum": sel.sum(-1), "mean": sel.mean(-1), "max": sel.amax(-1)}[how]


def text_share(probs: torch.Tensor, text: slice) -> torch.Tensor:
    """``[batch, head, video_token]``: the attention's share that goes to the text keys."""
    return probs[..., text].sum(-1)

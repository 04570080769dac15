"""The exact word-level attention of a *joint* attention, where text and video keys share one softmax.

In a joint attention (CogVideoX; HunyuanVideo's dual- and single-stream blocks) every query attends
to one sequence of keys holding both the prompt's text tokens and the video tokens, under one
softmax ``softmax(q kᵀ · scale)`` (with the model's own key mask, if any). For a video query ``v``
and a marked word with text-key columns ``W``, three quantities are defined here, each the one place
it is computed:

``text`` (the default, :data:`TEXT_MODE`)
    the softmax renormalised over the prompt's text keys ``T`` (masked keys excluded)::

        p_text(v, W) = Σ_{j∈W} exp(s_vj) / Σ_{j∈T} exp(s_vj)

    i.e. the word's share of the attention that goes to text: the same quantity as a Wan
    cross-attention map. It needs the text keys only (cost ``video × text``, as for Wan).
``full`` (:data:`FULL_MODE`)
    the word's share of the model's whole softmax over text *and* video keys::

        p_full(v, W) = Σ_{j∈W} exp(s_vj) / Σ_{j∈all keys} exp(s_vj)

``<text>`` (``text_share=True``)
    the fraction of the video query's attention that goes to text at all: ``Σ_{j∈T} p_full(v, j)``.
key-group shares (``key_shares``)
    the same for other groups of keys (HunyuanVideo-1.5's image tokens, ``<image>``, and the byT5 tokens
    of the quoted text, ``<glyph>``): ``Σ_{j∈G} p_full(v, j)``.

``p_full`` and the shares need a pass over every key, which is where the price of those lies;
the ``[video × all keys]`` matrix never exists: one fused
:func:`torch.nn.functional.scaled_dot_product_attention` per chunk of queries, whose *values* are
indicator columns (value column ``c`` is 1 at key ``c`` of a marked token, or 1 at every text key
for ``<text>``), returns ``softmax(q kᵀ) · V``: exactly the probabilities of the marked keys and the
text share, in O(queries + keys) memory (the flash kernel on the CPU; for float32 on CUDA the
memory-efficient kernel, which multiplies with 3xTF32 on sm80+: float32 accuracy). The model's key mask
is an additive bias on the logits, as the model adds it (a key at -inf gets probability exactly 0, as
in the model). Nothing is read back from the device.

Everything runs in float32 from the model's own q and k (after RoPE, as the model's softmax consumed
them: the family's measure reads them so), whatever the model's dtype. The module knows no family: the caller
says where the text keys are and which keys the model masks.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from attention_visual.errors import CaptureError
from attention_visual.storage.schema.metadata import JOINT_ATTENTION_MODES

log = logging.getLogger(__name__)

TEXT_MODE, FULL_MODE = JOINT_ATTENTION_MODES
"""``joint_attention: text``: the softmax renormalised over the prompt's text keys (comparable with a
cross-attention map); ``full``: the share of the model's whole softmax over text and video keys."""

#: Fused kernels that never materialise ``[query × key]``; without one, :func:`_indicator_attention`
#: falls back to the math kernel on query chunks small enough for :data:`_MATH_FALLBACK_BYTES`.
_FUSED = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
_MATH_FALLBACK_BYTES = 256 * 2**20


def reduce_tokens(probs: torch.Tensor, bounds: tuple[tuple[int, int], ...], how: str) -> torch.Tensor:
    """``[head, word, query]`` from per-token probabilities ``[head, query, T]`` (word ``w`` owns ``bounds[w]``).

    Args:
        probs: ``[head, query, T]``: the marked tokens' probabilities, the words' tokens concatenated.
        bounds: ``(start, end)`` into the last axis for each word.
        how: ``"sum"`` | ``"mean"`` | ``"max"`` over each word's tokens.
    """
    parts = []
    for a, b in bounds:
        seg = probs[..., a:b]  # [head, query, tokens of the word]
        parts.append(seg.sum(-1) if how == "sum" else seg.mean(-1) if how == "mean" else seg.amax(-1))
    return torch.stack(parts, dim=1)  # [head, word, query]


def mask_bias(key_mask: torch.Tensor) -> torch.Tensor:
    """``[key]`` float32 additive bias from a ``[key]`` bool mask: 0 where the model attends, -inf elsewhere.

    Computed on the mask's device without reading anything back (no synchronisation).
    """
    zero = torch.zeros((), dtype=torch.float32, device=key_mask.device)
    return torch.where(key_mask.to(torch.bool), zero, float("-inf"))


def indicator_values(
    n_keys: int,
    text_keys: tuple[int, int],
    columns: torch.Tensor,
    text_share: bool,
    key_shares: tuple[tuple[int, int], ...] = (),
) -> torch.Tensor:
    """``[key, m]`` float32 value columns: one per marked token (1 at its key), then ``<text>`` (1 on every text
    key), then one per key group of ``key_shares`` (1 on its keys).

    Args:
        n_keys: all keys of the attention.
        text_keys: ``(start, stop)`` of the prompt's text keys.
        columns: ``[T]`` long, the marked tokens' positions relative to ``start`` (on the keys' device); one
            outside the text keys gets an all-zero column (probability 0).
        text_share: add the ``<text>`` column.
        key_shares: ``(start, stop)`` of each further group of keys whose share is wanted.
    """
    start, stop = text_keys
    n_cols = columns.shape[0]
    n_extra = int(text_share) + len(key_shares)
    values = torch.zeros(n_keys, n_cols + n_extra, dtype=torch.float32, device=columns.device)
    if n_cols:
        inside = (columns < stop - start).float()  # [T]
        rows = (columns + start).clamp(max=stop - 1)
        values[rows, torch.arange(n_cols, device=columns.device)] = inside
    groups = ((text_keys,) if text_share else ()) + key_shares
    for c, (a, b) in enumerate(groups, start=n_cols):
        values[a:b, c] = 1.0
    return values


def joint_word_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    text_keys: tuple[int, int],
    columns: torch.Tensor,
    bounds: tuple[tuple[int, int], ...],
    *,
    key_bias: torch.Tensor | None = None,
    mode: str = TEXT_MODE,
    text_share: bool = False,
    key_shares: tuple[tuple[int, int], ...] = (),
    token_reduction: str = "sum",
    scale: float | None = None,
    chunk_size: int = 4096,
) -> torch.Tensor:
    """Per-head attention of every video query to each marked word under a joint softmax.

    Nothing is read back from the device (no synchronisation): the caller checks the columns.

    Args:
        query: ``[head, video_token, head_dim]``: the video rows of the attention's query, exactly as
            the attention consumes them (after its norm and RoPE), one batch item, any float dtype.
        key: ``[head, key, head_dim]``: *all* keys of the attention (text and video, in the model's
            order, after norm and RoPE), the same batch item.
        text_keys: ``(start, stop)``: the prompt's text keys among ``key``. ``text`` renormalises over
            these, ``<text>`` sums over them.
        columns: ``[T]`` long tensor on the keys' device: the marked words' token positions, counted
            from ``start``, the words concatenated. A column at or past ``stop - start`` lies outside the
            text keys (e.g. in padding left out with ``padding: exclude``): its probability is 0.
        bounds: ``(start, end)`` into ``columns`` for each word.
        key_bias: ``[key]`` float added to every query's logits exactly as the model adds it (its mask
            as 0 / -inf, see :func:`mask_bias`, or 0 / -10000); ``None``: no mask. A key at -inf has
            probability exactly 0 in every mode, as in the model; at least one text key must stay
            finite.
        mode: :data:`TEXT_MODE` or :data:`FULL_MODE` (see the module docstring).
        text_share: also return the ``<text>`` share as one more map after the words.
        key_shares: ``(start, stop)`` of further key groups (image tokens, glyph tokens): their shares of the
            whole softmax follow, one map each (an empty group's share is 0).
        token_reduction: ``"sum"`` | ``"mean"`` | ``"max"`` over each word's tokens.
        scale: the logits' scale (default ``1/√head_dim``, as ``scaled_dot_product_attention``).
        chunk_size: video queries per chunk; extra memory is about ``heads × chunk × (text keys + head_dim)``
            float32, plus one float32 copy of ``key`` for ``full`` and ``<text>``.

    Returns:
        ``[head, word (+1 with text_share) (+1 per key share), video_token]`` float32 probabilities.

    Raises:
        CaptureError: an unknown mode, or text keys or a key group outside the keys.
    """
    heads, n_q, head_dim = query.shape
    if mode not in JOINT_ATTENTION_MODES:
        raise CaptureError(f"joint attention mode must be one of {JOINT_ATTENTION_MODES}, got {mode!r}")
    start, stop = text_keys
    if not 0 <= start < stop <= key.shape[1]:
        raise CaptureError(f"text keys {text_keys} do not lie in the attention's {key.shape[1]} keys")
    if any(not 0 <= a <= b <= key.shape[1] for a, b in key_shares):
        raise CaptureError(f"key groups {key_shares} do not lie in the attention's {key.shape[1]} keys")
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    bias = None if key_bias is None else key_bias.to(device=key.device, dtype=torch.float32)  # [key]
    n_shares = int(text_share) + len(key_shares)
    out = torch.empty(heads, len(bounds) + n_shares, n_q, dtype=torch.float32, device=query.device)
    if mode == TEXT_MODE and bounds:
        text_bias = None if bias is None else bias[start:stop]
        out[:, : len(bounds)] = _text_renormalised(
            query, key[:, start:stop], columns, bounds, text_bias, token_reduction, scale, chunk_size
        )
    full = mode == FULL_MODE and bool(bounds)
    if full or n_shares:
        cols = columns if full else columns[:0]
        values = indicator_values(key.shape[1], text_keys, cols, text_share, key_shares)
        probs = _indicator_attention(query, key, values, bias, scale, chunk_size)  # [head, query, m]
        if full:
            out[:, : len(bounds)] = reduce_tokens(probs[..., : columns.shape[0]], bounds, token_reduction)
        if n_shares:
            out[:, len(bounds) :] = probs[..., cols.shape[0] :].transpose(1, 2)  # [head, share, query]
    return out


def _text_renormalised(
    query: torch.Tensor,
    text_key: torch.Tensor,
    columns: torch.Tensor,
    bounds: tuple[tuple[int, int], ...],
    bias: torch.Tensor | None,
    token_reduction: str,
    scale: float,
    chunk_size: int,
) -> torch.Tensor:
    """``[head, word, query]``: the softmax over the (unmasked) text keys only, at the words' columns."""
    heads, n_q, _ = query.shape
    n_text = text_key.shape[1]
    inside = (columns < n_text).float()  # [T]: a column outside the text keys has probability 0
    cols = columns.clamp(max=n_text - 1)
    kt = text_key.float().transpose(1, 2)  # [head, head_dim, text_key]
    out = torch.empty(heads, len(bounds), n_q, dtype=torch.float32, device=query.device)
    for a in range(0, n_q, chunk_size):
        logits = torch.matmul(query[:, a : a + chunk_size].float(), kt).mul_(scale)  # [head, c, text_key]
        if bias is not None:  # the model's mask, as the model adds it
            logits += bias
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)  # [head, c, 1]
        probs = torch.exp(logits.index_select(-1, cols) - lse) * inside  # [head, c, T]
        out[..., a : a + logits.shape[1]] = reduce_tokens(probs, bounds, token_reduction)
    return out


def _indicator_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    values: torch.Tensor,
    bias: torch.Tensor | None,
    scale: float,
    chunk_size: int,
) -> torch.Tensor:
    """``[head, query, m]``: ``softmax(q kᵀ · scale + bias) · values`` over all keys, fused, in float32."""
    heads, n_q, head_dim = query.shape
    n_keys, m = values.shape
    k32 = key.float()[None]  # [1, head, key, head_dim]
    mask = None if bias is None else bias[None, None, None, :]  # [1, 1, 1, key], broadcast over heads and queries
    # The CPU's fused kernel wants as many value columns as head_dim: groups of head_dim columns, zero-padded.
    groups = [F.pad(values[:, g : g + head_dim], (0, max(0, g + head_dim - m))) for g in range(0, m, head_dim)]
    out = torch.empty(heads, n_q, m, dtype=torch.float32, device=query.device)
    for a in range(0, n_q, chunk_size):
        q32 = query[None, :, a : a + chunk_size].float()  # [1, head, c, head_dim]
        c = q32.shape[2]
        for g, v in enumerate(groups):
            v4 = v[None, None].expand(1, heads, n_keys, head_dim)  # [1, head, key, head_dim], no copy
            res = _fused_or_bounded(q32, k32, v4, mask, scale)  # [1, head, c, head_dim]
            lo = g * head_dim
            width = min(head_dim, m - lo)
            out[:, a : a + c, lo : lo + width] = res[0, ..., :width]
    return out


def _fused_or_bounded(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """``scaled_dot_product_attention`` with a fused kernel; without one, the math kernel on small query chunks.

    The math kernel materialises ``[head, query, key]``: its chunks are sized so that this stays
    under :data:`_MATH_FALLBACK_BYTES` (same result, only slower).
    """
    try:
        with sdpa_kernel(_FUSED):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    except RuntimeError as exc:
        if "kernel" not in str(exc).lower() and "backend" not in str(exc).lower():
            raise
    log.debug("no fused attention kernel for %s on %s: math kernel on bounded chunks", q.dtype, q.device)
    heads, n_q, n_k = q.shape[1], q.shape[2], k.shape[2]
    rows = max(1, _MATH_FALLBACK_BYTES // (3 * 4 * heads * n_k))
    with sdpa_kernel([SDPBackend.MATH]):
        parts = [
            F.scaled_dot_product_attention(q[:, :, a : a + rows], k, v, attn_mask=mask, scale=scale)
            for a in range(0, n_q, rows)
        ]
    return torch.cat(parts, dim=2)


__all__ = [
    "FULL_MODE",
    "TEXT_MODE",
    "indicator_values",
    "joint_word_attention",
    "mask_bias",
    "reduce_tokens",
]

"""The exact word-level cross-attention of one ``attn2`` call, without materialising it.

Wan's cross-attention is ``softmax(q kᵀ / √d)`` per head over the text keys (no mask, no RoPE).
We recompute it in float32 over chunks of video tokens, take the log-sum-exp over *all* keys,
and keep only the marked words' columns, so the full ``[head, video_token, text_token]``
probabilities (~800 MB per call at 480×832×81) never exist.

Padding shortcut (exact, checked on the data): Wan pads the prompt embedding to 512 with
zero rows, so the padding keys are identical rows. ``n`` identical keys have identical
logits, so their share of the log-sum-exp is ``logit + log(n)``. We detect the trailing run of
identical key rows with an exact comparison and fold it into one column; the result equals
the 512-key softmax, at a fraction of the cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WordColumns:
    """Text-token columns of the marked words, concatenated: word ``w`` owns ``columns[starts[w]:ends[w]]``."""

    columns: tuple[int, ...]
    bounds: tuple[tuple[int, int], ...]

    @classmethod
    def from_words(cls, token_indices: list[tuple[int, ...]]) -> WordColumns:
        cols: list[int] = []
        bounds = []
        for idx in token_indices:
            bounds.append((len(cols), len(cols) + len(idx)))
            cols.extend(idx)
        return cls(tuple(cols), tuple(bounds))


def trailing_run_start(keys: torch.Tensor) -> int:
    """Index where the trailing run of rows identical to the last row starts (``keys``: ``[key, channel]``)."""
    same = (keys == keys[-1:]).all(dim=-1)  # [key]
    if not bool(same.all()):
        different = torch.nonzero(~same).flatten()
        return int(different[-1].item()) + 1
    return 0


def word_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    heads: int,
    words: WordColumns,
    token_reduction: str = "sum",
    num_real_keys: int | None = None,
    chunk_size: int = 4096,
) -> torch.Tensor:
    """Per-head attention of every video token to each marked word.

    Args:
        query: ``[video_token, heads * head_dim]``: the output of ``attn2.norm_q`` for one item.
        key: ``[text_token, heads * head_dim]``: the output of ``attn2.norm_k`` for one item.
        heads: number of attention heads.
        words: the marked words' text-token columns.
        token_reduction: ``"sum"`` | ``"mean"`` | ``"max"`` over each word's tokens.
        num_real_keys: ``None`` → softmax over every key (as the model does); an int ``n`` →
            softmax renormalised over the first ``n`` keys only.
        chunk_size: video tokens per chunk; extra memory is ``heads × chunk × kept keys`` floats.

    Returns:
        ``[heads, word, video_token]`` float32 probabilities.
    """
    n_q, width = query.shape
    head_dim = width // heads
    scale = 1.0 / math.sqrt(head_dim)
    if num_real_keys is not None:
        key = key[:num_real_keys]
        bias = None
        kept = key.shape[0]
    else:
        run = trailing_run_start(key)
        kept = min(run + 1, key.shape[0])
        n_fold = key.shape[0] - run  # identical trailing rows folded into column `run`
        key = key[:kept]
        bias = None
        if n_fold > 1:
            bias = torch.zeros(kept, dtype=torch.float32, device=key.device)  # [kept]
            bias[kept - 1] = math.log(n_fold)
    cols = torch.tensor([min(c, kept - 1) for c in words.columns], dtype=torch.long, device=key.device)  # [T]
    k = key.float().view(kept, heads, head_dim).permute(1, 2, 0)  # [head, head_dim, kept]
    out = torch.empty(heads, len(words.bounds), n_q, dtype=torch.float32, device=query.device)
    for start in range(0, n_q, chunk_size):
        q = query[start : start + chunk_size].float().view(-1, heads, head_dim).transpose(0, 1)  # [head, c, d]
        logits = torch.matmul(q, k).mul_(scale)  # [head, c, kept]
        lse = torch.logsumexp(logits if bias is None else logits + bias, dim=-1, keepdim=True)  # [head, c, 1]
        probs = torch.exp(logits.index_select(-1, cols) - lse)  # [head, c, T]
        for w, (a, b) in enumerate(words.bounds):
            seg = probs[..., a:b]  # [head, c, tokens of word w]
            if token_reduction == "sum":
                red = seg.sum(-1)
            elif token_reduction == "mean":
                red = seg.mean(-1)
            else:
                red = seg.amax(-1)
            out[:, w, start : start + q.shape[1]] = red
    return out


__all__ = ["WordColumns", "trailing_run_start", "word_attention"]

"""The exact word-level cross-attention of one attention call, without materialising it.

Cross-attention (the ``"cross"`` word math) is ``softmax(q kᵀ / √d + bias)`` per head over the text keys,
where ``bias`` is the model's additive key mask (none for Wan's ``attn2``; no RoPE). We recompute it in
float32 over chunks of video tokens, take the log-sum-exp over *all* keys, and keep only the marked words'
columns, so the full ``[head, video_token, text_token]`` probabilities (~800 MB per call at 480×832×81)
never exist.

Masked keys (``key_bias``): a model that masks its padding keys instead of feeding identical rows
(LTX-Video adds ``-10000`` to the logits of padded keys, ``0`` to real ones) is recomputed with that
very bias added to every logit, before the log-sum-exp and before the words' columns are read, so a
masked key's probability is what the model's is (exactly 0 in float32: ``exp(-10000 + …)`` underflows).

Padding shortcut (exact, checked on the data), for models whose padding keys are identical rows (a
family's ``text.padding == "identical_rows"``; Wan pads the prompt embedding to 512 with zero rows):
``n`` identical keys have identical logits, so their share of the log-sum-exp is ``logit + log(n)``:
we fold them into one column and the result equals the 512-key softmax at the cost of the real
tokens only. The number of
real tokens comes from the text encoder's attention mask; that the padding rows really are
identical is checked on the device, without synchronising, and read back once per step.
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
    """Index where the trailing run of rows identical to the last row starts (``keys``: ``[key, channel]``).

    Reads a value back from the device (a synchronisation): used only when the real token count
    is unknown (the caller passed ``prompt_embeds``).
    """
    same = (keys == keys[-1:]).all(dim=-1)  # [key]
    if not bool(same.all()):
        different = torch.nonzero(~same).flatten()
        return int(different[-1].item()) + 1
    return 0


def padding_rows_identical(keys: torch.Tensor, num_real_keys: int) -> torch.Tensor:
    """0-d bool tensor, on the device (no synchronisation): rows ``num_real_keys:`` of ``keys`` are all equal."""
    if num_real_keys >= keys.shape[0] - 1:
        return torch.ones((), dtype=torch.bool, device=keys.device)
    pad = keys[num_real_keys:]  # [pad, channel]
    return (pad == pad[-1:]).all()


#: ``exp`` of this is about 1.6e-38, the smallest normal float32 (below it CPUs take a slow path).
_EXP_FLOOR = -87.0


def _masked_probs(logits: torch.Tensor, columns: torch.Tensor, renormalise: bool) -> torch.Tensor:
    """``[head, c, T]`` softmax probabilities at ``columns`` of ``logits`` ``[head, c, key]`` (the bias added).

    ``exp(logits[columns] - logsumexp(logits))``, computed so that the masked keys (logits about -10000
    below the rest) cost no slow ``exp``: CPUs take a slow path for ``exp`` of inputs that underflow
    (measured 10x slower), and a mask makes most keys such inputs. In the sum of the log-sum-exp, every term
    below ``exp(-87)`` counts as ``exp(-87)`` (a few times 1e-38, against a sum of at least 1, whose float32
    resolution is 6e-8: the sum is the same); the probabilities themselves are taken from the unchanged
    logits, so a masked key's is exactly 0, as in the model. ``logits`` is overwritten.
    """
    peak = logits.amax(dim=-1, keepdim=True)  # [head, c, 1]
    logits.sub_(peak)  # every entry <= 0, the largest 0
    padded = torch.nn.functional.pad(logits, (0, 1), value=float("-inf")) if renormalise else logits
    picked = padded.index_select(-1, columns)  # [head, c, T]; renormalise: the extra column is excluded
    total = logits.clamp_(min=_EXP_FLOOR).exp_().sum(dim=-1, keepdim=True)  # [head, c, 1]
    return torch.exp(picked - total.log_())


def word_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    heads: int,
    columns: torch.Tensor,
    bounds: tuple[tuple[int, int], ...],
    num_real_keys: int,
    token_reduction: str = "sum",
    renormalise: bool = False,
    chunk_size: int = 4096,
    key_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-head attention of every video token to each marked word.

    Args:
        query: ``[video_token, heads * head_dim]``: the output of ``attn2.norm_q`` for one item.
        key: ``[text_token, heads * head_dim]``: the output of ``attn2.norm_k`` for one item; without
            ``key_bias``, rows from ``num_real_keys`` on must be identical (padding of identical rows; see
            :func:`padding_rows_identical`).
        heads: number of attention heads.
        columns: ``[T]`` long tensor on the key's device: the marked words' token columns, concatenated;
            with ``renormalise`` a column equal to ``num_real_keys`` stands for an excluded key
            (probability 0), without it a column ``>= num_real_keys`` must be clamped to
            ``num_real_keys`` (all padding keys are the same key) unless ``key_bias`` is given (then
            every key is its own column).
        bounds: ``(start, end)`` into ``columns`` for each word.
        num_real_keys: real (non-padding) text tokens, end-of-sequence included.
        token_reduction: ``"sum"`` | ``"mean"`` | ``"max"`` over each word's tokens.
        renormalise: ``False``: softmax over every key, as the model computes it; ``True``: softmax
            over the first ``num_real_keys`` keys only (padding excluded).
        chunk_size: video tokens per chunk; extra memory is about ``2 × heads × chunk × kept keys``
            float32 plus the chunk's query in float32.
        key_bias: ``[text_token]``: the model's additive attention bias on each key (the same for
            every head and query), added to the logits as the model adds it; no padding is folded.

    Returns:
        ``[heads, word, video_token]`` float32 probabilities.
    """
    n_q, width = query.shape
    n_keys = key.shape[0]
    head_dim = width // heads
    scale = 1.0 / math.sqrt(head_dim)
    mask = None  # [kept]: the model's own bias, part of every logit
    fold = None  # [kept]: log(n_pad) on the folded padding column, in the log-sum-exp only
    if key_bias is not None:
        kept = min(num_real_keys, n_keys) if renormalise else n_keys
        mask = key_bias[:kept].to(device=key.device, dtype=torch.float32)
    elif renormalise or num_real_keys >= n_keys:
        kept = min(num_real_keys, n_keys)
    else:
        kept = num_real_keys + 1  # the padding rows, folded into one column of weight n_pad
        n_pad = n_keys - num_real_keys
        if n_pad > 1:
            fold = torch.zeros(kept, dtype=torch.float32, device=key.device)
            fold[kept - 1] = math.log(n_pad)
    k = key[:kept].float().view(kept, heads, head_dim).permute(1, 2, 0)  # [head, head_dim, kept]
    out = torch.empty(heads, len(bounds), n_q, dtype=torch.float32, device=query.device)
    for start in range(0, n_q, chunk_size):
        q = query[start : start + chunk_size].float().view(-1, heads, head_dim).transpose(0, 1)  # [head, c, d]
        logits = torch.matmul(q, k).mul_(scale)  # [head, c, kept]
        if mask is not None:
            probs = _masked_probs(logits.add_(mask), columns, renormalise)  # [head, c, T]
        else:
            lse = torch.logsumexp(logits if fold is None else logits + fold, dim=-1, keepdim=True)  # [head, c, 1]
            if renormalise:  # one more column of -inf: the excluded keys, probability 0
                logits = torch.nn.functional.pad(logits, (0, 1), value=float("-inf"))
            probs = torch.exp(logits.index_select(-1, columns) - lse)  # [head, c, T]
        for w, (a, b) in enumerate(bounds):
            seg = probs[..., a:b]  # [head, c, tokens of word w]
            if token_reduction == "sum":
                red = seg.sum(-1)
            elif token_reduction == "mean":
                red = seg.mean(-1)
            else:
                red = seg.amax(-1)
            out[:, w, start : start + q.shape[1]] = red
    return out


__all__ = ["WordColumns", "padding_rows_identical", "trailing_run_start", "word_attention"]

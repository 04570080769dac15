"""The chunked, padding-folded computation against a plain softmax, on random tensors."""

from __future__ import annotations

import math

import pytest
import torch

from attention_visual.capture.attention_math import (
    WordColumns,
    padding_rows_identical,
    trailing_run_start,
    word_attention,
)

HEADS, D, NQ, NK, REAL = 3, 8, 37, 40, 9


def tensors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(NQ, HEADS * D, generator=g) * 2
    k = torch.randn(NK, HEADS * D, generator=g) * 2
    k[REAL:] = torch.randn(HEADS * D, generator=g)  # identical padding rows
    return q, k


def reference(q: torch.Tensor, k: torch.Tensor, cols: list[int], keys: int = NK) -> torch.Tensor:
    qh = q.double().view(NQ, HEADS, D).transpose(0, 1)
    kh = k[:keys].double().view(keys, HEADS, D).transpose(0, 1)
    p = torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(D), dim=-1)  # [head, q, key]
    return p[..., cols]


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_fold_equals_full_softmax(chunk: int) -> None:
    q, k = tensors()
    words = WordColumns.from_words([(2, 3), (7,)])
    cols = torch.tensor(words.columns)
    out = word_attention(q, k, HEADS, cols, words.bounds, num_real_keys=REAL, chunk_size=chunk)
    ref = reference(q, k, [2, 3, 7])
    torch.testing.assert_close(out[:, 0], ref[..., :2].sum(-1).float(), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 1], ref[..., 2].float(), atol=1e-6, rtol=0)


def test_renormalised_and_zero_column() -> None:
    q, k = tensors(1)
    words = WordColumns.from_words([(1, 4), (REAL,)])  # the second word sits past the real tokens
    cols = torch.tensor([min(c, REAL) for c in words.columns])
    out = word_attention(q, k, HEADS, cols, words.bounds, num_real_keys=REAL, renormalise=True, token_reduction="max")
    ref = reference(q, k, [1, 4], keys=REAL)
    torch.testing.assert_close(out[:, 0], ref.amax(-1).float(), atol=1e-6, rtol=0)
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))


def test_padding_detection() -> None:
    _, k = tensors()
    assert trailing_run_start(k) == REAL
    assert bool(padding_rows_identical(k, REAL))
    k[-1, 0] += 1.0
    assert not bool(padding_rows_identical(k, REAL))
    assert trailing_run_start(k) == NK - 1
    assert trailing_run_start(torch.ones(4, 2)) == 0


def masked(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct padding rows (LTX's T5 encodes pads without a mask) and the model's -10000 key bias."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(NQ, HEADS * D, generator=g) * 2
    k = torch.randn(NK, HEADS * D, generator=g) * 2
    bias = torch.zeros(NK)
    bias[REAL:] = -10000.0
    return q, k, bias


def biased_reference(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, keys: int = NK) -> torch.Tensor:
    """``[head, q, key]`` float64 ``softmax(q kᵀ/√d + bias)`` over the first ``keys`` keys."""
    qh = q.double().view(NQ, HEADS, D).transpose(0, 1)
    kh = k[:keys].double().view(keys, HEADS, D).transpose(0, 1)
    return torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(D) + bias[:keys].double(), dim=-1)


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_key_bias_equals_biased_softmax(chunk: int) -> None:
    q, k, bias = masked()
    bias[3] = 1.5  # any additive bias, not only a 0/-10000 mask
    words = WordColumns.from_words([(2, 3), (REAL + 4,)])  # the second word lies on a masked key
    cols = torch.tensor(words.columns)
    out = word_attention(q, k, HEADS, cols, words.bounds, num_real_keys=REAL, chunk_size=chunk, key_bias=bias)
    ref = biased_reference(q, k, bias)
    torch.testing.assert_close(out[:, 0], ref[..., [2, 3]].sum(-1).float(), atol=1e-6, rtol=0)
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))  # masked: exactly 0, as in the model
    assert torch.equal(ref[..., REAL:], torch.zeros_like(ref[..., REAL:]))


def test_key_bias_ignored_would_fail() -> None:
    """The distinct padding rows carry probability when the mask is dropped: the bias path matters."""
    q, k, bias = masked()
    words = WordColumns.from_words([(1,)])
    cols = torch.tensor(words.columns)
    with_mask = word_attention(q, k, HEADS, cols, words.bounds, num_real_keys=REAL, key_bias=bias)
    without = word_attention(q, k, HEADS, cols, words.bounds, num_real_keys=NK, key_bias=torch.zeros(NK))
    assert (with_mask - without).abs().max() > 1e-2


def test_key_bias_renormalised_over_real_keys() -> None:
    q, k, bias = masked(3)
    words = WordColumns.from_words([(0, 5), (REAL,)])
    cols = torch.tensor([min(c, REAL) for c in words.columns])  # REAL: an excluded key
    out = word_attention(
        q, k, HEADS, cols, words.bounds, num_real_keys=REAL, renormalise=True, token_reduction="mean", key_bias=bias
    )
    ref = biased_reference(q, k, bias, keys=REAL)
    torch.testing.assert_close(out[:, 0], ref[..., [0, 5]].mean(-1).float(), atol=1e-6, rtol=0)
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))


def test_masked_path_equals_the_plain_softmax_where_exp_underflows() -> None:
    """Masked keys' exp terms are set to 0 instead of computed (fast on CPUs): same numbers as computing them."""
    from attention_visual.capture.attention_math import _masked_probs

    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 7, 12, generator=g) * 4  # [head, query, key]
    logits[..., 8:] -= 10000.0  # masked keys
    logits[0, 0, 5] = logits[0, 0].max() - 100.0  # a real key whose probability is a float32 denormal
    columns = torch.tensor([0, 5, 9, 11])
    plain = torch.exp(logits.index_select(-1, columns) - torch.logsumexp(logits, dim=-1, keepdim=True))
    fast = _masked_probs(logits.clone(), columns, renormalise=False)
    torch.testing.assert_close(fast, plain, atol=1e-7, rtol=1e-6)
    assert torch.equal(fast == 0, plain == 0) and torch.equal(fast[..., 2:], torch.zeros_like(fast[..., 2:]))
    assert 0 < float(fast[0, 0, 1]) < 1e-38  # the denormal kept
    excluded = _masked_probs(logits[..., :8].clone(), torch.tensor([0, 8]), renormalise=True)
    assert torch.equal(excluded[..., 1], torch.zeros_like(excluded[..., 1]))  # column 8: the excluded keys

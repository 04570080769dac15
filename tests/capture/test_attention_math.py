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

"""The joint-attention word maps against an explicit float64 softmax over all keys, on random tensors."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest
import torch

from attention_visual.capture import joint_math
from attention_visual.capture.joint_math import FULL_MODE, TEXT_MODE, joint_word_attention, mask_bias

HEADS, D, N_VIDEO = 3, 8, 37


def tensors(
    n_text: int = 11, *, text_first: bool = True, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """``query [head, video, d]``, ``key [head, text + video, d]`` and the text keys' range."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(HEADS, N_VIDEO, D, generator=g) * 1.5
    k = torch.randn(HEADS, n_text + N_VIDEO, D, generator=g) * 1.5
    text = (0, n_text) if text_first else (N_VIDEO, N_VIDEO + n_text)
    return q, k, text


def reference(
    q: torch.Tensor,
    k: torch.Tensor,
    text: tuple[int, int],
    mask: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(full, text)``: float64 ``[head, video, key]`` probabilities over all keys / over the text keys only."""
    logits = q.double() @ k.double().transpose(1, 2) / math.sqrt(D)  # [head, video, key]
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    if bias is not None:
        logits = logits + bias.double()
    full = torch.softmax(logits, dim=-1)
    a, b = text
    text_only = torch.zeros_like(full)
    text_only[..., a:b] = torch.softmax(logits[..., a:b], dim=-1)
    return full, text_only


def words(*token_lists: tuple[int, ...]) -> tuple[torch.Tensor, tuple[tuple[int, int], ...]]:
    cols: list[int] = []
    bounds = []
    for tokens in token_lists:
        bounds.append((len(cols), len(cols) + len(tokens)))
        cols.extend(tokens)
    return torch.tensor(cols, dtype=torch.long), tuple(bounds)


def expected(probs: torch.Tensor, start: int, tokens: tuple[int, ...], how: str) -> torch.Tensor:
    sel = probs[..., [start + t for t in tokens]]  # [head, video, tokens]
    return {"sum": sel.sum(-1), "mean": sel.mean(-1), "max": sel.amax(-1)}[how]


@pytest.mark.parametrize("mode", [TEXT_MODE, FULL_MODE])
@pytest.mark.parametrize("how", ["sum", "mean", "max"])
@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_words_and_text_share_equal_the_float64_softmax(mode: str, how: str, chunk: int) -> None:
    q, k, text = tensors()
    word_tokens = ((2, 3), (7,), (0, 9, 10))
    cols, bounds = words(*word_tokens)
    out = joint_word_attention(
        q, k, text, cols, bounds, mode=mode, text_share=True, token_reduction=how, chunk_size=chunk
    )  # [head, word + 1, video]
    assert out.shape == (HEADS, 4, N_VIDEO) and out.dtype == torch.float32
    full, text_only = reference(q, k, text)
    probs = full if mode == FULL_MODE else text_only
    for w, tokens in enumerate(word_tokens):
        torch.testing.assert_close(out[:, w].double(), expected(probs, text[0], tokens, how), atol=1e-6, rtol=0)
    share = full[..., text[0] : text[1]].sum(-1)  # [head, video]
    torch.testing.assert_close(out[:, -1].double(), share, atol=1e-6, rtol=0)
    assert float(share.min()) > 0.005 and float(share.max()) < 0.995  # both parts of the softmax matter


def test_the_two_modes_differ_by_the_text_share() -> None:
    """p_full = p_text × <text>: the modes are not the same number under another name."""
    q, k, text = tensors(seed=3)
    cols, bounds = words((1, 4), (6,))
    t = joint_word_attention(q, k, text, cols, bounds, mode=TEXT_MODE, text_share=True)
    f = joint_word_attention(q, k, text, cols, bounds, mode=FULL_MODE)
    torch.testing.assert_close(f, t[:, :2] * t[:, 2:], atol=1e-6, rtol=1e-5)
    assert float((t[:, :2] - f).abs().max()) > 0.05


def test_text_keys_after_the_video_keys() -> None:
    """HunyuanVideo's order is [video, text]: the columns count from the text keys' start."""
    q, k, text = tensors(n_text=6, text_first=False, seed=1)
    cols, bounds = words((0,), (5, 2))
    full, text_only = reference(q, k, text)
    for mode, probs in ((TEXT_MODE, text_only), (FULL_MODE, full)):
        out = joint_word_attention(q, k, text, cols, bounds, mode=mode, text_share=True, chunk_size=4)
        torch.testing.assert_close(out[:, 0].double(), expected(probs, text[0], (0,), "sum"), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[:, 1].double(), expected(probs, text[0], (5, 2), "sum"), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[:, 2].double(), full[..., text[0] :].sum(-1), atol=1e-6, rtol=0)


def test_the_models_mask_gives_masked_keys_exactly_zero() -> None:
    """Masked keys (padding text keys, as HunyuanVideo masks them) are out of both softmaxes."""
    q, k, text = tensors(n_text=12, seed=2)
    mask = torch.ones(k.shape[1], dtype=torch.bool)
    mask[8:12] = False  # the last four text keys: padding
    cols, bounds = words((1, 3), (9,), (10, 2))  # a word on masked keys only; one half masked
    full, text_only = reference(q, k, text, mask)
    for mode, probs in ((TEXT_MODE, text_only), (FULL_MODE, full)):
        out = joint_word_attention(q, k, text, cols, bounds, key_bias=mask_bias(mask), mode=mode, text_share=True)
        torch.testing.assert_close(out[:, 0].double(), expected(probs, 0, (1, 3), "sum"), atol=1e-6, rtol=0)
        assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))
        torch.testing.assert_close(out[:, 2].double(), expected(probs, 0, (10, 2), "sum"), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[:, 3].double(), full[..., :12].sum(-1), atol=1e-6, rtol=0)
    unmasked = joint_word_attention(q, k, text, cols, bounds, mode=TEXT_MODE)
    assert float((unmasked[:, 0] - out[:, 0]).abs().max()) > 1e-3  # the mask changes the map


def test_key_group_shares_are_the_softmax_over_their_keys() -> None:
    """``<image>``/``<glyph>``: non-text key groups (one partly masked, one empty) after the words and ``<text>``."""
    q, k, _ = tensors(n_text=14, seed=4)
    text, image, glyph, empty = (N_VIDEO + 6, N_VIDEO + 14), (N_VIDEO, N_VIDEO + 4), (N_VIDEO + 4, N_VIDEO + 6), (5, 5)
    mask = torch.ones(k.shape[1], dtype=torch.bool)
    mask[N_VIDEO + 2 : N_VIDEO + 4] = False  # half the image group masked
    cols, bounds = words((1,), (3, 4))
    full, text_only = reference(q, k, text, mask)
    for mode, probs in ((TEXT_MODE, text_only), (FULL_MODE, full)):
        out = joint_word_attention(
            q, k, text, cols, bounds, key_bias=mask_bias(mask), mode=mode, text_share=True,
            key_shares=(image, glyph, empty),
        )  # fmt: skip
        assert out.shape == (HEADS, 6, N_VIDEO)
        torch.testing.assert_close(out[:, 1].double(), expected(probs, text[0], (3, 4), "sum"), atol=1e-6, rtol=0)
        for row, (a, b) in zip(range(2, 6), (text, image, glyph, empty), strict=True):
            torch.testing.assert_close(out[:, row].double(), full[..., a:b].sum(-1), atol=1e-6, rtol=0)
    assert torch.equal(out[:, 5], torch.zeros_like(out[:, 5]))
    shares = joint_word_attention(q, k, text, cols[:0], (), key_bias=mask_bias(mask), key_shares=(glyph,))
    torch.testing.assert_close(shares[:, 0].double(), full[..., glyph[0] : glyph[1]].sum(-1), atol=1e-6, rtol=0)


def test_a_finite_bias_is_added_as_the_model_adds_it() -> None:
    """LTX-style -10000 on padding and any other per-key bias: the same logits as the model's."""
    q, k, text = tensors(seed=9)
    bias = torch.linspace(-2.0, 1.0, k.shape[1])
    bias[3] = -10000.0
    cols, bounds = words((2, 3), (5,))
    full, text_only = reference(q, k, text, bias=bias)
    for mode, probs in ((TEXT_MODE, text_only), (FULL_MODE, full)):
        out = joint_word_attention(q, k, text, cols, bounds, key_bias=bias, mode=mode, text_share=True)
        torch.testing.assert_close(out[:, 0].double(), expected(probs, 0, (2, 3), "sum"), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[:, 1].double(), expected(probs, 0, (5,), "sum"), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[:, 2].double(), full[..., :11].sum(-1), atol=1e-6, rtol=0)


def test_more_marked_tokens_than_head_dim() -> None:
    """The value columns are split into groups of head_dim (the CPU kernel's value width)."""
    q, k, text = tensors(n_text=20, seed=4)
    tokens = tuple(range(19))  # 19 token columns + <text> = 20 > D = 8: three groups
    cols, bounds = words(tokens[:10], tokens[10:])
    out = joint_word_attention(q, k, text, cols, bounds, mode=FULL_MODE, text_share=True, token_reduction="max")
    full, _ = reference(q, k, text)
    torch.testing.assert_close(out[:, 0].double(), expected(full, 0, tokens[:10], "max"), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 1].double(), expected(full, 0, tokens[10:], "max"), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 2].double(), full[..., :20].sum(-1), atol=1e-6, rtol=0)


def test_bfloat16_inputs_are_computed_in_float32() -> None:
    """The model's own (low-precision) q and k, upcast: the same as the reference on those values."""
    q, k, text = tensors(seed=5)
    qb, kb = q.bfloat16(), k.bfloat16()
    cols, bounds = words((2,), (4, 5))
    full, text_only = reference(qb.float(), kb.float(), text)
    for mode, probs in ((TEXT_MODE, text_only), (FULL_MODE, full)):
        out = joint_word_attention(qb, kb, text, cols, bounds, mode=mode)
        torch.testing.assert_close(out[:, 1].double(), expected(probs, 0, (4, 5), "sum"), atol=1e-6, rtol=0)


def test_text_share_alone_and_no_words() -> None:
    q, k, text = tensors(seed=6)
    empty = torch.zeros(0, dtype=torch.long)
    out = joint_word_attention(q, k, text, empty, (), mode=FULL_MODE, text_share=True)
    full, _ = reference(q, k, text)
    assert out.shape == (HEADS, 1, N_VIDEO)
    torch.testing.assert_close(out[:, 0].double(), full[..., : text[1]].sum(-1), atol=1e-6, rtol=0)
    assert joint_word_attention(q, k, text, empty, ()).shape == (HEADS, 0, N_VIDEO)


def test_scale_is_the_models() -> None:
    q, k, text = tensors(seed=7)
    cols, bounds = words((3,))
    out = joint_word_attention(q, k, text, cols, bounds, mode=FULL_MODE, scale=0.5 / math.sqrt(D))
    full, _ = reference(q * 0.5, k, text)
    torch.testing.assert_close(out[:, 0].double(), full[..., 3], atol=1e-6, rtol=0)


def test_without_a_fused_kernel_the_math_kernel_runs_on_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fused kernel (here: only one the CPU lacks is allowed): same values, chunks of a few rows."""
    monkeypatch.setattr(joint_math, "_FUSED", [torch.nn.attention.SDPBackend.EFFICIENT_ATTENTION])
    monkeypatch.setattr(joint_math, "_MATH_FALLBACK_BYTES", 3 * 4 * HEADS * (11 + N_VIDEO) * 4)  # 4 rows
    q, k, text = tensors(seed=8)
    mask = torch.ones(k.shape[1], dtype=torch.bool)
    mask[5] = False
    cols, bounds = words(
        (2, 5),
    )
    out = joint_word_attention(q, k, text, cols, bounds, key_bias=mask_bias(mask), mode=FULL_MODE, text_share=True)
    full, _ = reference(q, k, text, mask)
    torch.testing.assert_close(out[:, 0].double(), full[..., 2], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 1].double(), full[..., :11].sum(-1), atol=1e-6, rtol=0)


def test_unknown_mode_and_bad_text_range() -> None:
    from attention_visual.errors import CaptureError

    q, k, text = tensors()
    cols, bounds = words((1,))
    with pytest.raises(CaptureError, match="mode"):
        joint_word_attention(q, k, text, cols, bounds, mode="both")
    with pytest.raises(CaptureError, match="text keys"):
        joint_word_attention(q, k, (0, k.shape[1] + 1), cols, bounds)
    with pytest.raises(CaptureError, match="key groups"):
        joint_word_attention(q, k, text, cols, bounds, key_shares=((3, k.shape[1] + 2),))


_MEMORY_PROBE = """
import resource, torch
from attention_visual.capture.joint_math import joint_word_attention
torch.set_num_threads(1)
h, n_video, n_text, d = 2, 6000, 226, 16
g = torch.Generator().manual_seed(0)
q = torch.randn(h, n_video, d, generator=g)
k = torch.randn(h, n_text + n_video, d, generator=g)
cols = torch.tensor([3, 4, 9])
joint_word_attention(q[:, :64], k, (0, n_text), cols, ((0, 2), (2, 3)), mode="full", text_share=True)  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
joint_word_attention(q, k, (0, n_text), cols, ((0, 2), (2, 3)), mode="full", text_share=True, chunk_size=n_video)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_full_mode_never_builds_the_video_by_all_keys_matrix() -> None:
    """One chunk of all 6000 queries: ``[head, video, key]`` float32 would be 300 MB; the peak grows by far less."""
    matrix = 2 * 6000 * 6226 * 4
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY_PROBE)], capture_output=True, text=True, timeout=300, check=True
    )
    grown = int(run.stdout.strip().splitlines()[-1])
    assert grown < matrix / 10, f"peak memory grew by {grown / 2**20:.0f} MiB"

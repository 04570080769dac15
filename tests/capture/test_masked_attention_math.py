"""The masked-key path of the word-attention math on a real LTX-Video cross-attention (the tiny model).

LTX's ``attn2`` has no RoPE and adds the transformer's bias (0 on real keys, -10000 on padding) to its
logits. Here the test's own hooks take what the attention consumed (the ``attn2`` inputs with their
``attention_mask``; the outputs of ``norm_q``/``norm_k``), the float64 reference recomputes q and k from
the weights, and :func:`word_attention` with that bias must equal it for both batch items of the batched
``[uncond, cond]`` pass, at every step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch

from attention_visual.capture.attention_math import WordColumns, word_attention
from attention_visual.models.tiny_ltx import TINY_LTX_SETTINGS, build_tiny_ltx
from capture.reference import AttnCall, record_attn2_inputs, reference_probs

PROMPT = "a cat and a dog"
STEPS = 2
WORDS = WordColumns.from_words([(1,), (4,)])  # ▁cat, ▁dog


@pytest.fixture(scope="module")
def run() -> tuple[Any, list[AttnCall], list[tuple[torch.Tensor, torch.Tensor]], list[torch.Tensor]]:
    """One 2-step generation: attn2 inputs, (norm_q, norm_k) outputs and attn2 outputs of every call."""
    pipe = build_tiny_ltx(0)
    with record_attn2_inputs(pipe.transformer, "transformer_blocks") as log, record_qk(pipe.transformer) as qk:
        outputs: list[torch.Tensor] = []
        handles = [
            block.attn2.register_forward_hook(lambda m, a, out: outputs.append(out.detach().clone()))
            for block in pipe.transformer.transformer_blocks
        ]
        try:
            kwargs = {**TINY_LTX_SETTINGS.call_kwargs(), "num_inference_steps": STEPS}
            pipe(prompt=PROMPT, negative_prompt="", generator=torch.Generator().manual_seed(0), **kwargs)
        finally:
            for h in handles:
                h.remove()
    assert pipe.tokenizer.convert_ids_to_tokens(pipe.tokenizer(PROMPT).input_ids)[1:5:3] == ["▁cat", "▁dog"]
    return pipe, log.calls, qk, outputs


@contextmanager
def record_qk(transformer: torch.nn.Module) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    records: list[tuple[torch.Tensor, torch.Tensor]] = []
    pending: list[torch.Tensor] = []
    handles = []
    for block in transformer.transformer_blocks:  # type: ignore[union-attr]
        handles.append(block.attn2.norm_q.register_forward_hook(lambda m, a, out: pending.append(out.detach())))
        handles.append(
            block.attn2.norm_k.register_forward_hook(lambda m, a, out: records.append((pending.pop(), out.detach())))
        )
    try:
        yield records
    finally:
        for h in handles:
            h.remove()


def test_reference_reproduces_the_attention_output(run: Any) -> None:
    """softmax(q kᵀ/√d + mask) · v, projected, is what attn2 returned: the reference is the model's attention."""
    _, calls, _, outputs = run
    assert len(calls) == len(outputs) == STEPS * 2  # one batched pass per step, 2 blocks
    for call, out in zip(calls, outputs, strict=True):
        attn = call.attn
        assert call.mask is not None and tuple(call.mask.shape) == (2, 1, 128)
        for item in range(2):
            probs = reference_probs(None, call, item)  # [head, video_token, key]
            v = torch.nn.functional.linear(
                call.context[item].double(), attn.to_v.weight.double(), attn.to_v.bias.double()
            )
            o = (probs @ v.view(v.shape[0], attn.heads, -1).transpose(0, 1)).transpose(0, 1).flatten(1)
            o = torch.nn.functional.linear(o, attn.to_out[0].weight.double(), attn.to_out[0].bias.double())
            torch.testing.assert_close(o.float(), out[item], atol=1e-5, rtol=0)


@pytest.mark.parametrize("item", [0, 1], ids=["uncond", "cond"])
def test_masked_word_attention_equals_float64_reference(run: Any, item: int) -> None:
    pipe, calls, qk, _ = run
    real = int(pipe.tokenizer(PROMPT if item else "", return_length=True)["length"][0])  # tokens with </s>
    cols = torch.tensor(WORDS.columns)
    for call, (q, k) in zip(calls, qk, strict=True):
        bias = call.mask[item, 0]  # [key], as the model adds it
        assert torch.equal(bias[:real], torch.zeros(real)) and (bias[real:] == -10000.0).all()
        got = word_attention(q[item], k[item], call.attn.heads, cols, WORDS.bounds, num_real_keys=real, key_bias=bias)
        ref = reference_probs(None, call, item)  # [head, video_token, key] float64
        assert torch.equal(ref[..., real:], torch.zeros_like(ref[..., real:]))  # masked keys: exactly 0
        for w, c in enumerate(WORDS.columns):
            torch.testing.assert_close(got[:, w], ref[..., c].float(), atol=1e-5, rtol=0)
        if item == 0:  # the negative prompt "" has one real token: both words sit on masked keys
            assert torch.equal(got, torch.zeros_like(got))
        else:
            assert got.amax() > 0.05


def test_renormalised_over_real_keys(run: Any) -> None:
    pipe, calls, qk, _ = run
    real = int(pipe.tokenizer(PROMPT, return_length=True)["length"][0])
    cols = torch.tensor(WORDS.columns)
    for call, (q, k) in zip(calls, qk, strict=True):
        got = word_attention(
            q[1],
            k[1],
            call.attn.heads,
            cols,
            WORDS.bounds,
            num_real_keys=real,
            renormalise=True,
            key_bias=call.mask[1, 0],
        )
        ref = reference_probs(None, call, 1)[..., :real]
        ref = ref / ref.sum(-1, keepdim=True)
        torch.testing.assert_close(got[:, 1], ref[..., 4].float(), atol=1e-5, rtol=0)


def test_breakages_are_caught(run: Any) -> None:
    """Mask ignored or batch items swapped: the maps no longer match the reference."""
    pipe, calls, qk, _ = run
    real = int(pipe.tokenizer(PROMPT, return_length=True)["length"][0])
    cols = torch.tensor(WORDS.columns)
    call, (q, k) = calls[0], qk[0]
    ref = reference_probs(None, call, 1)[..., list(WORDS.columns)].permute(0, 2, 1).float()  # [head, word, video]
    unmasked = word_attention(q[1], k[1], 2, cols, WORDS.bounds, num_real_keys=128, key_bias=torch.zeros(128))
    swapped = word_attention(q[0], k[0], 2, cols, WORDS.bounds, num_real_keys=real, key_bias=call.mask[0, 0])
    for broken in (unmasked, swapped):
        assert (broken - ref).abs().max() > 1e-3

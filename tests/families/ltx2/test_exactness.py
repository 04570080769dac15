"""LTX-2 maps equal an explicit float64 softmax over all text keys (registers included), non-square grid.

The reference (:mod:`capture.reference`) records every ``attn2`` call's inputs and ``attention_mask`` with its
own hooks and recomputes q and k from the weights in float64. The key columns of a word are derived here
from the tokenizer, apart from the capture: the pipeline pads on the left, and the connector moves the real
tokens to the front, so a word's key column is its padded position less the padding. Each step runs one
batched ``[uncond, cond]`` call (item 0 ``uncond``, item 1 ``cond``), then the ``uncond_stg`` and
``uncond_modality`` calls (one item each), which the capture ignores. ``LTX2ConditionPipeline`` appends a
keyframe's tokens (a condition at latent index > 0) after the grid's: the reference is read over the grid's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.errors import CaptureError
from attention_visual.models.tiny_ltx2 import (
    TINY_LTX2_SETTINGS,
    build_tiny_ltx2,
    build_tiny_ltx2_condition,
    build_tiny_ltx2_i2v,
)
from attention_visual.models.tiny_variants import tiny_image
from capture.reference import AttnCall, record_attn2_inputs, reduce_word, reference_probs

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
CLEAN = "A romantic kiss between a man and woman with flowers"
NEGATIVE = "a dark and blurry room with a cat near a window"
STEPS = 3
BLOCKS = 2
GRID = TINY_LTX2_SETTINGS.latent_grid  # (3, 2, 3): frames, y, x — non-square
CELLS = GRID[0] * GRID[1] * GRID[2]  # the grid's query rows lead; keyframe tokens follow them
TEXT = TINY_LTX2_SETTINGS.max_sequence_length  # 128 keys: the real tokens, then learned registers
ITEM = {"uncond": 0, "cond": 1}  # the batch item of each guidance pass
CALL = {
    **TINY_LTX2_SETTINGS.call_kwargs(),
    "num_inference_steps": STEPS,
    "output_type": "latent",
    "spatio_temporal_guidance_blocks": [1],  # the STG call perturbs block 1 (the default, 28, is past 2 blocks)
}


@dataclass
class Run:
    capture: AttentionCapture
    calls: list[AttnCall]  # every attn2 call of the run, in order

    def batched(self) -> list[list[AttnCall]]:
        """Per step, the attn2 calls of the batched ``[uncond, cond]`` transformer call."""
        calls = [c for c in self.calls if c.hidden.shape[0] == 2]
        assert len(calls) == STEPS * BLOCKS and len(self.calls) == 3 * STEPS * BLOCKS  # + STG + modality
        return [calls[s * BLOCKS : (s + 1) * BLOCKS] for s in range(STEPS)]


def run(pipe: Any, settings: CaptureSettings | None = None, **call: Any) -> Run:
    with (
        record_attn2_inputs(pipe.transformer, "transformer_blocks") as log,
        AttentionCapture(pipe, PROMPT, settings, max_sequence_length=TEXT) as cap,
    ):
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **{**CALL, **call})
    return Run(cap, log.calls)


def key_columns(tokenizer: Any, text: str, pieces: tuple[str, ...]) -> tuple[int, ...]:
    """The text-key columns of the real tokens whose pieces are ``pieces``, from the tokenizer alone."""
    enc = tokenizer(text, padding="max_length", max_length=TEXT, padding_side="left")
    tokens = tokenizer.convert_ids_to_tokens(enc.input_ids)
    pad = TEXT - sum(enc.attention_mask)
    assert all(m == 0 for m in enc.attention_mask[:pad]) and tokens[pad] == "<bos>"  # left-padded, <bos> first
    return tuple(i - pad for i, t in enumerate(tokens) if i >= pad and t in pieces)


def expected(calls: list[AttnCall], item: int, columns: tuple[int, ...], how: str = "sum") -> torch.Tensor:
    """``[block, head, frame, y, x]`` float64 reference of one batch item over all keys, the grid's rows."""
    per_block = [reduce_word(reference_probs(None, c, item), columns, how)[:, :CELLS] for c in calls]
    return torch.stack(per_block).reshape(len(calls), -1, *GRID)


@pytest.fixture(scope="module")
def ltx2() -> Any:
    return build_tiny_ltx2(0)


@pytest.fixture(scope="module")
def both(ltx2: Any) -> Run:
    """Both passes, per block and per head: one run checks the default map's every ingredient."""
    settings = CaptureSettings(guidance_pass="both", store_per_block=True, store_per_head=True)
    return run(ltx2, settings, negative_prompt=NEGATIVE)


def test_the_words_key_columns_are_their_positions_among_the_real_tokens(ltx2: Any, both: Run) -> None:
    kiss, flowers = both.capture.tokens.targets
    assert kiss.token_indices == key_columns(ltx2.tokenizer, CLEAN, ("▁kiss",)) == (3,)  # <bos> A ▁romantic ▁kiss
    assert flowers.token_indices == key_columns(ltx2.tokenizer, CLEAN, ("▁flow", "ers"))
    assert len(flowers.token_indices) == 2  # a word of two pieces


def test_every_key_is_attended_and_the_bias_is_zero(both: Run) -> None:
    """The connector's registers replace the padding and its mask comes back all ones: bias 0 on every key."""
    for call in both.calls:
        assert call.mask is not None and call.mask.shape == (call.hidden.shape[0], 1, TEXT)
        assert torch.equal(call.mask, torch.zeros_like(call.mask))


@pytest.mark.parametrize("how", ["sum", "mean", "max"])
def test_both_passes_per_block_and_head_equal_the_reference(ltx2: Any, both: Run, how: str) -> None:
    cap = both.capture
    if how != "sum":  # the reduction of a word's tokens: one more run per reduction
        cap = run(ltx2, CaptureSettings(guidance_pass="both", store_per_block=True, store_per_head=True,
                                         token_reduction=how), negative_prompt=NEGATIVE).capture  # fmt: skip
    maps = cap.word_maps()
    for word, pieces in (("kiss", ("▁kiss",)), ("flowers", ("▁flow", "ers"))):
        columns = key_columns(ltx2.tokenizer, CLEAN, pieces)
        got = maps[word]
        assert got.shape == (STEPS, 2, BLOCKS, 2, *GRID)  # [step, pass, block, head, frame, y, x]
        for s, calls in enumerate(both.batched()):
            for p, name in enumerate(("cond", "uncond")):
                np.testing.assert_allclose(got[s, p], expected(calls, ITEM[name], columns, how), atol=1e-5, rtol=0)
        assert float(np.ptp(got[:, 0])) > 1e-3  # not uniform: a transposed axis would show
    assert not np.allclose(maps["kiss"][:, 0], maps["kiss"][:, 1])  # swapped items would not match


def test_the_default_map_is_the_cond_item_averaged(ltx2: Any, both: Run) -> None:
    cap = run(ltx2, negative_prompt=NEGATIVE).capture
    got = cap.word_maps()["kiss"]
    assert got.shape == (STEPS, *GRID)  # [step, frame, y, x]
    np.testing.assert_allclose(got, both.capture.word_maps()["kiss"][:, 0].mean(axis=(1, 2)), atol=1e-6)
    assert [(r.pass_name, r.step_index) for r in cap.records] == [("cond", s) for s in range(STEPS)]
    assert [r.timestep for r in cap.records] == [float(t) for t in ltx2.scheduler.timesteps]


def test_padding_excluded_renormalises_over_the_real_tokens(ltx2: Any, both: Run) -> None:
    cap = run(ltx2, CaptureSettings(padding="exclude"), negative_prompt=NEGATIVE).capture
    n_real = cap.tokens.num_real_tokens
    assert n_real == 12  # <bos> and 11 pieces; keys n_real.. are registers
    columns = key_columns(ltx2.tokenizer, CLEAN, ("▁flow", "ers"))
    got = cap.word_maps()["flowers"]
    for s, calls in enumerate(both.batched()):
        per_block = []
        for call in calls:
            p = reference_probs(None, call, ITEM["cond"])[..., :n_real]
            per_block.append(reduce_word(p / p.sum(-1, keepdim=True), columns))
        np.testing.assert_allclose(got[s], torch.stack(per_block).mean(dim=(0, 1)).reshape(GRID), atol=1e-5, rtol=0)
    assert (got > both.capture.word_maps()["flowers"][:, 0].mean(axis=(1, 2)) - 1e-7).all()  # registers left out


def test_the_empty_negative_prompt_reads_registers_in_the_uncond_item(ltx2: Any) -> None:
    """``""`` is ``<bos>`` alone: the words' columns hold registers there, attended as the model attends them."""
    r = run(ltx2, CaptureSettings(guidance_pass="uncond"), negative_prompt="")
    columns = key_columns(ltx2.tokenizer, CLEAN, ("▁kiss",))
    for s, calls in enumerate(r.batched()):
        ref = expected(calls, ITEM["uncond"], columns).mean(dim=(0, 1))
        np.testing.assert_allclose(r.capture.word_maps()["kiss"][s], ref, atol=1e-5, rtol=0)
    excluded = run(ltx2, CaptureSettings(guidance_pass="uncond", padding="exclude"), negative_prompt="").capture
    np.testing.assert_array_equal(excluded.word_maps()["kiss"], 0.0)  # no real token there


def test_guidance_off_records_the_one_item() -> None:
    pipe = build_tiny_ltx2(1)
    off = {"guidance_scale": 1.0, "stg_scale": 0.0, "modality_scale": 1.0}  # video, then audio's own (default on)
    r = run(pipe, **off, **{f"audio_{k}": v for k, v in off.items()})
    assert len(r.calls) == STEPS * BLOCKS and all(c.hidden.shape[0] == 1 for c in r.calls)  # one call per step
    columns = key_columns(pipe.tokenizer, CLEAN, ("▁kiss",))
    for s in range(STEPS):
        ref = expected(r.calls[s * BLOCKS : (s + 1) * BLOCKS], 0, columns).mean(dim=(0, 1))
        np.testing.assert_allclose(r.capture.word_maps()["kiss"][s], ref, atol=1e-5, rtol=0)


def test_ltx_2_3_layout_equals_the_reference() -> None:
    """Gated attention, cross-attention modulation, perturbed processors, per-stream text projections."""
    pipe = build_tiny_ltx2(0, version="2.3")
    r = run(pipe, CaptureSettings(guidance_pass="both"), negative_prompt=NEGATIVE)
    columns = key_columns(pipe.tokenizer, CLEAN, ("▁flow", "ers"))
    got = r.capture.word_maps()["flowers"]
    for s, calls in enumerate(r.batched()):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected(calls, ITEM[name], columns).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s, p], ref, atol=1e-5, rtol=0)


def test_image_to_video_records_the_denoising_timestep() -> None:
    """Per-token timesteps t·(1 − mask): frame 0, the image, carries 0; the step is t; both items match."""
    pipe = build_tiny_ltx2_i2v(0)
    image = tiny_image(TINY_LTX2_SETTINGS.height, TINY_LTX2_SETTINGS.width)
    settings = CaptureSettings(guidance_pass="both")
    r = run(pipe, settings, image=image, image_crf=0, negative_prompt=NEGATIVE)  # image_crf=0: no PyAV re-compression
    cond = [rec for rec in r.capture.records if rec.pass_name == "cond"]
    assert [rec.timestep for rec in cond] == [float(t) for t in pipe.scheduler.timesteps]
    assert r.capture.conditioning_frames == (0,)
    columns = key_columns(pipe.tokenizer, CLEAN, ("▁kiss",))
    got = r.capture.word_maps()["kiss"]
    for s, calls in enumerate(r.batched()):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected(calls, ITEM[name], columns).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s, p], ref, atol=1e-5, rtol=0)


def conditions(kind: str) -> list[Any] | None:
    """The condition pipeline's ``conditions``: the image at latent index 0; plus a keyframe at index 2; none.

    ``crf=0``: no PyAV re-compression. The keyframe (one image: one latent frame, 6 tokens) is appended.
    """
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    h, w = TINY_LTX2_SETTINGS.height, TINY_LTX2_SETTINGS.width
    first = LTX2VideoCondition(frames=tiny_image(h, w), index=0, strength=1.0, crf=0)
    keyframe = LTX2VideoCondition(frames=tiny_image(h, w, seed=1), index=2, strength=0.9, crf=0)
    return {"image": [first], "keyframe": [first, keyframe], "none": None}[kind]


@pytest.fixture(scope="module")
def condition() -> Any:
    return build_tiny_ltx2_condition(0)


@pytest.mark.parametrize(("kind", "tokens", "held"), [("image", CELLS, (0,)), ("keyframe", CELLS + 6, (0,)),
                                                      ("none", CELLS, ())])  # fmt: skip
def test_the_condition_pipeline_equals_the_reference(condition: Any, kind: str, tokens: int, held: tuple) -> None:
    """Frame 0 overwritten by the image (timestep 0 there: conditioning); a keyframe's tokens left out."""
    settings = CaptureSettings(guidance_pass="both", store_per_block=True, store_per_head=True)
    r = run(condition, settings, conditions=conditions(kind), negative_prompt=NEGATIVE)
    assert all(c.hidden.shape[1] == tokens for c in r.calls)  # the keyframe's tokens reach attn2
    assert r.capture.conditioning_frames == held
    cond = [rec for rec in r.capture.records if rec.pass_name == "cond"]
    assert [rec.timestep for rec in cond] == [float(t) for t in condition.scheduler.timesteps]
    columns = key_columns(condition.tokenizer, CLEAN, ("▁flow", "ers"))
    got = r.capture.word_maps()["flowers"]
    assert got.shape == (STEPS, 2, BLOCKS, 2, *GRID)  # [step, pass, block, head, frame, y, x]
    for s, calls in enumerate(r.batched()):
        for p, name in enumerate(("cond", "uncond")):
            np.testing.assert_allclose(got[s, p], expected(calls, ITEM[name], columns), atol=1e-5, rtol=0)
    assert float(np.ptp(got[:, 0])) > 1e-3


@pytest.mark.parametrize("kind", ["t2v", "i2v", "condition"])
def test_video_and_audio_are_bit_identical_and_every_hook_is_removed(ltx2: Any, kind: str) -> None:
    h, w = TINY_LTX2_SETTINGS.height, TINY_LTX2_SETTINGS.width
    i2v = {"image": tiny_image(h, w), "image_crf": 0}
    pipe, inputs = {
        "t2v": (ltx2, {}),
        "i2v": (build_tiny_ltx2_i2v(0), i2v),
        "condition": (build_tiny_ltx2_condition(0), {"conditions": conditions("keyframe")}),
    }[kind]
    kwargs = {**CALL, "num_inference_steps": 2, "output_type": "np", **inputs}
    plain = pipe(prompt=CLEAN, generator=torch.Generator().manual_seed(3), **kwargs)
    modules = [m for part in (pipe.transformer, pipe.text_encoder, pipe.connectors) for m in part.modules()]
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    registry = getattr(pipe.transformer, "_diffusers_hook", None)  # the pipeline's cache_context made one
    with AttentionCapture(pipe, PROMPT, max_sequence_length=TEXT) as cap:
        captured = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(3), **kwargs)
        assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules) > 0
    assert np.array_equal(plain.frames, captured.frames)
    assert torch.equal(plain.audio, captured.audio)
    assert cap.word_maps()["kiss"].shape == (2, *GRID)
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
    assert getattr(pipe.transformer, "_diffusers_hook", None) is registry and not (registry and registry.hooks)
    assert "forward" not in vars(pipe.transformer)


def cond_error(pipe: Any) -> float:
    """Largest difference between the captured ``kiss`` maps and the float64 reference of the cond item."""
    r = run(pipe, negative_prompt=NEGATIVE)
    columns = key_columns(pipe.tokenizer, CLEAN, ("▁kiss",))
    refs = [expected(calls, ITEM["cond"], columns).mean(dim=(0, 1)).numpy() for calls in r.batched()]
    return float(np.abs(r.capture.word_maps()["kiss"] - np.stack(refs)).max())


def test_deliberate_breakages_fail(ltx2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch items swapped: the maps leave the reference; left padding ignored: the words fall on padding."""
    import attention_visual.capture.capture as capture_module
    from attention_visual.families import family_named
    from attention_visual.families.runtime import runtime_of

    runtime: Any = runtime_of(family_named("ltx2"))
    assert cond_error(ltx2) <= 1e-5
    swapped = {cls: v.replace(batch_passes=("cond", "uncond")) for cls, v in runtime._BY_CLASS.items()}
    with monkeypatch.context() as m:
        m.setattr(runtime, "_BY_CLASS", swapped)
        assert cond_error(ltx2) > 1e-3
    tokenize = capture_module.tokenize_marked

    def tokenized_order(*args: Any, **kwargs: Any) -> Any:  # the words' padded positions taken as key columns
        return tokenize(*args, **{**kwargs, "real_first": False})

    with monkeypatch.context() as m:
        m.setattr(capture_module, "tokenize_marked", tokenized_order)
        with pytest.raises(CaptureError, match=r"reach position 1[0-9][0-9] but the text has only 12 real tokens"):
            cond_error(ltx2)

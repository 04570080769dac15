"""LTX-Video maps equal an explicit float64 softmax with the model's own mask, on a non-square grid.

The reference (:mod:`capture.reference`) records every ``attn2`` call's inputs and ``attention_mask`` with
its own hooks, recomputes q and k from the weights in float64 and adds the mask as the model adds it.
The batched ``[uncond, cond]`` call holds both guidance passes: item 0 is ``uncond``, item 1 ``cond``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.models.tiny_ltx import (
    TINY_LTX_SETTINGS,
    build_tiny_ltx,
    build_tiny_ltx_condition,
    build_tiny_ltx_i2v,
)
from attention_visual.models.tiny_variants import tiny_image
from capture.reference import AttnCall, record_attn2_inputs, reduce_word, reference_probs

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
NEGATIVE = "a dark and blurry room with a cat near a window"  # longer than the words' positions: not masked
STEPS = 3
GRID = TINY_LTX_SETTINGS.latent_grid  # (3, 2, 3): frames, y, x — non-square
ITEM = {"uncond": 0, "cond": 1}  # the batch item of each guidance pass


@pytest.fixture(scope="module")
def ltx() -> Any:
    return build_tiny_ltx(0)


def run(pipe: Any, settings: CaptureSettings, **call: Any) -> tuple[AttentionCapture, list[AttnCall], Any]:
    kwargs = {**TINY_LTX_SETTINGS.call_kwargs(), "num_inference_steps": STEPS, "output_type": "latent", **call}
    with (
        record_attn2_inputs(pipe.transformer, "transformer_blocks") as log,
        AttentionCapture(pipe, PROMPT, settings) as cap,
    ):
        out = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs).frames
    return cap, log.calls, out


def by_step(calls: list[AttnCall], blocks: int = 2) -> list[list[AttnCall]]:
    """One batched call per step: ``blocks`` attn2 calls each."""
    assert len(calls) == STEPS * blocks
    return [calls[s * blocks : (s + 1) * blocks] for s in range(STEPS)]


def expected(
    calls: list[AttnCall], item: int, columns: tuple[int, ...], how: str = "sum", skip: int = 0
) -> torch.Tensor:
    """``[block, head, frame, y, x]`` float64 reference of one batch item (``skip`` leading tokens dropped)."""
    per_block = [reduce_word(reference_probs(None, c, item)[:, skip:], columns, how) for c in calls]
    return torch.stack(per_block).reshape(len(calls), -1, *GRID)


def test_default_maps_are_the_cond_item(ltx: Any) -> None:
    cap, calls, _ = run(ltx, CaptureSettings(), negative_prompt=NEGATIVE)
    maps = cap.word_maps()
    assert set(maps) == {"kiss", "flowers"} and cap.tokens.max_sequence_length == 128  # the family's default
    for target in cap.tokens.targets:
        got = maps[target.word]
        assert got.shape == (STEPS, *GRID)  # [step, frame, y, x]
        for s, step_calls in enumerate(by_step(calls)):
            ref = expected(step_calls, ITEM["cond"], target.token_indices).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)
        assert float(np.ptp(got)) > 1e-3  # not uniform: a transposed axis would show


def test_both_passes_pick_their_batch_items(ltx: Any) -> None:
    cap, calls, _ = run(ltx, CaptureSettings(guidance_pass="both"), negative_prompt=NEGATIVE)
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]
    assert got.shape == (STEPS, 2, *GRID)  # [step, pass, frame, y, x]
    for s, step_calls in enumerate(by_step(calls)):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected(step_calls, ITEM[name], kiss.token_indices).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s, p], ref.numpy(), atol=1e-5, rtol=0)
    assert not np.allclose(got[:, 0], got[:, 1])  # swapped items would not match


def test_masked_keys_get_exactly_zero(ltx: Any) -> None:
    """The empty negative prompt has one real token: both words sit on masked keys in the uncond item."""
    cap, calls, _ = run(ltx, CaptureSettings(guidance_pass="uncond"), negative_prompt="")
    for target in cap.tokens.targets:
        np.testing.assert_array_equal(cap.word_maps()[target.word], 0.0)
    probs = reference_probs(None, calls[0], ITEM["uncond"])
    assert torch.equal(probs[..., 1:], torch.zeros_like(probs[..., 1:]))  # as the model computes it


@pytest.mark.parametrize("how", ["sum", "mean", "max"])
def test_per_block_per_head_and_token_reduction(ltx: Any, how: str) -> None:
    settings = CaptureSettings(store_per_block=True, store_per_head=True, token_reduction=how)
    cap, calls, _ = run(ltx, settings)
    flowers = cap.tokens.targets[1]
    got = cap.word_maps()["flowers"]
    assert got.shape == (STEPS, 2, 2, *GRID)  # [step, block, head, frame, y, x]
    for s, step_calls in enumerate(by_step(calls)):
        np.testing.assert_allclose(got[s], expected(step_calls, 1, flowers.token_indices, how).numpy(), atol=1e-5)


def test_padding_excluded_renormalises_over_real_tokens(ltx: Any) -> None:
    cap, calls, _ = run(ltx, CaptureSettings(padding="exclude"))
    n_real = cap.tokens.num_real_tokens
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]
    for s, step_calls in enumerate(by_step(calls)):
        per_block = []
        for call in step_calls:
            p = reference_probs(None, call, ITEM["cond"])[..., :n_real]
            per_block.append(reduce_word(p / p.sum(-1, keepdim=True), kiss.token_indices))
        ref = torch.stack(per_block).mean(dim=(0, 1)).reshape(GRID)
        np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)


def test_steps_and_timesteps_are_counted_and_checked(ltx: Any) -> None:
    cap, _, _ = run(ltx, CaptureSettings())
    assert [r.step_index for r in cap.records] == list(range(STEPS))
    assert [r.timestep for r in cap.records] == [float(t) for t in ltx.scheduler.timesteps]


def test_image_to_video_records_the_denoising_timestep() -> None:
    """Per-token timesteps t·(1 − mask): frame 0 (the image) carries 0, the step is t; frame 0 is conditioning."""
    pipe = build_tiny_ltx_i2v(0)
    cap, calls, _ = run(pipe, CaptureSettings(), image=tiny_image(TINY_LTX_SETTINGS.height, TINY_LTX_SETTINGS.width))
    assert [r.timestep for r in cap.records] == [float(t) for t in pipe.scheduler.timesteps]
    assert cap.conditioning_frames == (0,)
    kiss = cap.tokens.targets[0]
    for s, step_calls in enumerate(by_step(calls)):
        ref = expected(step_calls, ITEM["cond"], kiss.token_indices).mean(dim=(0, 1))
        np.testing.assert_allclose(cap.word_maps()["kiss"][s], ref.numpy(), atol=1e-5, rtol=0)


def test_condition_pipeline_drops_the_prepended_tokens() -> None:
    """An item at frame 8 adds one latent grid (6 tokens) before the video's 18: not a video position."""
    pipe = build_tiny_ltx_condition(0)
    h, w = TINY_LTX_SETTINGS.height, TINY_LTX_SETTINGS.width
    conditions = [
        LTXVideoCondition(image=tiny_image(h, w), frame_index=0),
        LTXVideoCondition(image=tiny_image(h, w, 1), frame_index=8),
    ]
    cap, calls, _ = run(pipe, CaptureSettings(guidance_pass="both"), conditions=conditions)
    assert calls[0].hidden.shape[1] == 6 + 18
    assert cap.conditioning_frames == (0,)  # the item at frame 0 (timestep 0); the prepended one is no frame
    got = cap.word_maps()["flowers"]
    assert got.shape == (STEPS, 2, *GRID)
    flowers = cap.tokens.targets[1]
    for s, step_calls in enumerate(by_step(calls)):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected(step_calls, ITEM[name], flowers.token_indices, skip=6).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s, p], ref.numpy(), atol=1e-5, rtol=0)
    # per-token timesteps min(t, (1 − mask)·1000): the recorded one is the step's t
    assert [r.timestep for r in cap.records if r.pass_name == "cond"] == [
        float(t) for t in pipe.scheduler.timesteps[-STEPS:]
    ]


@pytest.mark.parametrize("kind", ["t2v", "i2v", "condition"])
def test_video_is_bit_identical_and_every_hook_is_removed(ltx: Any, kind: str) -> None:
    h, w = TINY_LTX_SETTINGS.height, TINY_LTX_SETTINGS.width
    pipe, inputs = {
        "t2v": (ltx, {}),
        "i2v": (build_tiny_ltx_i2v(0), {"image": tiny_image(h, w)}),
        "condition": (
            build_tiny_ltx_condition(0),
            {"conditions": [LTXVideoCondition(tiny_image(h, w), frame_index=8)]},
        ),
    }[kind]
    kwargs = {**TINY_LTX_SETTINGS.call_kwargs(), "num_inference_steps": 2, "output_type": "np", **inputs}
    plain = pipe(
        prompt="A romantic kiss between a man and woman with flowers",
        generator=torch.Generator().manual_seed(3),
        **kwargs,
    ).frames
    modules = list(pipe.transformer.modules()) + list(pipe.text_encoder.modules())
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    registry = getattr(pipe.transformer, "_diffusers_hook", None)  # the pipeline's cache_context made one
    with AttentionCapture(pipe, PROMPT) as cap:
        captured = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(3), **kwargs).frames
        assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules) > 0
    assert np.array_equal(plain, captured)
    assert cap.word_maps()["kiss"].shape == (2, *GRID)
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
    assert getattr(pipe.transformer, "_diffusers_hook", None) is registry and not (registry and registry.hooks)
    assert "forward" not in vars(pipe.transformer)


def cond_error(ltx: Any) -> float:
    """Largest difference between the captured ``kiss`` maps and the float64 reference of the cond item."""
    cap, calls, _ = run(ltx, CaptureSettings(), negative_prompt=NEGATIVE)
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]
    refs = [expected(c, ITEM["cond"], kiss.token_indices).mean(dim=(0, 1)).numpy() for c in by_step(calls)]
    return float(np.abs(got - np.stack(refs)).max())


def test_deliberate_breakages_fail_the_comparison(ltx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mask ignored, or batch items swapped: the maps leave the reference by far more than 1e-5."""
    from attention_visual.families.interface import AttentionInputs, Measure, Probe
    from attention_visual.families.ltx import runtime

    assert cond_error(ltx) <= 1e-5

    def unmasked(slots: Any) -> AttentionInputs:
        return AttentionInputs("cross", slots["query"], slots["key"])  # the model's bias dropped

    with monkeypatch.context() as m:
        m.setattr(runtime, "_PROBE", Probe(runtime._PROBE.points, (Measure("words", "key", unmasked),)))
        assert cond_error(ltx) > 1e-3
    swapped = {cls: v.replace(batch_passes=("cond", "uncond")) for cls, v in runtime._BY_CLASS.items()}
    with monkeypatch.context() as m:
        m.setattr(runtime, "_BY_CLASS", swapped)
        assert cond_error(ltx) > 1e-3

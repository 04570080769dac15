"""Every captured value equals an explicit softmax reference, on a non-square token grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.models import TINY_DEFAULTS
from capture.reference import record_attn2_inputs, reduce_word, reference_probs

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
STEPS = 3
GRID = TINY_DEFAULTS.latent_grid  # (3, 2, 3): frames, y, x — non-square


def run(pipe: Any, settings: CaptureSettings, **call: Any) -> tuple[AttentionCapture, list[Any], torch.Tensor]:
    kwargs = {**TINY_DEFAULTS.call_kwargs(), "num_inference_steps": STEPS, "output_type": "latent", **call}
    with (
        record_attn2_inputs(pipe.transformer) as log,
        AttentionCapture(pipe, PROMPT, settings, max_sequence_length=kwargs["max_sequence_length"]) as cap,
    ):
        out = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs).frames
    return cap, log.calls, out


def calls_by_pass(calls: list[Any], n_blocks: int, cfg: bool = True) -> dict[tuple[str, int], list[Any]]:
    """The pipeline runs, per step: the cond pass over all blocks, then the uncond pass."""
    passes = ("cond", "uncond") if cfg else ("cond",)
    per_step = n_blocks * len(passes)
    assert len(calls) == STEPS * per_step
    out = {}
    for s in range(STEPS):
        for p, name in enumerate(passes):
            start = s * per_step + p * n_blocks
            out[(name, s)] = calls[start : start + n_blocks]
    return out


def expected(pipe: Any, calls: list[Any], columns: tuple[int, ...], how: str = "sum") -> torch.Tensor:
    """``[block, head, frame, y, x]`` reference for one pass of one step."""
    per_block = [reduce_word(reference_probs(pipe.transformer, c), columns, how) for c in calls]
    return torch.stack(per_block).reshape(len(calls), -1, *GRID)


def test_default_maps_equal_explicit_softmax(tiny_pipe: Any) -> None:
    cap, calls, _ = run(tiny_pipe, CaptureSettings())
    maps = cap.word_maps()
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    assert set(maps) == {"kiss", "flowers"}
    for target in cap.tokens.targets:
        assert len(target.token_indices) == 2  # sub-word pieces are summed
        got = maps[target.word]
        assert got.shape == (STEPS, *GRID)  # [step, frame, y, x]
        for s in range(STEPS):
            ref = expected(tiny_pipe, by_pass[("cond", s)], target.token_indices).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)
        assert float(np.ptp(got)) > 1e-3  # the maps are not uniform: a transposed axis would show


def test_uncond_pass_differs_and_is_exact(tiny_pipe: Any) -> None:
    cap, calls, _ = run(tiny_pipe, CaptureSettings(guidance_pass="both"), negative_prompt="blurry")
    maps = cap.word_maps()
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    kiss = cap.tokens.targets[0]
    got = maps["kiss"]
    assert got.shape == (STEPS, 2, *GRID)  # [step, pass, frame, y, x]
    for s in range(STEPS):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected(tiny_pipe, by_pass[(name, s)], kiss.token_indices).mean(dim=(0, 1))
            np.testing.assert_allclose(got[s, p], ref.numpy(), atol=1e-5, rtol=0)
    assert not np.allclose(got[:, 0], got[:, 1])


@pytest.mark.parametrize("how", ["sum", "mean", "max"])
def test_per_block_per_head_and_token_reduction(tiny_pipe: Any, how: str) -> None:
    settings = CaptureSettings(store_per_block=True, store_per_head=True, token_reduction=how)
    cap, calls, _ = run(tiny_pipe, settings)
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    flowers = cap.tokens.targets[1]
    got = cap.word_maps()["flowers"]
    assert got.shape == (STEPS, 2, 2, *GRID)  # [step, block, head, frame, y, x]
    for s in range(STEPS):
        ref = expected(tiny_pipe, by_pass[("cond", s)], flowers.token_indices, how)
        np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)


def test_padding_excluded_renormalises_over_real_tokens(tiny_pipe: Any) -> None:
    cap, calls, _ = run(tiny_pipe, CaptureSettings(padding="exclude"))
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    n_real = cap.tokens.num_real_tokens
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]
    for s in range(STEPS):
        per_block = []
        for call in by_pass[("cond", s)]:
            p = reference_probs(tiny_pipe.transformer, call)[..., :n_real]
            p = p / p.sum(-1, keepdim=True)
            per_block.append(reduce_word(p, kiss.token_indices))
        ref = torch.stack(per_block).mean(dim=(0, 1)).reshape(GRID)
        np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)
    included = run(tiny_pipe, CaptureSettings())[0].word_maps()["kiss"]
    assert (got > included).all()  # renormalising over fewer keys only raises probabilities


def test_block_subset_steps_and_interval(tiny_pipe: Any) -> None:
    cap, calls, _ = run(tiny_pipe, CaptureSettings(blocks=(1,), steps=(0, 2)))
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    got = cap.word_maps()["kiss"]
    assert got.shape == (2, *GRID)
    assert [r.step_index for r in cap.records] == [0, 2]
    kiss = cap.tokens.targets[0]
    for i, s in enumerate((0, 2)):
        ref = expected(tiny_pipe, by_pass[("cond", s)][1:], kiss.token_indices).mean(dim=(0, 1))
        np.testing.assert_allclose(got[i], ref.numpy(), atol=1e-5, rtol=0)
    cap2, _, _ = run(tiny_pipe, CaptureSettings(storage_interval=2))
    assert [r.step_index for r in cap2.records] == [0, 2]
    # storage_interval keeps every n-th *selected* step: of steps 1 and 2, the first (not "even steps": 2)
    cap3, _, _ = run(tiny_pipe, CaptureSettings(steps=(1, 2), storage_interval=2))
    assert [r.step_index for r in cap3.records] == [1]


def test_spatial_downsampling_pools_y_and_x(tiny_pipe: Any) -> None:
    size = {"height": 64, "width": 96}  # token grid 3 x 4 x 6
    full = run(tiny_pipe, CaptureSettings(), **size)[0].word_maps()["kiss"]
    pooled = run(tiny_pipe, CaptureSettings(spatial_downsample_factor=2), **size)[0].word_maps()["kiss"]
    assert full.shape == (STEPS, 3, 4, 6) and pooled.shape == (STEPS, 3, 2, 3)
    ref = full.reshape(STEPS, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(pooled, ref, atol=1e-6)


def test_steps_are_tagged_in_order_with_timesteps(tiny_pipe: Any) -> None:
    cap, _, _ = run(tiny_pipe, CaptureSettings())
    records = cap.records
    assert [r.step_index for r in records] == list(range(STEPS))
    assert all(r.pass_name == "cond" for r in records)  # only the prompt pass by default
    timesteps = [r.timestep for r in records]
    sigmas = [r.sigma for r in records]
    assert timesteps == sorted(timesteps, reverse=True) and len(set(timesteps)) == STEPS
    assert sigmas == sorted(sigmas, reverse=True)  # type: ignore[type-var]
    assert [float(t) for t in tiny_pipe.scheduler.timesteps] == timesteps


def test_video_is_bit_identical_with_and_without_capture(tiny_pipe: Any) -> None:
    kwargs = {**TINY_DEFAULTS.call_kwargs(), "num_inference_steps": STEPS}
    plain = tiny_pipe(
        prompt="A romantic kiss between a man and woman with flowers",
        generator=torch.Generator().manual_seed(3),
        output_type="np",
        **kwargs,
    ).frames
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=kwargs["max_sequence_length"]) as cap:
        captured = tiny_pipe(
            prompt=cap.prompt, generator=torch.Generator().manual_seed(3), output_type="np", **kwargs
        ).frames
    assert np.array_equal(plain, captured)


def test_prompt_embeds_path_finds_padding_on_the_data(tiny_pipe: Any) -> None:
    """Without a text-encoder call the real length is found from the keys; the maps stay exact."""
    reference = run(tiny_pipe, CaptureSettings())[0].word_maps()["kiss"]
    kwargs = {**TINY_DEFAULTS.call_kwargs(), "num_inference_steps": STEPS, "output_type": "latent"}
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=kwargs["max_sequence_length"]) as cap:
        embeds, negative = tiny_pipe.encode_prompt(
            cap.prompt, negative_prompt="", max_sequence_length=kwargs["max_sequence_length"]
        )
    with AttentionCapture(tiny_pipe, PROMPT, max_sequence_length=kwargs["max_sequence_length"]) as cap:
        tiny_pipe(
            prompt_embeds=embeds,
            negative_prompt_embeds=negative,
            generator=torch.Generator().manual_seed(0),
            **kwargs,
        )
    np.testing.assert_allclose(cap.word_maps()["kiss"], reference, atol=1e-6, rtol=0)


def test_uncond_pass_with_short_negative_prompt_excluding_padding(tiny_pipe: Any) -> None:
    """Word positions past the negative prompt's end are excluded keys: probability exactly 0."""
    settings = CaptureSettings(guidance_pass="uncond", padding="exclude")
    cap, calls, _ = run(tiny_pipe, settings, negative_prompt="")
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    got = cap.word_maps()
    n_neg = len(tiny_pipe.tokenizer("").input_ids)  # real tokens of the negative prompt, eos included
    for target in cap.tokens.targets:
        assert min(target.token_indices) >= n_neg
        np.testing.assert_array_equal(got[target.word], 0.0)
    settings = CaptureSettings(guidance_pass="uncond")  # padding included: the pad key's probability
    cap, calls, _ = run(tiny_pipe, settings, negative_prompt="")
    by_pass = calls_by_pass(calls, len(tiny_pipe.transformer.blocks))
    kiss = cap.tokens.targets[0]
    for s in range(STEPS):
        ref = expected(tiny_pipe, by_pass[("uncond", s)], kiss.token_indices).mean(dim=(0, 1))
        np.testing.assert_allclose(cap.word_maps()["kiss"][s], ref.numpy(), atol=1e-5, rtol=0)

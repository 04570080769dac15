"""Every Wan variant: each captured value equals an explicit float64 softmax of its pass's own inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attention_visual.capture import CaptureSettings
from capture.reference import reduce_word, reference_image_share, reference_probs
from capture.variant_support import (
    CALLS,
    GRID,
    check_word_passes,
    expected_image_share,
    expected_word,
    num_reference,
    pass_of,
    pipe_of,
    run_variant,
)

IMAGE_BRANCH = {"tiny-i2v", "tiny-flf2v"}


@pytest.mark.parametrize("model_id", sorted(CALLS))
def test_every_pass_of_every_variant_equals_the_reference(model_id: str) -> None:
    image = model_id in IMAGE_BRANCH
    run = run_variant(model_id, CaptureSettings(guidance_pass="both", image_map=image))
    cap, pipe = run.capture, pipe_of(model_id)
    grid = (GRID[0] + num_reference(run.kwargs), *GRID[1:])
    run_steps = pipe.num_timesteps
    assert len(run.passes) == 2 * run_steps  # cond + uncond per step, nothing else ran a transformer
    records = cap.records
    assert [(r.step_index, r.pass_name) for r in records] == [
        (s, p) for s in range(run_steps) for p in ("cond", "uncond")
    ]
    # the steps as the pipeline ran them: the scheduler's last `num_timesteps` timesteps, not a 0 of a
    # conditioning frame (TI2V-5B I2V) and not the skipped head of the schedule (V2V strength)
    schedule = [float(t) for t in pipe.scheduler.timesteps[-run_steps:]]
    assert [r.timestep for r in records[::2]] == schedule
    maps = check_word_passes(run, run_steps, grid)
    if image:
        share = maps["<image>"]
        assert share.shape == (run_steps, 2, *grid)
        for s in range(run_steps):
            for p, name in enumerate(("cond", "uncond")):
                ref = expected_image_share(pass_of(run, name, s), grid)
                np.testing.assert_allclose(share[s, p], ref.numpy(), atol=1e-5, rtol=0)
        assert ((share > 0) & (share < 1)).all() and float(np.ptp(share)) > 1e-4
    else:
        assert "<image>" not in maps


@pytest.mark.parametrize(("model_id", "ratio"), [("tiny-wan22-a14b", 0.875), ("tiny-wan22-i2v-a14b", 0.9)])
def test_both_experts_are_captured_and_labelled(model_id: str, ratio: float) -> None:
    """T2V gives the step index, I2V does not: both count the same steps across the two experts."""
    run = run_variant(model_id)
    cap, pipe = run.capture, pipe_of(model_id)
    boundary = ratio * pipe.scheduler.config.num_train_timesteps
    assert cap.boundary_timestep == boundary
    experts = [r.expert for r in cap.records]
    assert experts == ["high_noise", "high_noise", "low_noise", "low_noise"]
    for r in cap.records:
        assert (r.timestep is not None and r.timestep >= boundary) == (r.expert == "high_noise")
        calls = pass_of(run, "cond", r.step_index)
        assert calls[0].model == ("" if r.expert == "high_noise" else "transformer_2")  # the expert that ran
    assert cap.step_experts == {0: "high_noise", 1: "high_noise", 2: "low_noise", 3: "low_noise"}
    # the experts' weights differ: the reference from the other expert does not match
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]
    low = pass_of(run, "cond", 2)
    np.testing.assert_allclose(got[2], expected_word(low, kiss.token_indices, GRID).numpy(), atol=1e-5, rtol=0)
    wrong = [type(c)(c.block, c.hidden, c.context, pipe.transformer.blocks[c.block].attn2, "") for c in low]
    assert not np.allclose(got[2], expected_word(wrong, kiss.token_indices, GRID).numpy(), atol=1e-4)


def test_blocks_setting_applies_to_both_experts_and_per_block_keeps_them_apart() -> None:
    run = run_variant("tiny-wan22-a14b", CaptureSettings(blocks=(1,), store_per_block=True, store_per_head=True))
    got = run.capture.word_maps()["flowers"]  # [step, block, head, frame, y, x]
    assert got.shape == (4, 1, 2, *GRID)
    flowers = run.capture.tokens.targets[1]
    for s in range(4):
        call = pass_of(run, "cond", s)[1]
        ref = reduce_word(reference_probs(None, call), flowers.token_indices).reshape(2, *GRID)
        np.testing.assert_allclose(got[s, 0], ref.numpy(), atol=1e-5, rtol=0)


def test_vace_control_blocks_are_selectable() -> None:
    run = run_variant("tiny-vace", CaptureSettings(block_list="vace_blocks"))
    cap = run.capture
    assert cap.block_names == ("vace_blocks.0.attn2", "vace_blocks.1.attn2")
    grid = (GRID[0] + 1, *GRID[1:])
    main = run_variant("tiny-vace").capture.word_maps()["kiss"]
    got = cap.word_maps()["kiss"]
    for s in range(got.shape[0]):
        ref = expected_word(pass_of(run, "cond", s), cap.tokens.targets[0].token_indices, grid)
        np.testing.assert_allclose(got[s], ref.numpy(), atol=1e-5, rtol=0)
    assert not np.allclose(got, main)  # the control stream is another map than the main blocks'


def test_image_share_per_head_and_block_on_i2v() -> None:
    settings = CaptureSettings(image_map=True, store_per_head=True, store_per_block=True)
    run = run_variant("tiny-flf2v", settings)
    share = run.capture.word_maps()["<image>"]  # [step, block, head, frame, y, x]
    assert share.shape == (2, 2, 2, *GRID)
    for s in range(2):
        for b, call in enumerate(pass_of(run, "cond", s)):
            ref = reference_image_share(call, per_head=True).reshape(2, *GRID)
            np.testing.assert_allclose(share[s, b], ref.numpy(), atol=1e-5, rtol=0)
    assert run.passes[0][0].context.shape[1] == 2 * 17 + 512  # [first + last image tokens, 512 text tokens]


def test_text_maps_of_i2v_are_over_the_text_keys_only() -> None:
    """With the image branch the word maps use the 512 text keys: a word's mass over all text keys sums to 1."""
    run = run_variant("tiny-i2v")
    call = pass_of(run, "cond", 0)[0]
    probs = reference_probs(None, call)  # [head, video_token, 512]
    assert probs.shape[-1] == 512
    torch.testing.assert_close(probs.sum(-1), torch.ones_like(probs[..., 0]))

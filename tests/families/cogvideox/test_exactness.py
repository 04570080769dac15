"""Every tiny CogVideoX variant: each captured map equals the float64 joint softmax of its own call's inputs.

The reference (:mod:`families.cogvideox.reference`) recomputes q and k from each ``attn1`` call's inputs
and the module's weights in float64, rotates the video rows itself, and takes the softmax over all 226
text + video keys. For ``text`` (renormalised over the text keys), ``full`` and ``<text>``, both guidance
passes (batch items 0 = uncond, 1 = cond), every step, on the non-square 3 × 2 × 3 grid: within 1e-5.
Deliberate breakages (RoPE not applied, the batch items swapped) must make it fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from families.cogvideox.reference import JointCall, record_attn1_inputs, reference_probs, text_share, word_maps
from families.cogvideox.support import COGVIDEOX_IDS, GRID, MARKED, ROPE_IDS, call_kwargs, pipe_of

ITEMS = {"uncond": 0, "cond": 1}


@dataclass
class Run:
    capture: AttentionCapture
    passes: list[list[JointCall]]  # per transformer call: every block's attn1 inputs


def run(model_id: str, settings: CaptureSettings, **overrides: Any) -> Run:
    pipe = pipe_of(model_id)
    kwargs = call_kwargs(model_id, output_type="latent", **overrides)
    with (
        record_attn1_inputs(pipe.transformer) as log,
        AttentionCapture(pipe, MARKED, settings, kwargs["max_sequence_length"]) as cap,
    ):
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    return Run(cap, log.passes(len(pipe.transformer.transformer_blocks)))


def expected(calls: list[JointCall], columns: tuple[int, ...] | None, mode: str, how: str = "sum") -> torch.Tensor:
    """``[batch, frame, y, x]`` float64: mean over heads and blocks (``columns`` None: ``<text>``)."""
    per_block = []
    for call in calls:
        probs, n_text = reference_probs(call)  # [batch, head, video, key]
        m = text_share(probs, n_text) if columns is None else word_maps(probs, n_text, columns, mode, how)
        per_block.append(m.mean(dim=1))  # [batch, video]
    return torch.stack(per_block).mean(dim=0).reshape(-1, *GRID)


def max_error(r: Run, mode: str, *, swap: bool = False) -> float:
    """The largest difference between every captured map (words and ``<text>``) and the reference."""
    maps = r.capture.word_maps()
    worst = 0.0
    words = [(t.word, t.token_indices) for t in r.capture.tokens.targets] + [("<text>", None)]
    for word, columns in words:
        got = maps[word]  # [step, pass, frame, y, x], passes in ("cond", "uncond") order
        assert got.shape == (len(r.passes), 2, *GRID)
        for s, calls in enumerate(r.passes):
            ref = expected(calls, columns, mode)  # [batch, frame, y, x]
            for p, name in enumerate(("cond", "uncond")):
                item = ITEMS[name] if not swap else 1 - ITEMS[name]
                worst = max(worst, float(np.abs(got[s, p] - ref[item].numpy()).max()))
    return worst


@pytest.mark.parametrize("mode", ["text", "full"])
@pytest.mark.parametrize("model_id", COGVIDEOX_IDS)
def test_every_map_of_every_variant_equals_the_reference(model_id: str, mode: str) -> None:
    r = run(model_id, CaptureSettings(guidance_pass="both", joint_attention=mode, text_share_map=True))
    pipe = pipe_of(model_id)
    assert len(r.passes) == pipe.num_timesteps == 2  # one batched [uncond, cond] call per step
    records = r.capture.records
    assert [(rec.step_index, rec.pass_name) for rec in records] == [
        (s, p) for s in range(2) for p in ("uncond", "cond")
    ]
    schedule = [float(t) for t in pipe.scheduler.timesteps[-2:]]
    assert [rec.timestep for rec in records[::2]] == schedule
    assert max_error(r, mode) <= 1e-5
    maps = r.capture.word_maps()
    assert float(np.ptp(maps["kiss"])) > 1e-3  # the maps vary over the video and the steps
    share = maps["<text>"]
    assert ((share > 0.001) & (share < 0.999)).all() and float(np.ptp(share)) > 0.1  # both halves carry weight


def test_the_two_modes_are_different_quantities() -> None:
    """Per head and block ``full`` = ``text`` × ``<text>``: ``full`` is smaller wherever video keys take attention."""
    each = {"store_per_head": True, "store_per_block": True}
    text = run("tiny-cogvideox", CaptureSettings(text_share_map=True, **each)).capture.word_maps()
    full = run("tiny-cogvideox", CaptureSettings(joint_attention="full", **each)).capture.word_maps()
    np.testing.assert_allclose(full["kiss"], text["kiss"] * text["<text>"], rtol=1e-5, atol=1e-7)
    assert float((text["kiss"] - full["kiss"]).max()) > 1e-3


@pytest.mark.parametrize("how", ["mean", "max"])
def test_token_reduction_per_head_and_per_block(how: str) -> None:
    settings = CaptureSettings(token_reduction=how, store_per_head=True, store_per_block=True)
    r = run("tiny-cogvideox1.5", settings)
    kiss = r.capture.tokens.targets[0]
    got = r.capture.word_maps()["kiss"]  # [step, block, head, frame, y, x]
    assert got.shape == (2, 2, 2, *GRID)
    for s, calls in enumerate(r.passes):
        for b, call in enumerate(calls):
            probs, n_text = reference_probs(call)
            ref = word_maps(probs, n_text, kiss.token_indices, "text", how)[1]  # cond item: [head, video]
            np.testing.assert_allclose(got[s, b].reshape(2, -1), ref.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_id", ROPE_IDS)
def test_rope_not_applied_breaks_the_maps(model_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The measure must read q and k after the processor's RoPE: run at ``norm_k`` (before it), the maps are wrong."""
    from attention_visual.families import family_named
    from attention_visual.families.interface import Measure, Probe
    from attention_visual.families.runtime import runtime_of

    runtime: Any = runtime_of(family_named("cogvideox"))
    early = Probe(runtime._PROBE.points, (Measure("words", "key", runtime._words),))
    monkeypatch.setattr(runtime, "_PROBE", early)
    r = run(model_id, CaptureSettings(guidance_pass="both", text_share_map=True))
    assert max_error(r, "text") > 1e-3


def test_swapped_batch_items_break_the_maps() -> None:
    """``cond`` is batch item 1: reading item 0 for it (or comparing it with item 0) is caught."""
    r = run("tiny-cogvideox-2b", CaptureSettings(guidance_pass="both", text_share_map=True))
    assert max_error(r, "text") <= 1e-5
    assert max_error(r, "text", swap=True) > 1e-4


def test_without_guidance_the_one_item_is_the_prompt_pass() -> None:
    r = run("tiny-cogvideox", CaptureSettings(), guidance_scale=1.0)
    assert all(c.video.shape[0] == 1 for calls in r.passes for c in calls)
    assert [rec.pass_name for rec in r.capture.records] == ["cond", "cond"]
    kiss = r.capture.tokens.targets[0]
    got = r.capture.word_maps()["kiss"]  # [step, frame, y, x]
    for s, calls in enumerate(r.passes):
        np.testing.assert_allclose(got[s], expected(calls, kiss.token_indices, "text")[0].numpy(), atol=1e-5, rtol=0)


def test_dynamic_guidance_keeps_both_passes() -> None:
    """``use_dynamic_cfg`` changes ``guidance_scale`` during the loop; the batch still says [uncond, cond]."""
    r = run("tiny-cogvideox", CaptureSettings(guidance_pass="both"), use_dynamic_cfg=True, num_inference_steps=3)
    assert [rec.pass_name for rec in r.capture.records] == ["uncond", "cond"] * 3
    kiss = r.capture.tokens.targets[0]
    got = r.capture.word_maps()["kiss"]
    np.testing.assert_allclose(got[2, 1], expected(r.passes[2], kiss.token_indices, "text")[0].numpy(), atol=1e-5)


def test_padding_excluded_renormalises_over_the_prompts_real_tokens() -> None:
    """``padding: exclude``: the text softmax runs over the real tokens (end-of-sequence included) only."""
    r = run("tiny-cogvideox", CaptureSettings(padding="exclude", text_share_map=True))
    cap = r.capture
    real = len(pipe_of("tiny-cogvideox").tokenizer(cap.prompt).input_ids)
    got = cap.word_maps()
    for s, calls in enumerate(r.passes):
        refs = []
        for call in calls:
            probs, _ = reference_probs(call)
            probs = probs[..., :real]  # the real text keys' share of the full softmax
            kiss = probs[..., list(cap.tokens.targets[0].token_indices)].sum(-1) / probs.sum(-1)
            refs.append((kiss.mean(1), probs.sum(-1).mean(1)))
        kiss_ref = torch.stack([k for k, _ in refs]).mean(0)[1].reshape(GRID)
        share_ref = torch.stack([t for _, t in refs]).mean(0)[1].reshape(GRID)
        np.testing.assert_allclose(got["kiss"][s], kiss_ref.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(got["<text>"][s], share_ref.numpy(), atol=1e-5, rtol=0)


def test_the_video_is_bit_identical_and_every_hook_is_removed() -> None:
    pipe = pipe_of("tiny-cogvideox1.5-i2v")
    kwargs = call_kwargs("tiny-cogvideox1.5-i2v", output_type="pt")
    plain = pipe(prompt=MARKED.replace("(", "").replace(")", ""), generator=torch.Generator().manual_seed(0), **kwargs)
    modules = list(pipe.transformer.modules())
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    attrs = set(vars(pipe.transformer))  # after a plain call: its cache_context made diffusers' hook registry
    settings = CaptureSettings(guidance_pass="both", joint_attention="full", text_share_map=True)
    with AttentionCapture(pipe, MARKED, settings, 226) as cap:
        captured = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(plain.frames, captured.frames)
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
    assert set(vars(pipe.transformer)) == attrs  # no diffusers hook registry or forward left behind
    assert cap.records

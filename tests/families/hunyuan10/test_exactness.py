"""HunyuanVideo, both streams: each captured map equals the float64 masked joint softmax of its own call's inputs.

The reference (:mod:`families.hunyuan10.reference`) recomputes q and k from each ``attn`` call's inputs and
the module's weights in float64, rotates the video rows itself, applies the transformer's boolean key mask
and takes the softmax over all video + text keys. For ``text`` (renormalised over the text keys), ``full``
and ``<text>``, the prompt pass and (``true_cfg_scale > 1`` with a negative prompt) the negative-prompt
pass, every step, dual- and single-stream blocks, on the non-square 3 × 2 × 3 grid: within 1e-5.
Deliberate breakages (the mask ignored, RoPE skipped, the template cut one token off) must make it fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.errors import PromptError
from attention_visual.families import FormatTemplate, family_named
from attention_visual.families.runtime import runtime_of
from families.hunyuan10.reference import AttnCall, record_attn_inputs, reference_probs, text_share, word_maps
from families.hunyuan10.support import GRID, MARKED, NEGATIVE, STREAMS, call_kwargs, pipe_of

MODEL = "tiny-hunyuan"
RUNTIME: Any = runtime_of(family_named("hunyuanvideo"))


@dataclass
class Run:
    capture: AttentionCapture
    passes: list[list[AttnCall]]  # per transformer call, in call order: every block's attn inputs
    names: tuple[str, ...]  # the guidance pass of each transformer call of a step


def run(settings: CaptureSettings, *, true_cfg: bool = True, **overrides: Any) -> Run:
    pipe = pipe_of(MODEL)
    kwargs = call_kwargs(MODEL, output_type="latent", **overrides)
    if true_cfg:
        kwargs.update(true_cfg_scale=2.5, negative_prompt=NEGATIVE.replace("(", "").replace(")", ""))
    stream = settings.block_list or STREAMS[0]
    with record_attn_inputs(pipe.transformer) as log, AttentionCapture(pipe, MARKED, settings) as cap:
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    n_blocks = len(getattr(pipe.transformer, stream))
    return Run(cap, log.passes(stream, n_blocks), ("cond", "uncond") if true_cfg else ("cond",))


def expected(calls: list[AttnCall], columns: tuple[int, ...] | None, mode: str, how: str = "sum") -> np.ndarray:
    """``[frame, y, x]`` float64: mean over heads and blocks (``columns`` None: ``<text>``)."""
    per_block = []
    for call in calls:
        probs, text = reference_probs(call)  # [batch, head, video, key]
        m = text_share(probs, text) if columns is None else word_maps(probs, text, columns, mode, how)
        per_block.append(m[0].mean(dim=0))  # [video]
    return torch.stack(per_block).mean(dim=0).reshape(GRID).numpy()


def max_error(r: Run, mode: str, columns: dict[str, tuple[int, ...]] | None = None) -> float:
    """The largest difference between every captured map (words and ``<text>``) and the reference (at the
    words' text-key ``columns``; default: where the capture found them)."""
    maps = r.capture.word_maps()
    worst = 0.0
    found = {t.word: t.token_indices for t in r.capture.tokens.targets}
    words = [*(columns or found).items(), ("<text>", None)]
    per_step = len(r.names)
    for word, columns in words:
        got = maps[word]  # [step, (pass,) frame, y, x]
        assert got.shape == (len(r.passes) // per_step, *((per_step,) if per_step > 1 else ()), *GRID)
        for i, calls in enumerate(r.passes):
            step, p = divmod(i, per_step)
            mine = got[step, p] if per_step > 1 else got[step]
            worst = max(worst, float(np.abs(mine - expected(calls, columns, mode)).max()))
    return worst


@pytest.mark.parametrize("mode", ["text", "full"])
@pytest.mark.parametrize("stream", STREAMS)
def test_every_map_of_both_streams_and_both_passes_equals_the_reference(stream: str, mode: str) -> None:
    r = run(CaptureSettings(block_list=stream, guidance_pass="both", joint_attention=mode, text_share_map=True))
    pipe = pipe_of(MODEL)
    assert len(r.passes) == 2 * pipe.num_timesteps == 4  # a prompt and a negative-prompt call per step
    assert [(rec.step_index, rec.pass_name) for rec in r.capture.records] == [
        (s, p) for s in range(2) for p in ("cond", "uncond")
    ]
    assert [rec.timestep for rec in r.capture.records[::2]] == [float(t) for t in pipe.scheduler.timesteps]
    assert max_error(r, mode) <= 1e-5
    maps = r.capture.word_maps()
    assert float(np.ptp(maps["kiss"][:, 0])) > 1e-3  # the prompt pass's maps vary over the video and the steps
    share = maps["<text>"]
    assert ((share > 1e-5) & (share < 0.999)).all() and float(np.ptp(share)) > 0.05
    # the negative prompt is shorter: "flowers" falls in its masked padding, where the model attends with 0
    assert float(np.abs(maps["flowers"][:, 1]).max()) == 0.0 and float(maps["flowers"][:, 0].min()) > 0
    meta = maps.metadata["kiss"][0]
    kind = "joint_dual" if stream == STREAMS[0] else "joint_single"
    assert (meta.family, meta.variant, meta.attention_kind, meta.joint_attention) == (
        "hunyuanvideo", "hunyuanvideo-t2v", kind, mode,
    )  # fmt: skip
    assert meta.blocks == (f"{stream}.0.attn", f"{stream}.1.attn")


def test_prompt_pass_only_without_true_guidance() -> None:
    """Guidance-distilled: ``guidance_scale`` is the model's input; one prompt call per step."""
    r = run(CaptureSettings(text_share_map=True), true_cfg=False)
    assert [rec.pass_name for rec in r.capture.records] == ["cond", "cond"] and len(r.passes) == 2
    assert max_error(r, "text") <= 1e-5


@pytest.mark.parametrize("how", ["mean", "max"])
def test_token_reduction_per_head_and_per_block(how: str) -> None:
    settings = CaptureSettings(block_list=STREAMS[1], token_reduction=how, store_per_head=True, store_per_block=True)
    r = run(settings, true_cfg=False)
    kiss = r.capture.tokens.targets[0]
    got = r.capture.word_maps()["kiss"]  # [step, block, head, frame, y, x]
    assert got.shape == (2, 2, 2, *GRID)
    for s, calls in enumerate(r.passes):
        for b, call in enumerate(calls):
            probs, text = reference_probs(call)
            ref = word_maps(probs, text, kiss.token_indices, "text", how)[0]  # [head, video]
            np.testing.assert_allclose(got[s, b].reshape(2, -1), ref.numpy(), atol=1e-5, rtol=0)


def test_the_streams_are_different_quantities_and_full_is_text_times_the_text_share() -> None:
    each = {"store_per_head": True, "store_per_block": True, "text_share_map": True}
    text = {s: run(CaptureSettings(block_list=s, **each), true_cfg=False).capture.word_maps() for s in STREAMS}
    full = run(CaptureSettings(joint_attention="full", **each), true_cfg=False).capture.word_maps()
    dual = text[STREAMS[0]]
    np.testing.assert_allclose(full["kiss"], dual["kiss"] * dual["<text>"], rtol=1e-5, atol=1e-7)
    assert float(np.abs(text[STREAMS[0]]["kiss"] - text[STREAMS[1]]["kiss"]).max()) > 1e-3


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("broken", ["mask ignored", "rope skipped"])
def test_a_measure_without_the_mask_or_the_rope_breaks_the_maps(
    stream: str, broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if broken == "mask ignored":
        monkeypatch.setattr(RUNTIME, "_key_bias", lambda call, n_keys: None)
    else:
        monkeypatch.setattr(RUNTIME, "_rotate", lambda x, rope: x)
    r = run(CaptureSettings(block_list=stream, text_share_map=True), true_cfg=False)
    assert max_error(r, "text") > 1e-3


def test_a_template_cut_one_token_short_breaks_the_maps_and_one_too_long_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The words' keys are counted after the 95-token cut: a cut of 94 (same encoded length) misplaces them."""
    import attention_visual.capture.capture as capture_module

    family = family_named("hunyuanvideo")
    template = family.text.template
    assert isinstance(template, FormatTemplate) and template.cut == 95

    def with_cut(cut: int) -> Any:
        text = dataclasses.replace(family.text, template=FormatTemplate(template.text, cut))
        return lambda variant: dataclasses.replace(family, text=text)

    monkeypatch.setattr(capture_module, "family_of_variant", with_cut(94))
    settings = CaptureSettings(text_share_map=True)
    pipe = pipe_of(MODEL)
    kwargs = call_kwargs(MODEL, output_type="latent")  # the pipeline encodes 95 + 256 tokens, the capture 94 + 257
    with record_attn_inputs(pipe.transformer) as log, AttentionCapture(pipe, MARKED, settings, 257) as cap:
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    r = Run(cap, log.passes(STREAMS[0], 2), ("cond",))
    assert [t.token_indices for t in cap.tokens.targets] == [(4, 5), (12, 13)]  # one key too far
    ids = pipe.tokenizer(template.text.format(cap.prompt)).input_ids[template.cut :]
    kiss, flowers = (3, 4), (11, 12)  # where the words' tokens really are among the text keys
    assert pipe.tokenizer.convert_ids_to_tokens([ids[i] for i in kiss + flowers]) == ["kis", "s", "Ġflow", "ers"]
    assert max_error(r, "text", {"kiss": kiss, "flowers": flowers}) > 1e-3
    monkeypatch.setattr(capture_module, "family_of_variant", with_cut(96))
    with pytest.raises(PromptError, match="cuts 96 template tokens"):
        AttentionCapture(pipe, MARKED, settings)


def test_the_video_is_bit_identical_and_every_hook_is_removed() -> None:
    pipe = pipe_of(MODEL)
    kwargs = call_kwargs(MODEL, output_type="pt", true_cfg_scale=2.5, negative_prompt="a dog")
    plain = pipe(prompt=MARKED.replace("(", "").replace(")", ""), generator=torch.Generator().manual_seed(0), **kwargs)
    modules = list(pipe.transformer.modules()) + list(pipe.text_encoder.modules())
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    attrs = set(vars(pipe.transformer))  # after a plain call: its cache_context made diffusers' hook registry
    for stream in STREAMS:
        settings = CaptureSettings(block_list=stream, guidance_pass="both", joint_attention="full", text_share_map=True)
        with AttentionCapture(pipe, MARKED, settings) as cap:
            captured = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
        assert torch.equal(plain.frames, captured.frames)
        assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
        assert set(vars(pipe.transformer)) == attrs  # no diffusers hook registry or forward left behind
        assert len(cap.records) == 4

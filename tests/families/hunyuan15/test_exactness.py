"""Both tiny HunyuanVideo-1.5 models: each captured map equals the float64 joint softmax of its own call's inputs.

The reference (:mod:`families.hunyuan15.reference`) recomputes q and k from each ``attn`` call's inputs and
the module's weights in float64, rotates the video rows itself, masks the keys the model masks, finds the
prompt's, the glyph and the image keys among the context rows itself, and finds the words' tokens by their
ids after the pipeline's own template cut. For ``text`` and ``full``, ``<text>``, ``<glyph>`` and ``<image>``,
both guidance passes (``pred_cond``, then ``pred_uncond``), every step, on the non-square 3 × 2 × 3 grid:
within 1e-5. Deliberate breakages (mask ignored, template cut one token off, the valid-token reordering
ignored, RoPE skipped) must make it fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.capture import capture as capture_module
from attention_visual.families import family_named, variant_named
from attention_visual.families.interface import AttentionInputs, Measure, Probe
from attention_visual.families.runtime import runtime_of
from attention_visual.prompts import tokenize_marked
from families.hunyuan15.reference import Call, Log, record, reference_probs, share, word_positions
from families.hunyuan15.support import GRID, HUNYUAN15_IDS, MARKED, call_kwargs, pipe_of

PASSES = ("cond", "uncond")  # the guider's order: pred_cond, then pred_uncond
RUNTIME = runtime_of(family_named("hunyuan15"))


@dataclass
class Run:
    capture: AttentionCapture
    log: Log
    cut: int


def run(model_id: str, settings: CaptureSettings, **overrides: Any) -> Run:
    pipe = pipe_of(model_id)
    kwargs = call_kwargs(model_id, output_type="latent", **overrides)
    with record(pipe) as log, AttentionCapture(pipe, MARKED, settings) as cap:
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    return Run(cap, log, pipe.prompt_template_encode_start_idx)


def settings_for(model_id: str, **more: Any) -> CaptureSettings:
    image = model_id.endswith("i2v")
    return CaptureSettings(guidance_pass="both", text_share_map=True, glyph_map=True, image_map=image, **more)


def reference_maps(r: Run, mode: str) -> dict[str, np.ndarray]:
    """``{word: [step, pass, frame, y, x]}`` float64 from the reference, mean over heads and blocks."""
    pipe = r.capture.pipe
    cond = r.log.calls[0].layout
    columns = {
        word: word_positions(cond, pipe.tokenizer(f" {word}", add_special_tokens=False).input_ids, r.cut)
        for word in r.capture.marked.words
    }
    per_call: list[dict[str, np.ndarray]] = []
    for call in r.log.calls:
        per_call.append(_call_maps(call, columns, mode))
    steps = len(per_call) // len(PASSES)
    return {
        w: np.stack([np.stack([per_call[2 * s + p][w] for p in range(len(PASSES))]) for s in range(steps)])
        for w in per_call[0]
    }


def _call_maps(call: Call, columns: dict[str, list[int]], mode: str) -> dict[str, np.ndarray]:
    out: dict[str, list[torch.Tensor]] = {}
    lay = call.layout
    for block in call.blocks:
        probs = reference_probs(block)  # [batch, head, video, key]
        n = block.video.shape[1]
        text = [n + j for j in lay.text]
        maps = {"<text>": share(probs, text), "<glyph>": share(probs, [n + j for j in lay.glyph])}
        if lay.image or "<image>" in out:
            maps["<image>"] = share(probs, [n + j for j in lay.image])
        for word, cols in columns.items():
            keys = [n + lay.text[c] for c in cols if c < len(lay.text)]
            maps[word] = share(probs, keys) / (maps["<text>"] if mode == "text" else 1.0)
        for word, m in maps.items():
            out.setdefault(word, []).append(m[0].mean(0))  # item 0, mean over heads: [video]
    return {w: torch.stack(v).mean(0).reshape(GRID).numpy() for w, v in out.items()}


def max_error(r: Run, mode: str) -> float:
    got, ref = r.capture.word_maps(), reference_maps(r, mode)
    worst = 0.0
    for word in r.capture.words:
        assert got[word].shape == (2, 2, *GRID)  # [step, pass, frame, y, x]
        if word in ref:
            worst = max(worst, float(np.abs(got[word] - ref[word]).max()))
        else:  # <image> of text-to-video: no image keys
            worst = max(worst, float(np.abs(got[word]).max()))
    return worst


@pytest.mark.parametrize("mode", ["text", "full"])
@pytest.mark.parametrize("model_id", HUNYUAN15_IDS)
def test_every_map_of_both_models_equals_the_reference(model_id: str, mode: str) -> None:
    r = run(model_id, settings_for(model_id, joint_attention=mode))
    pipe = pipe_of(model_id)
    assert len(r.log.calls) == 4 and all(len(c.blocks) == 2 for c in r.log.calls)  # 2 steps x 2 passes
    records = r.capture.records
    assert [(rec.step_index, rec.pass_name) for rec in records] == [(s, p) for s in range(2) for p in PASSES]
    assert [rec.timestep for rec in records[::2]] == [float(t) for t in pipe.scheduler.timesteps]
    cond, uncond = r.log.calls[0].layout, r.log.calls[1].layout
    assert len(cond.glyph) > 0 and len(uncond.glyph) == 0  # the quoted "hello" (byT5); none in the negative
    assert len(cond.image) == (4 if model_id.endswith("i2v") else 0)  # SigLIP's 4 tokens; T2V's are masked
    assert max_error(r, mode) <= 1e-5
    maps = r.capture.word_maps()
    assert float(np.ptp(maps["dog"][:, 0])) > 1e-3  # the maps vary over the video and the steps
    text = maps["<text>"][:, 0]
    assert ((text > 1e-4) & (text < 0.999)).all()


def test_the_words_keys_follow_the_valid_tokens_and_the_template_cut() -> None:
    """The layout the reference found: [video | image | glyph | text] with the prompt after the 108-token cut."""
    r = run("tiny-hunyuan15-i2v", settings_for("tiny-hunyuan15-i2v"))
    lay = r.log.calls[0].layout
    g, i = len(lay.glyph), len(lay.image)
    assert lay.image == list(range(i)) and lay.glyph == list(range(i, i + g))
    assert lay.text == list(range(i + g, i + g + len(lay.text)))
    targets = {t.word: t.token_indices for t in r.capture.tokens.targets}
    pipe = r.capture.pipe
    for word, columns in targets.items():
        ids = pipe.tokenizer(f" {word}", add_special_tokens=False).input_ids
        assert list(columns) == word_positions(lay, ids, 108)
    assert r.cut == 108 == r.capture.tokens.cut


# -- deliberate breakages ----------------------------------------------------------------------------------
def _broken_probe(change: Any) -> Any:
    original = RUNTIME.probe

    def probe(variant: Any, *, image_map: bool) -> Probe:
        real = original(variant, image_map=image_map)
        measure = real.measures[0]

        def build(slots: Any) -> AttentionInputs:
            return change(measure.build(slots), slots)

        return Probe(real.points, (Measure(measure.kind, measure.trigger, build),))

    return probe


def _no_mask(inputs: AttentionInputs, slots: Any) -> AttentionInputs:
    return dataclasses.replace(inputs, key_bias=None)


def _stream_order(inputs: AttentionInputs, slots: Any) -> AttentionInputs:
    """Keys as if the context were [729 image, 256 byT5, 1000 Qwen] tokens, not valid tokens first."""
    n = inputs.query.shape[-2]
    facts = slots["transformer_call"]
    image, glyph = 729, 256
    return dataclasses.replace(
        inputs,
        text_keys=slice(n + image + glyph, n + image + glyph + facts["text"]),
        key_groups={"image": slice(n, n + facts["image"]), "glyph": slice(n + image, n + image + facts["glyph"])},
    )


@pytest.mark.parametrize(("name", "change"), [("mask ignored", _no_mask), ("reordering ignored", _stream_order)])
def test_breaking_the_measure_breaks_the_maps(name: str, change: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RUNTIME, "probe", _broken_probe(change))
    r = run("tiny-hunyuan15", settings_for("tiny-hunyuan15", joint_attention="full"))
    assert max_error(r, "full") > 1e-3, name


def test_a_template_cut_one_token_off_breaks_the_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    def one_short(*args: Any, **kwargs: Any) -> Any:
        tokens = tokenize_marked(*args, **kwargs)
        shifted = [dataclasses.replace(t, token_indices=tuple(i + 1 for i in t.token_indices)) for t in tokens.targets]
        return dataclasses.replace(tokens, targets=tuple(shifted))

    monkeypatch.setattr(capture_module, "tokenize_marked", one_short)
    r = run("tiny-hunyuan15", settings_for("tiny-hunyuan15"))
    assert max_error(r, "text") > 1e-3


def test_rope_not_applied_breaks_the_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RUNTIME, "_rotate", lambda x, rope: x)
    r = run("tiny-hunyuan15", settings_for("tiny-hunyuan15"))
    assert max_error(r, "text") > 1e-3


def test_without_guidance_only_the_prompt_pass_runs() -> None:
    pipe = pipe_of("tiny-hunyuan15")
    guider = pipe.guider
    try:
        r = run("tiny-hunyuan15", CaptureSettings(glyph_map=True), guidance_scale=1.0)
    finally:
        pipe.guider = guider
    assert len(r.log.calls) == 2 and [rec.pass_name for rec in r.capture.records] == ["cond", "cond"]
    got = r.capture.word_maps()
    pipe_tok = pipe.tokenizer
    cond = r.log.calls[0].layout
    cols = word_positions(cond, pipe_tok(" dog", add_special_tokens=False).input_ids, r.cut)
    for s, call in enumerate(r.log.calls):
        probs = [reference_probs(b) for b in call.blocks]
        n = call.blocks[0].video.shape[1]
        text = [n + j for j in call.layout.text]
        dog = torch.stack(
            [(share(p, [n + call.layout.text[c] for c in cols]) / share(p, text))[0].mean(0) for p in probs]
        )
        np.testing.assert_allclose(got["dog"][s], dog.mean(0).reshape(GRID).numpy(), atol=1e-5, rtol=0)


def test_the_video_is_bit_identical_and_every_hook_is_removed() -> None:
    model_id = "tiny-hunyuan15-i2v"
    pipe = pipe_of(model_id)
    kwargs = call_kwargs(model_id, output_type="pt")
    prompt = MARKED.replace("(", "").replace(")", "")
    plain = pipe(prompt=prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    modules = [*pipe.transformer.modules(), *pipe.text_encoder.modules()]
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    attrs = set(vars(pipe.transformer))  # after a plain call: its cache_context made diffusers' hook registry
    settings = settings_for(model_id, joint_attention="full")
    with AttentionCapture(pipe, MARKED, settings) as cap:
        captured = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(plain.frames, captured.frames)
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
    assert set(vars(pipe.transformer)) == attrs
    assert cap.records and variant_named("hunyuanvideo1.5-i2v").has_image_map

"""The HunyuanVideo family: its facts, its torch side, its checkpoint rules and the config checks it sets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.config import config_from_dict
from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families import checkpoint_rules, family_named, family_of_model, read_model_index
from attention_visual.families.runtime import describe_pipeline, runtime_of
from attention_visual.models import load_pipeline
from attention_visual.models.loading import resolve_variant
from families.hunyuan10.support import MARKED, STREAMS, pipe_of

FAMILY = family_named("hunyuanvideo")
RUNTIME = runtime_of(FAMILY)
RULES = checkpoint_rules(FAMILY)


def test_the_family_template_is_diffusers_default_and_its_cut_is_the_llama_prefix() -> None:
    """``DEFAULT_PROMPT_TEMPLATE`` and ``crop_start`` 95: BOS + the template before ``{}`` in (tiny) Llama-3 tokens."""
    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE

    template = FAMILY.text.template
    assert template is not None and (template.text, template.cut) == (
        DEFAULT_PROMPT_TEMPLATE["template"], DEFAULT_PROMPT_TEMPLATE["crop_start"],
    )  # fmt: skip
    tokenizer = pipe_of("tiny-hunyuan").tokenizer
    prefix, _ = template.parts()  # type: ignore[union-attr]
    ids = tokenizer(prefix).input_ids
    assert len(ids) == 95 and ids[0] == tokenizer.bos_token_id
    assert tokenizer.convert_ids_to_tokens(ids[-4:]) == ["<|start_header_id|>", "user", "<|end_header_id|>", "ĊĊ"]


def test_the_pipeline_is_described_with_both_streams() -> None:
    variant = describe_pipeline(pipe_of("tiny-hunyuan"))
    assert (variant.name, variant.pixels_per_cell, variant.temporal_factor, variant.latent_frames_per_cell) == (
        "hunyuanvideo-t2v", 16, 4, 1,
    )  # fmt: skip
    assert variant.capture_points == STREAMS and variant.attention_kind == "joint_dual"
    assert variant.for_block_list(STREAMS[1]).attention_kind == "joint_single"
    assert (variant.guidance, variant.pass_source, variant.step_source) == ("distilled", "cache_context", "counted")
    assert (FAMILY.fps_of(variant), FAMILY.frame_count_rule, FAMILY.size_multiple) == (24, "4k+1", 16)
    assert FAMILY.block_counts == {STREAMS[0]: "num_layers", STREAMS[1]: "num_single_layers"}


def test_the_locator_names_both_streams_and_refuses_other_modules() -> None:
    pipe = pipe_of("tiny-hunyuan")
    variant = describe_pipeline(pipe)
    for stream in STREAMS:
        sites = RUNTIME.locate(pipe.transformer, variant.for_block_list(stream), stream)
        assert [s.name for s in sites] == [f"{stream}.0.attn", f"{stream}.1.attn"]
        assert all(s.module is getattr(pipe.transformer, stream)[s.index].attn and s.heads == 2 for s in sites)
    assert [p.slot for p in RUNTIME.probe(variant, image_map=False).points] == ["call", "query", "key", "text_key"]
    single = RUNTIME.probe(variant.for_block_list(STREAMS[1]), image_map=False)
    assert [p.path for p in single.points] == ["", "norm_q", "norm_k"] and single.measures[0].trigger == "key"
    with pytest.raises(CaptureError, match="not a HunyuanVideo transformer"):
        RUNTIME.locate(torch.nn.Linear(2, 2), variant, STREAMS[0])
    with pytest.raises(CaptureError, match="image_map is not available"):
        RUNTIME.probe(variant, image_map=True)
    with pytest.raises(CaptureError, match="image_map needs a pipeline with an image branch or image keys"):
        AttentionCapture(pipe, MARKED, CaptureSettings(image_map=True))


def test_a_call_is_read_from_channel_first_latents() -> None:
    pipe = pipe_of("tiny-hunyuan")
    variant = describe_pipeline(pipe)
    latents = torch.zeros(1, 4, 3, 4, 6)  # [batch, channel, frame, y, x]
    call = RUNTIME.read_call(variant, pipe.transformer, (), {"hidden_states": latents, "timestep": torch.ones(1)})
    assert (call.batch, call.grid, call.drop_leading_frames) == (1, (3, 2, 3), 0)
    with pytest.raises(CaptureError, match="5-D hidden_states"):
        RUNTIME.read_call(variant, pipe.transformer, (), {})


def test_a_different_default_template_in_diffusers_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers.pipelines.hunyuan_video import pipeline_hunyuan_video

    changed = {**pipeline_hunyuan_video.DEFAULT_PROMPT_TEMPLATE, "crop_start": 96}
    monkeypatch.setattr(pipeline_hunyuan_video, "DEFAULT_PROMPT_TEMPLATE", changed)
    with pytest.raises(CaptureError, match="default prompt template differs"):
        describe_pipeline(pipe_of("tiny-hunyuan"))


def test_the_prompt_is_256_tokens_after_the_cut_by_default() -> None:
    """``AttentionCapture(pipe, prompt)`` and the pipeline's own defaults agree (95 + 256 Llama tokens)."""
    pipe = pipe_of("tiny-hunyuan")
    cap = AttentionCapture(pipe, MARKED)
    assert (len(cap.tokens.input_ids), cap.tokens.cut, cap.tokens.max_sequence_length) == (351, 95, 256)
    assert [t.token_pieces for t in cap.tokens.targets] == [("kis", "s"), ("Ġflow", "ers")]
    with cap:
        pipe(prompt=cap.prompt, num_inference_steps=1, height=32, width=48, num_frames=9, output_type="latent")
    assert [r.pass_name for r in cap.records] == ["cond"]
    assert cap._recorder.num_real_keys["cond"] == cap.tokens.num_real_tokens == 14  # 13 prompt tokens + <|eot_id|>
    with pytest.raises(CaptureError, match=r"prompt other than capture\.prompt"), AttentionCapture(pipe, MARKED) as cap:
        pipe(prompt=cap.prompt, max_sequence_length=64, num_inference_steps=1, height=32, width=48, num_frames=9)


@pytest.mark.parametrize(
    ("class_name", "what"),
    [
        ("HunyuanVideoImageToVideoPipeline", "HunyuanVideo image-to-video"),
        ("HunyuanSkyreelsImageToVideoPipeline", "SkyReels-V1 image-to-video"),
        ("HunyuanVideoFramepackPipeline", "HunyuanVideo FramePack"),
    ],
)
def test_each_refused_pipeline_gets_one_line_with_its_reason(tmp_path: Path, class_name: str, what: str) -> None:
    import diffusers

    with pytest.raises(ConfigError, match=rf"{class_name}: {what} is not supported \(\w"):
        read_model_index({"_class_name": class_name}, "m")
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": class_name}))  # no weights: refused first
    with pytest.raises(ConfigError, match=rf"is a {class_name}: {what} is not supported") as info:
        load_pipeline(str(tmp_path), device="cpu")
    assert "\n" not in str(info.value)
    cls = getattr(diffusers, class_name)
    with pytest.raises(CaptureError, match=rf"{class_name} is not supported: {what} \(") as raised:
        describe_pipeline(cls.__new__(cls))  # a pipeline object of that class, refused before it is read
    assert "\n" not in str(raised.value)


def test_checkpoint_rules() -> None:
    spec = read_model_index({"_class_name": "HunyuanVideoPipeline"}, "m")
    assert RULES.variant_for(spec, "auto").name == RULES.variant_for(spec, "t2v").name == "hunyuanvideo-t2v"
    assert RULES.pipeline_class_for(spec, "auto", "m") == "HunyuanVideoPipeline"
    with pytest.raises(
        ConfigError, match=r"m \(HunyuanVideo, HunyuanVideoPipeline\) cannot run pipeline 'i2v'; it runs: t2v"
    ):
        RULES.pipeline_class_for(spec, "i2v", "m")
    family = family_of_model("hunyuanvideo-community/HunyuanVideo")
    assert family is not None and family.name == "hunyuanvideo"


def test_the_public_checkpoint_is_known_offline_from_its_shipped_configs() -> None:
    from attention_visual.models.architecture import num_transformer_blocks

    assert resolve_variant("hunyuanvideo-community/HunyuanVideo", local_files_only=True).name == "hunyuanvideo-t2v"
    assert num_transformer_blocks("hunyuanvideo-community/HunyuanVideo") == 20
    assert num_transformer_blocks("hunyuanvideo-community/HunyuanVideo", "num_single_layers") == 40


def test_a_saved_checkpoint_loads_by_its_model_index_with_a_flow_shift(tmp_path: Path) -> None:
    pipe_of("tiny-hunyuan").save_pretrained(tmp_path)
    assert resolve_variant(str(tmp_path)).name == "hunyuanvideo-t2v"
    loaded = load_pipeline(str(tmp_path), device="cpu", local_files_only=True, flow_shift=5.0)
    assert type(loaded).__name__ == "HunyuanVideoPipeline" and loaded.scheduler.config.shift == 5.0
    cap = AttentionCapture(loaded, MARKED)  # the saved tokenizer tokenizes as the built one
    assert [t.token_indices for t in cap.tokens.targets] == [(3, 4), (11, 12)]


def _config(**generation: object) -> dict[str, object]:
    return {"generation": {"model_id": "tiny-hunyuan", "height": 32, "width": 48, "num_frames": 9, **generation},
            "prompts": [MARKED]}  # fmt: skip


@pytest.mark.parametrize(
    ("generation", "analysis", "message"),
    [
        ({"num_frames": 8}, {}, "generation.num_frames must be of the form 4k+1 for HunyuanVideo (e.g. 81), got 8"),
        ({"height": 40}, {}, "generation.height must be a multiple of 16 for HunyuanVideo"),
        ({}, {"guidance_pass": "both"}, "guidance_pass 'both' needs a negative-prompt pass; HunyuanVideo is guidance"),
    ],
)
def test_config_checks_at_load(generation: dict[str, object], analysis: dict[str, object], message: str) -> None:
    data = {**_config(**generation), "attention_analysis": analysis}
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(data)


def test_a_block_list_of_another_family_is_refused_with_the_variant() -> None:
    from attention_visual.pipeline.validation import check_variant

    config = config_from_dict({**_config(), "attention_analysis": {"block_list": "blocks"}})
    with pytest.raises(ConfigError, match="block_list 'blocks' does not exist on hunyuanvideo-t2v"):
        check_variant(config)


def test_a_config_takes_the_family_defaults_and_both_streams() -> None:
    config = config_from_dict(
        {**_config(), "attention_analysis": {"block_list": STREAMS[1], "joint_attention": "full",
                                             "blocks": ["single_transformer_blocks.1.attn"]}}
    )  # fmt: skip
    family = config.generation.family
    assert family is not None and family.name == "hunyuanvideo"
    assert config.generation.video_fps(family, None) == 24

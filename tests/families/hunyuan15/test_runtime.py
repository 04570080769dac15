"""The HunyuanVideo-1.5 family's torch side and checkpoint rules, on the tiny pipelines and synthetic calls."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from diffusers.pipelines.hunyuan_video1_5.image_processor import HunyuanVideo15ImageProcessor, generate_crop_size_list

from attention_visual.config import GenerationConfig
from attention_visual.config.family_checks import check_generation
from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families import checkpoint_rules, family_named, variant_named
from attention_visual.families.runtime import call_arguments, describe_pipeline, runtime_of
from attention_visual.models import resolve_variant, tiny_inputs
from families.hunyuan15.support import MARKED, pipe_of

FAMILY = family_named("hunyuan15")
RUNTIME = runtime_of(FAMILY)
RULES = checkpoint_rules(FAMILY)
I2V_HUB = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_i2v"


def test_both_pipelines_are_described_with_their_facts() -> None:
    t2v, i2v = describe_pipeline(pipe_of("tiny-hunyuan15")), describe_pipeline(pipe_of("tiny-hunyuan15-i2v"))
    assert (t2v.name, t2v.pixels_per_cell, t2v.temporal_factor, t2v.attention_kind) == (
        "hunyuanvideo1.5-t2v", 16, 4, "joint_dual"
    )  # fmt: skip
    assert t2v.key_groups == ("glyph",) and not t2v.has_image_map and t2v.frame_sizes == ()
    assert i2v.has_image_map and not i2v.image_branch and (32, 48) in i2v.frame_sizes
    assert dict(t2v.pass_names) == {"pred_cond": "cond", "pred_uncond": "uncond"}
    sites = RUNTIME.locate(pipe_of("tiny-hunyuan15").transformer, t2v, "transformer_blocks")
    assert [(s.name, s.heads) for s in sites] == [("transformer_blocks.0.attn", 2), ("transformer_blocks.1.attn", 2)]


def test_a_pipeline_with_another_template_is_refused() -> None:
    pipe = pipe_of("tiny-hunyuan15")
    pipe.prompt_template_encode_start_idx = 107
    try:
        with pytest.raises(CaptureError, match="wraps the prompt differently"):
            describe_pipeline(pipe)
    finally:
        pipe.prompt_template_encode_start_idx = 108


def _call(mask: list[int], glyph: int = 3, image: bool = False) -> dict[str, torch.Tensor]:
    return {
        "hidden_states": torch.zeros(1, 9, 3, 2, 3),
        "timestep": torch.tensor([1000.0]),
        "encoder_attention_mask": torch.tensor([mask]),
        "encoder_attention_mask_2": torch.tensor([[1] * glyph + [0] * (256 - glyph)]),
        "image_embeds": torch.ones(1, 4, 16) if image else torch.zeros(1, 729, 16),
    }


def test_read_call_counts_the_valid_tokens_of_each_stream() -> None:
    transformer = pipe_of("tiny-hunyuan15").transformer
    variant = variant_named("hunyuanvideo1.5-t2v")
    call = RUNTIME.read_call(variant, transformer, (), _call([1] * 7 + [0] * 993))
    assert (call.batch, call.grid, dict(call.facts)) == (1, (3, 2, 3), {"image": 0, "glyph": 3, "text": 7})
    call = RUNTIME.read_call(variant, transformer, (), _call([1] * 5 + [0] * 995, glyph=0, image=True))
    assert dict(call.facts) == {"image": 4, "glyph": 0, "text": 5}
    with pytest.raises(CaptureError, match="not a prefix"):
        RUNTIME.read_call(variant, transformer, (), _call([0] * 3 + [1] * 7 + [0] * 990))


def test_the_batch_arguments_become_the_pipelines() -> None:
    pipe = pipe_of("tiny-hunyuan15")
    variant = describe_pipeline(pipe)
    guider = pipe.guider
    try:
        out = call_arguments(
            pipe, variant, {"height": 32, "width": 48, "guidance_scale": 4.5, "max_sequence_length": 1000}
        )
        assert out == {"height": 32, "width": 48} and pipe.guider.guidance_scale == 4.5 and guider.guidance_scale == 6.0
    finally:
        pipe.guider = guider
    with pytest.raises(ConfigError, match="max_sequence_length must be 1000"):
        call_arguments(pipe, variant, {"max_sequence_length": 512})


def test_image_to_video_takes_a_bucket_and_crops_the_image_to_it() -> None:
    pipe = pipe_of("tiny-hunyuan15-i2v")
    variant = describe_pipeline(pipe)
    image = tiny_inputs("tiny-hunyuan15-i2v")["image"].resize((100, 40))
    out = call_arguments(pipe, variant, {"height": 32, "width": 48, "image": image, "guidance_scale": 6.0})
    assert set(out) == {"image"} and out["image"].size == (48, 31)  # one row less: the pipeline picks 32 x 48
    with pytest.raises(ConfigError, match="resolution buckets"):
        call_arguments(pipe, variant, {"height": 32, "width": 32 * 3, "image": image})


@pytest.mark.parametrize("target", [48, 640, 960])
def test_every_bucket_is_made_exactly(target: int) -> None:
    """The family's buckets are diffusers' own, and the image adapt_call makes for a bucket gives that bucket.

    (Cropped to the bucket's own size, the pipeline's ratio rounding picks a neighbour for many buckets:
    at 640, (480, 832) from a 480 x 832 image gives 480 x 816.)
    """
    buckets = FAMILY.variants["hunyuanvideo1.5-i2v"].replace()  # no frame sizes without a checkpoint
    assert buckets.frame_sizes == ()
    spec = RULES.with_transformer_config(RULES.read_model_index({"_class_name": "HunyuanVideo15ImageToVideoPipeline"}),
                                         {"target_size": target})  # fmt: skip
    sizes = RULES.variant_for(spec, "auto").frame_sizes
    assert sizes == tuple(generate_crop_size_list(target, 16))
    processor = HunyuanVideo15ImageProcessor(vae_scale_factor=16)
    nudged = [(h + 1 if h >= w else h - 1, w) for h, w in sizes]
    assert [tuple(processor.calculate_default_height_width(h, w, target)) for h, w in nudged] == list(sizes)
    if target == 640:
        assert tuple(processor.calculate_default_height_width(480, 832, target)) == (480, 816)


def test_checkpoint_rules_and_the_shipped_configs() -> None:
    spec = RULES.read_model_index({"_class_name": "HunyuanVideo15Pipeline"})
    assert RULES.pipeline_class_for(spec, "t2v") == "HunyuanVideo15Pipeline"
    with pytest.raises(ConfigError, match="cannot run pipeline 'i2v'"):
        RULES.pipeline_class_for(spec, "i2v")
    variant = resolve_variant(I2V_HUB, local_files_only=True)  # the shipped configs: nothing downloaded
    assert variant.name == "hunyuanvideo1.5-i2v" and (480, 848) in variant.frame_sizes
    check_generation(GenerationConfig(model_id=I2V_HUB, height=480, width=848, num_frames=121), FAMILY, variant)
    assert (480, 480) not in variant.frame_sizes
    with pytest.raises(ConfigError, match=r"one of the frame sizes hunyuanvideo1\.5-i2v makes .*nearest: "):
        check_generation(GenerationConfig(model_id=I2V_HUB, height=480, width=480, num_frames=121), FAMILY, variant)


def test_flow_shift_replaces_the_schedulers_shift() -> None:
    pipe = pipe_of("tiny-hunyuan15")
    scheduler = pipe.scheduler
    try:
        RUNTIME.set_flow_shift(pipe, 7.0)
        assert pipe.scheduler.config.shift == 7.0 and type(pipe.scheduler) is type(scheduler)
    finally:
        pipe.scheduler = scheduler


def test_image_map_needs_image_keys() -> None:
    from attention_visual.capture import AttentionCapture, CaptureSettings

    with pytest.raises(CaptureError, match="image_map needs a pipeline with an image branch or image keys"):
        AttentionCapture(pipe_of("tiny-hunyuan15"), MARKED, CaptureSettings(image_map=True))
    assert dataclasses.replace(variant_named("hunyuanvideo1.5-t2v")).text_length == 1000

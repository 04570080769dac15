"""The variant descriptions, and that every tiny model is described as the variant it claims to be."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from attention_visual.errors import CaptureError
from attention_visual.models import (
    TINY_MODELS,
    VARIANTS,
    build_tiny_model,
    describe_pipeline,
    load_pipeline,
    tiny_inputs,
)

# (experts, pixels per token, image branch, conditioning frames) of each tiny model as built
EXPECTED = {
    "tiny": (1, 16, False, ()),
    "tiny-wan22-a14b": (2, 16, False, ()),
    "tiny-wan22-i2v-a14b": (2, 16, False, ()),
    "tiny-ti2v-5b": (1, 32, False, ()),
    "tiny-ti2v-5b-i2v": (1, 32, False, (0,)),
    "tiny-i2v": (1, 16, True, ()),
    "tiny-flf2v": (1, 16, True, ()),
    "tiny-vace": (1, 16, False, ()),
    "tiny-v2v": (1, 16, False, ()),
    **dict.fromkeys(
        (
            "tiny-cogvideox",
            "tiny-cogvideox-2b",
            "tiny-cogvideox1.5",
            "tiny-cogvideox-i2v",
            "tiny-cogvideox1.5-i2v",
            "tiny-cogvideox-v2v",
        ),
        (1, 16, False, ()),
    ),
    **dict.fromkeys(("tiny-hunyuan15", "tiny-hunyuan15-i2v"), (1, 16, False, ())),  # <image>: image keys, no branch
    "tiny-ltx": (1, 32, False, ()),
    "tiny-ltx-i2v": (1, 32, False, (0,)),
    "tiny-ltx-condition": (1, 32, False, ()),
    **dict.fromkeys(("tiny-hunyuan15", "tiny-hunyuan15-i2v"), (1, 16, False, ())),  # <image>: image keys, no branch
    "tiny-hunyuan": (1, 16, False, ()),
    "tiny-ltx2": (1, 32, False, ()),
    "tiny-ltx2-i2v": (1, 32, False, (0,)),
    "tiny-ltx2-condition": (1, 32, False, ()),  # frame 0 held where a condition is given (per-token timesteps)
    "tiny-skyreels-v2": (1, 16, False, ()),
    "tiny-skyreels-v2-i2v": (1, 16, True, ()),
    "tiny-skyreels-v2-df": (1, 16, False, ()),
    "tiny-skyreels-v2-df-i2v": (1, 16, False, (0,)),
    "tiny-chronoedit": (1, 16, True, ()),
    "tiny-lucy-edit": (1, 32, False, ()),
}


def test_every_variant_has_a_tiny_model() -> None:
    assert {m.variant for m in TINY_MODELS.values()} == set(VARIANTS)
    assert set(EXPECTED) == set(TINY_MODELS)


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_tiny_model_is_described_as_its_variant(model_id: str) -> None:
    pipe = build_tiny_model(model_id)
    variant = describe_pipeline(pipe)
    spec = TINY_MODELS[model_id]
    assert variant.name == spec.variant
    experts, px, image, cond = EXPECTED[model_id]
    assert (variant.experts, variant.pixels_per_cell, variant.image_branch) == (experts, px, image)
    assert variant.conditioning_frames() == cond
    patch = pipe.transformer.config.patch_size  # [t, h, w] (Wan), or one int for h and w (CogVideoX, LTX-Video)
    factor = pipe.vae_spatial_compression_ratio if variant.family in ("ltx", "ltx2") else pipe.vae_scale_factor_spatial
    assert variant.pixels_per_cell == factor * (patch if isinstance(patch, int) else patch[1])
    assert spec.height % px == 0 and spec.width % px == 0 and spec.height != spec.width
    if experts == 2:
        assert variant.boundary_ratio == (0.9 if spec.inputs else 0.875)
    assert type(pipe).__name__ == variant.pipeline_class


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["tiny-wan22-a14b", "tiny-ti2v-5b-i2v", "tiny-flf2v", "tiny-v2v"])
def test_tiny_model_generates_through_load_pipeline(model_id: str) -> None:
    pipe = load_pipeline(model_id, device="cpu", dtype="float32")
    spec = TINY_MODELS[model_id]
    out = pipe(
        prompt="a cat", generator=torch.Generator().manual_seed(0), output_type="np",
        **spec.call_kwargs(), **tiny_inputs(model_id),
    ).frames  # fmt: skip
    assert out.shape == (1, spec.num_frames, spec.height, spec.width, 3)


def _fake(name: str, module: str = "diffusers.pipelines.wan.pipeline_wan_animate") -> Any:
    return type(name, (), {"__module__": module})()


def test_unsupported_pipelines_fail_with_one_clear_error() -> None:
    from diffusers.pipelines.wan.pipeline_wan_animate import WanAnimatePipeline

    with pytest.raises(CaptureError, match="WanAnimatePipeline is not supported: Wan Animate"):
        describe_pipeline(WanAnimatePipeline.__new__(WanAnimatePipeline))  # no weights needed to refuse it
    from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing_v2v import (
        SkyReelsV2DiffusionForcingVideoToVideoPipeline as Extension,
    )

    with pytest.raises(CaptureError, match=r"SkyReelsV2DiffusionForcingVideoToVideoPipeline is not supported: .*loop"):
        describe_pipeline(Extension.__new__(Extension))
    with pytest.raises(CaptureError, match="modular diffusers pipeline"):
        describe_pipeline(_fake("Wan22ModularPipeline", "diffusers.modular_pipelines.wan.modular_pipeline"))
    with pytest.raises(
        CaptureError,
        match=r"StableDiffusionPipeline is not a pipeline of a supported model family; supported: Wan \(",
    ):
        describe_pipeline(_fake("StableDiffusionPipeline"))


def test_real_modular_pipeline_class_is_refused() -> None:
    from diffusers.modular_pipelines.wan.modular_pipeline import Wan22ModularPipeline

    pipe = Wan22ModularPipeline.__new__(Wan22ModularPipeline)  # no blocks or weights are needed to refuse it
    with pytest.raises(CaptureError, match=r"Wan22ModularPipeline \(a modular diffusers pipeline\) is not supported"):
        describe_pipeline(pipe)


def test_a_transformer_2_without_boundary_is_refused() -> None:
    pipe = build_tiny_model("tiny-wan22-a14b")
    pipe.register_to_config(boundary_ratio=None)
    with pytest.raises(CaptureError, match="no boundary_ratio"):
        describe_pipeline(pipe)

"""The parts the tiny Wan variants (:mod:`.tiny_variants`) are assembled from.

The tiny T2V pipeline (:func:`~.tiny.build_tiny_pipeline`) gives the tokenizer, text encoder, scheduler and
the 8x VAE; here are the transformers (the tiny T2V one with a few arguments changed), the TI2V-5B VAE,
a tiny CLIP image encoder and :func:`assemble`, which puts a diffusers pipeline class together from them.
Every part is drawn inside ``torch.random.fork_rng`` from its own seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from diffusers.models.transformers.transformer_wan_vace import WanVACETransformer3DModel
from diffusers.pipelines.wan.pipeline_wan import WanPipeline

if TYPE_CHECKING:
    # Imported where used: importing the I2V pipeline module makes transformers warn about torchvision,
    # which every `import attention_visual.capture` would then print.
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline
    from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

from attention_visual.models.tiny import TINY_TRANSFORMER_CONFIG, build_tiny_pipeline, sharpen_cross_attention

#: The transformer's attention width (heads x head dim): the image branch's key/value projection input.
INNER_DIM = TINY_TRANSFORMER_CONFIG["num_attention_heads"] * TINY_TRANSFORMER_CONFIG["attention_head_dim"]
#: Any diffusers pipeline class put together from the tiny parts (Wan's, or a Wan derivative's).
PipelineT = TypeVar("PipelineT", bound="DiffusionPipeline")
CLIP_IMAGE_SIZE = 4  # CLIP patch 1: 4 x 4 + 1 = 17 image tokens per image
CLIP_WIDTH = 4


def tiny_transformer(seed: int, gain: float, cls: type | None = None, **overrides: Any) -> Any:
    """The tiny transformer with ``overrides``: a ``cls`` of Wan's structure (a derivative's own class), else
    ``WanVACETransformer3DModel`` with ``vace_layers``, else ``WanTransformer3DModel``."""
    config = {**TINY_TRANSFORMER_CONFIG, **overrides}
    if cls is None:
        cls = WanVACETransformer3DModel if "vace_layers" in config else WanTransformer3DModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(**config).eval()
    sharpen_cross_attention(model, gain)
    return model


def tiny_clip(seed: int) -> tuple[CLIPVisionModelWithProjection, CLIPImageProcessorPil]:
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=CLIP_WIDTH,
                projection_dim=CLIP_WIDTH,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=CLIP_IMAGE_SIZE,
                intermediate_size=16,
                patch_size=1,
            )
        ).eval()
    return encoder, CLIPImageProcessorPil(crop_size=CLIP_IMAGE_SIZE, size=CLIP_IMAGE_SIZE)


def tiny_vae_5b(seed: int) -> AutoencoderKLWan:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae: AutoencoderKLWan = AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        ).eval()
    return vae


def base_pipeline(seed: int, gain: float, flow_shift: float) -> WanPipeline:
    """The tiny T2V pipeline whose tokenizer, text encoder, scheduler (and transformer, VAE) the variants reuse."""
    return build_tiny_pipeline(seed, cross_attention_gain=gain, flow_shift=flow_shift)


def assemble(cls: type[PipelineT], base: WanPipeline, **components: Any) -> PipelineT:
    """``cls`` from ``base``'s tokenizer, text encoder and scheduler plus ``components``, progress bar off."""
    parts: dict[str, Any] = {
        "tokenizer": base.tokenizer,
        "text_encoder": base.text_encoder,
        "scheduler": base.scheduler,
    }
    pipe = cls(**parts, **components)
    pipe.set_progress_bar_config(disable=True)
    return pipe


#: The I2V pipeline's image encoder is optional (Wan2.2 and TI2V have none), but annotated as required.
NO_IMAGE_ENCODER: dict[str, Any] = {"image_encoder": None, "image_processor": None}


__all__ = [
    "CLIP_IMAGE_SIZE",
    "CLIP_WIDTH",
    "INNER_DIM",
    "NO_IMAGE_ENCODER",
    "PipelineT",
    "assemble",
    "base_pipeline",
    "tiny_clip",
    "tiny_transformer",
    "tiny_vae_5b",
]

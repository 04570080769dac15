"""Tiny offline versions of the models derived from Wan: SkyReels-V2 (T2V, I2V, diffusion forcing), ChronoEdit,
Lucy-Edit.

Each is the tiny Wan2.1 parts (:func:`~.tiny_parts.base_pipeline`: tokenizer, UMT5 text encoder, 8x VAE, UniPC
scheduler) with the derivative's own pipeline class and transformer class, at the tiny Wan transformer's size
(2 blocks, 2 heads of 12; :data:`~.tiny.TINY_TRANSFORMER_CONFIG`), drawn from seeded random weights:

==========================  ===========================================================================
model id                    what it is
==========================  ===========================================================================
``tiny-skyreels-v2``        ``SkyReelsV2Pipeline`` + ``SkyReelsV2Transformer3DModel``
``tiny-skyreels-v2-i2v``    ``SkyReelsV2ImageToVideoPipeline``: 36 input channels, the CLIP image branch
``tiny-skyreels-v2-df``     ``SkyReelsV2DiffusionForcingPipeline``; the transformer embeds the fps
                            (``inject_sample_info``, as DF-1.3B)
``tiny-skyreels-v2-df-i2v`` ``SkyReelsV2DiffusionForcingImageToVideoPipeline`` (the image is latent frame 0)
``tiny-chronoedit``         ``ChronoEditPipeline`` + ``ChronoEditTransformer3DModel`` (36 channels, image branch)
``tiny-lucy-edit``          ``LucyEditPipeline``: a TI2V-5B-like ``WanTransformer3DModel`` (96 input channels:
                            noise and the input video's latents), the 48-channel 16x VAE, ``expand_timesteps``
==========================  ===========================================================================

Example:
    >>> pipe = build_tiny_skyreels_v2_df(0, 2.0, 3.0)
    >>> type(pipe).__name__, type(pipe.transformer.blocks[0].attn2).__name__
    ('SkyReelsV2DiffusionForcingPipeline', 'SkyReelsV2Attention')
"""

from __future__ import annotations

from typing import Any

from attention_visual.models.tiny_parts import (
    CLIP_WIDTH,
    INNER_DIM,
    assemble,
    base_pipeline,
    tiny_clip,
    tiny_transformer,
    tiny_vae_5b,
)


def _skyreels_transformer(seed: int, gain: float, **overrides: Any) -> Any:
    from diffusers.models.transformers.transformer_skyreels_v2 import SkyReelsV2Transformer3DModel

    return tiny_transformer(seed, gain, SkyReelsV2Transformer3DModel, **overrides)


def _image_branch(seed: int, gain: float, cls: type) -> dict[str, Any]:
    """A 36-channel transformer of ``cls`` with the CLIP image branch, and the tiny CLIP encoder + processor."""
    encoder, processor = tiny_clip(seed + 2)
    transformer = tiny_transformer(
        seed + 1, gain, cls, in_channels=36, image_dim=CLIP_WIDTH, added_kv_proj_dim=INNER_DIM
    )
    return {"transformer": transformer, "image_encoder": encoder, "image_processor": processor}


def build_tiny_skyreels_v2(seed: int, gain: float, flow_shift: float) -> Any:
    """SkyReels-V2 text-to-video: the tiny Wan parts with a ``SkyReelsV2Transformer3DModel``."""
    from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2 import SkyReelsV2Pipeline

    base = base_pipeline(seed, gain, flow_shift)
    return assemble(SkyReelsV2Pipeline, base, transformer=_skyreels_transformer(seed + 1, gain), vae=base.vae)


def build_tiny_skyreels_v2_i2v(seed: int, gain: float, flow_shift: float) -> Any:
    """SkyReels-V2 image-to-video: the CLIP image branch, 512 text keys, as Wan2.1-I2V-14B."""
    from diffusers.models.transformers.transformer_skyreels_v2 import SkyReelsV2Transformer3DModel
    from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_i2v import SkyReelsV2ImageToVideoPipeline

    base = base_pipeline(seed, gain, flow_shift)
    parts = _image_branch(seed, gain, SkyReelsV2Transformer3DModel)
    return assemble(SkyReelsV2ImageToVideoPipeline, base, vae=base.vae, **parts)


def build_tiny_skyreels_v2_df(seed: int, gain: float, flow_shift: float) -> Any:
    """SkyReels-V2 diffusion forcing, text to video; the transformer embeds the frame rate (DF-1.3B's)."""
    from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing import (
        SkyReelsV2DiffusionForcingPipeline,
    )

    base = base_pipeline(seed, gain, flow_shift)
    transformer = _skyreels_transformer(seed + 1, gain, inject_sample_info=True)
    return assemble(SkyReelsV2DiffusionForcingPipeline, base, transformer=transformer, vae=base.vae)


def build_tiny_skyreels_v2_df_i2v(seed: int, gain: float, flow_shift: float) -> Any:
    """SkyReels-V2 diffusion forcing, image to video: the image's latent is frame 0, held at timestep 0."""
    from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing_i2v import (
        SkyReelsV2DiffusionForcingImageToVideoPipeline,
    )

    base = base_pipeline(seed, gain, flow_shift)
    transformer = _skyreels_transformer(seed + 1, gain, inject_sample_info=True)
    return assemble(SkyReelsV2DiffusionForcingImageToVideoPipeline, base, transformer=transformer, vae=base.vae)


def build_tiny_chronoedit(seed: int, gain: float, flow_shift: float) -> Any:
    """ChronoEdit: a ``ChronoEditTransformer3DModel`` with the image branch (Wan2.1-I2V-14B's structure)."""
    from diffusers.models.transformers.transformer_chronoedit import ChronoEditTransformer3DModel
    from diffusers.pipelines.chronoedit.pipeline_chronoedit import ChronoEditPipeline

    base = base_pipeline(seed, gain, flow_shift)
    return assemble(ChronoEditPipeline, base, vae=base.vae, **_image_branch(seed, gain, ChronoEditTransformer3DModel))


def build_tiny_lucy_edit(seed: int, gain: float, flow_shift: float) -> Any:
    """Lucy-Edit: TI2V-5B's shape (48-channel VAE, 16x, patch 2), the input video's latents as 48 more channels."""
    from diffusers.pipelines.lucy.pipeline_lucy_edit import LucyEditPipeline

    base = base_pipeline(seed, gain, flow_shift)
    transformer = tiny_transformer(seed + 1, gain, in_channels=96, out_channels=48)
    return assemble(LucyEditPipeline, base, transformer=transformer, vae=tiny_vae_5b(seed + 2), expand_timesteps=True)


__all__ = [
    "build_tiny_chronoedit",
    "build_tiny_lucy_edit",
    "build_tiny_skyreels_v2",
    "build_tiny_skyreels_v2_df",
    "build_tiny_skyreels_v2_df_i2v",
    "build_tiny_skyreels_v2_i2v",
]

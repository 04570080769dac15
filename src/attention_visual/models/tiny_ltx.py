"""Tiny offline random-weight LTX-Video 0.9.x pipelines, for tests and demos.

Built in memory from seeded random weights (no files, no network), with the real checkpoints'
factors so that every LTX rule is exercised at a toy size:

* ``tokenizer``: the tiny Unigram T5 tokenizer (:func:`~.tiny_tokenizer.build_tiny_tokenizer`);
* ``text_encoder``: a 2-layer ``T5EncoderModel`` (``d_model`` 32; LTX's is T5-v1.1-XXL, 4096);
* ``transformer``: an ``LTXVideoTransformer3DModel`` with 2 blocks of 2 heads × 12 channels,
  patch 1 × 1 × 1 (as every LTX 0.9.x checkpoint), ``caption_channels`` 32;
* ``vae``: an ``AutoencoderKLLTXVideo`` with LTX's compression: patch 4 and three spatio-temporal
  downsamplings, so **32 pixels per token** and **8 video frames per latent frame** (the first alone:
  ``8k + 1`` frames → ``k + 1`` latent frames), 8 latent channels;
* ``scheduler``: ``FlowMatchEulerDiscreteScheduler`` without dynamic shifting, as LTX-Video 0.9.5 and later
  configure it, so that every tiny model runs every LTX task (``LTXConditionPipeline`` passes its own
  timesteps and no ``mu``; 0.9.0/0.9.1's dynamically shifting scheduler cannot run it:
  :data:`DYNAMIC_SHIFT_SCHEDULER`).

=========================  ===================================  ==========================================
model id                   pipeline                             what it adds
=========================  ===================================  ==========================================
``tiny-ltx``               ``LTXPipeline``                      text to video (as LTX-Video 0.9.5)
``tiny-ltx-i2v``           ``LTXImageToVideoPipeline``          latent frame 0 is the input image
                                                                (per-token timestep 0 there)
``tiny-ltx-condition``     ``LTXConditionPipeline``             conditioning items: at frame 0 mixed into
                                                                the first latent frames, later ones
                                                                prepended as extra tokens; a
                                                                timestep-conditioned VAE (0.9.1 and later)
=========================  ===================================  ==========================================

The default call (:data:`TINY_LTX_SETTINGS`) makes a non-square grid: 64 × 96 pixels and 17 frames →
latents ``[8, 3, 2, 3]`` → 3 latent frames × 2 × 3 tokens. As for the tiny Wan models, the
cross-attention ``norm_q``/``norm_k`` weights are raised (:func:`~.tiny.sharpen_cross_attention`) so the
maps have structure.

Example:
    >>> pipe = build_tiny_ltx(seed=0)
    >>> out = pipe("a cat and a dog", **TINY_LTX_SETTINGS.call_kwargs(), output_type="latent")
    >>> tuple(out.frames.shape)  # packed: [batch, video_token, channel]
    (1, 18, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from diffusers.models.autoencoders.autoencoder_kl_ltx import AutoencoderKLLTXVideo
from diffusers.models.transformers.transformer_ltx import LTXVideoTransformer3DModel
from diffusers.pipelines.ltx.pipeline_ltx import LTXPipeline
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from transformers import T5Config, T5EncoderModel

from attention_visual.errors import ConfigError
from attention_visual.models.tiny import (
    DEFAULT_CROSS_ATTENTION_GAIN,
    TINY_TEXT_ENCODER_CONFIG,
    TinySettings,
    sharpen_cross_attention,
)
from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer

if TYPE_CHECKING:
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXConditionPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_image2video import LTXImageToVideoPipeline

PipelineT = TypeVar("PipelineT", "LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline")
LTX_PIXELS_PER_CELL = 32  # VAE patch 4 × 2³ (patch 1 in the transformer)
LTX_FRAMES_PER_LATENT = 8  # 2³ temporal downsamplings; latent frame 0 holds video frame 0 alone
_LATENT_CHANNELS = 8

TINY_LTX_TRANSFORMER_CONFIG: dict[str, Any] = {
    "in_channels": _LATENT_CHANNELS,
    "out_channels": _LATENT_CHANNELS,
    "patch_size": 1,
    "patch_size_t": 1,
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "cross_attention_dim": 24,  # LTX projects the caption to the model width (heads × head dim)
    "num_layers": 2,
    "caption_channels": TINY_TEXT_ENCODER_CONFIG["d_model"],
}
"""``LTXVideoTransformer3DModel`` arguments of the tiny transformer."""

#: LTX-Video 0.9.0/0.9.1's scheduler (``scheduler_config.json`` of their diffusers checkpoints): it needs ``mu``.
DYNAMIC_SHIFT_SCHEDULER: dict[str, Any] = {
    "base_image_seq_len": 1024,
    "base_shift": 0.95,
    "max_image_seq_len": 4096,
    "max_shift": 2.05,
    "shift_terminal": 0.1,
    "use_dynamic_shifting": True,
}
#: LTX-Video 0.9.5 and later: no dynamic shifting (``LTXConditionPipeline`` gives its own timesteps, no ``mu``).
STATIC_SHIFT_SCHEDULER: dict[str, Any] = {"use_dynamic_shifting": False}


@dataclass(frozen=True)
class TinyLtxSettings(TinySettings):
    """Generation settings for the tiny LTX pipelines; ``height``/``width`` multiples of 32, ``8k + 1`` frames.

    Raises:
        ConfigError: A size does not fit LTX's 32-pixel / ``8k + 1``-frame grid.
    """

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if value <= 0 or value % LTX_PIXELS_PER_CELL:
                raise ConfigError(f"tiny LTX settings: {name}={value} must be a positive multiple of 32")
        if self.num_frames < 1 or (self.num_frames - 1) % LTX_FRAMES_PER_LATENT:
            raise ConfigError(f"tiny LTX settings: num_frames={self.num_frames} must be of the form 8k + 1")

    @property
    def latent_grid(self) -> tuple[int, int, int]:
        """``(frames, rows, cols)`` of the video tokens: ``(num_frames - 1) // 8 + 1`` × height/32 × width/32."""
        frames = (self.num_frames - 1) // LTX_FRAMES_PER_LATENT + 1
        return (frames, self.height // LTX_PIXELS_PER_CELL, self.width // LTX_PIXELS_PER_CELL)


TINY_LTX_SETTINGS = TinyLtxSettings(
    height=64, width=96, num_frames=17, num_inference_steps=2, guidance_scale=3.0, max_sequence_length=128
)
"""64 × 96 pixels, 17 frames (grid 3 × 2 × 3), 2 steps, guidance 3 (batched ``[uncond, cond]``), 128 text tokens."""


def _text_parts(seed: int) -> tuple[Any, T5EncoderModel]:
    tokenizer = build_tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer),
                **TINY_TEXT_ENCODER_CONFIG,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        ).eval()
    return tokenizer, encoder


def tiny_ltx_transformer(seed: int, gain: float = DEFAULT_CROSS_ATTENTION_GAIN) -> LTXVideoTransformer3DModel:
    """The tiny LTX transformer (:data:`TINY_LTX_TRANSFORMER_CONFIG`), its ``attn2`` norms set to ``gain``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: LTXVideoTransformer3DModel = LTXVideoTransformer3DModel(**TINY_LTX_TRANSFORMER_CONFIG).eval()
    sharpen_cross_attention(model, gain)
    return model


def tiny_ltx_vae(
    seed: int, *, timestep_conditioning: bool = False, latent_channels: int = _LATENT_CHANNELS
) -> AutoencoderKLLTXVideo:
    """A tiny ``AutoencoderKLLTXVideo`` with LTX's 32× spatial, 8× temporal compression.

    ``latent_channels``: 8 for the tiny models; the capture benchmark uses the checkpoints' 128.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae: AutoencoderKLLTXVideo = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=latent_channels,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=timestep_conditioning,
            patch_size=4,
            patch_size_t=1,
        ).eval()
    if (vae.spatial_compression_ratio, vae.temporal_compression_ratio) != (32, 8):  # pragma: no cover
        raise ConfigError("tiny LTX VAE: expected 32x spatial and 8x temporal compression")
    return vae


def _pipeline(
    cls: type[PipelineT], seed: int, gain: float, *, timestep_vae: bool, scheduler: dict[str, Any]
) -> PipelineT:
    """``cls`` from the tiny parts (text: seed ``seed``, transformer: ``seed + 1``, VAE: ``seed + 2``)."""
    if not gain > 0:
        raise ConfigError(f"cross_attention_gain must be > 0, got {gain}")
    tokenizer, text_encoder = _text_parts(seed)
    pipe = cls(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        transformer=tiny_ltx_transformer(seed + 1, gain),
        vae=tiny_ltx_vae(seed + 2, timestep_conditioning=timestep_vae),
        scheduler=FlowMatchEulerDiscreteScheduler(**scheduler),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_ltx(
    seed: int = 0,
    *,
    cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN,
    scheduler: dict[str, Any] | None = None,
) -> LTXPipeline:
    """``LTXPipeline`` (text to video): deterministic for ``seed``, progress bar off.

    ``scheduler``: the scheduler's configuration (default :data:`STATIC_SHIFT_SCHEDULER`;
    :data:`DYNAMIC_SHIFT_SCHEDULER`: as LTX-Video 0.9.0/0.9.1).
    """
    config = STATIC_SHIFT_SCHEDULER if scheduler is None else scheduler
    return _pipeline(LTXPipeline, seed, cross_attention_gain, timestep_vae=False, scheduler=config)


def build_tiny_ltx_i2v(
    seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN
) -> LTXImageToVideoPipeline:
    """``LTXImageToVideoPipeline`` on the parts of :func:`build_tiny_ltx`: latent frame 0 is the image."""
    from diffusers.pipelines.ltx.pipeline_ltx_image2video import LTXImageToVideoPipeline

    return _pipeline(
        LTXImageToVideoPipeline, seed, cross_attention_gain, timestep_vae=False, scheduler=STATIC_SHIFT_SCHEDULER
    )


def build_tiny_ltx_condition(
    seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN
) -> LTXConditionPipeline:
    """``LTXConditionPipeline``, as LTX-Video 0.9.7: a timestep-conditioned VAE (0.9.1 and later)."""
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXConditionPipeline

    return _pipeline(
        LTXConditionPipeline, seed, cross_attention_gain, timestep_vae=True, scheduler=STATIC_SHIFT_SCHEDULER
    )


__all__ = [
    "DYNAMIC_SHIFT_SCHEDULER",
    "LTX_FRAMES_PER_LATENT",
    "LTX_PIXELS_PER_CELL",
    "STATIC_SHIFT_SCHEDULER",
    "TINY_LTX_SETTINGS",
    "TINY_LTX_TRANSFORMER_CONFIG",
    "TinyLtxSettings",
    "build_tiny_ltx",
    "build_tiny_ltx_condition",
    "build_tiny_ltx_i2v",
    "tiny_ltx_transformer",
    "tiny_ltx_vae",
]

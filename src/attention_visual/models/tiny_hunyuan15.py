"""Tiny offline random-weight HunyuanVideo-1.5 pipelines (text- and image-to-video), for tests and demos.

Built in memory from the real classes with seeded random weights: the tiny Qwen2.5-VL tokenizer
(:func:`~.tiny_qwen_tokenizer.build_tiny_qwen_tokenizer`: the chat before the prompt is 108 tokens, the cut
the pipelines make), a 3-layer ``Qwen2_5_VLTextModel`` (the pipelines read its third-to-last hidden state),
diffusers' ``ByT5Tokenizer`` (bytes: no vocabulary to build) with a 1-layer ``T5EncoderModel``, a 2-block
``HunyuanVideo15Transformer3DModel`` (2 heads of 16 channels, RoPE axes 4 + 6 + 6), an
``AutoencoderKLHunyuanVideo15`` with the real factors (16× spatial, 4× temporal, 4 latent channels), the
checkpoints' ``FlowMatchEulerDiscreteScheduler`` (shift 5; the builders ignore ``flow_shift``, which
``load_pipeline`` applies through the family) and ``ClassifierFreeGuidance`` (scale 6). The
image-to-video model adds a 1-layer ``SiglipVisionModel`` (28 px, patch 14: 4 image tokens) and its PIL
image processor. The pipelines keep their real text lengths: 1000 Qwen tokens, 256 byT5 tokens, 729
(zero, masked) image tokens for text-to-video.

=========================  =======================================  =======================================
model id                   pipeline                                 what it is
=========================  =======================================  =======================================
``tiny-hunyuan15``         ``HunyuanVideo15Pipeline``               text-to-video
``tiny-hunyuan15-i2v``     ``HunyuanVideo15ImageToVideoPipeline``   image-to-video (``target_size`` 48: the
                                                                    32 × 48 bucket is the tiny settings')
=========================  =======================================  =======================================

Settings (:data:`TINY_HUNYUAN15`): 32 × 48 pixels, 9 frames: a non-square grid of 3 frames × 2 × 3 cells
(16 px per cell), 2 steps, guidance 6. Default initialisation makes the joint attention nearly uniform;
:func:`sharpen_joint_attention` raises the q/k norms' weights so the maps vary over the video.

Example:
    >>> from attention_visual.families import variant_named
    >>> from attention_visual.families.runtime import call_arguments
    >>> pipe = build_tiny_hunyuan15(seed=0)
    >>> kwargs = call_arguments(pipe, variant_named("hunyuanvideo1.5-t2v"), hunyuan15_settings())
    >>> pipe(prompt="a cat", **kwargs, output_type="latent").frames.shape
    torch.Size([1, 4, 3, 2, 3])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers.guiders.classifier_free_guidance import ClassifierFreeGuidance
from diffusers.models.autoencoders.autoencoder_kl_hunyuanvideo15 import AutoencoderKLHunyuanVideo15
from diffusers.models.transformers.transformer_hunyuan_video15 import HunyuanVideo15Transformer3DModel
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from transformers import (
    ByT5Tokenizer,
    Qwen2_5_VLTextConfig,
    Qwen2_5_VLTextModel,
    SiglipImageProcessorPil,
    SiglipVisionConfig,
    SiglipVisionModel,
    T5Config,
    T5EncoderModel,
)

from attention_visual.models.tiny_qwen_tokenizer import build_tiny_qwen_tokenizer

LATENT_CHANNELS = 4
TEXT_LENGTH = 1000
"""Qwen2.5-VL text keys of the pipelines (``tokenizer_max_length``, fixed)."""
TARGET_SIZE = 48
"""The tiny transformers' ``target_size``: its image-to-video buckets include 32 × 48."""
DEFAULT_JOINT_ATTENTION_GAIN = 2.0
"""Value of every ``attn`` q/k norm weight (see :func:`sharpen_joint_attention`)."""
_TEXT_DIM, _GLYPH_DIM, _IMAGE_DIM = 32, 32, 16

#: ``HunyuanVideo15Transformer3DModel`` arguments shared by both tiny transformers.
TRANSFORMER_CONFIG: dict[str, Any] = {
    "in_channels": 2 * LATENT_CHANNELS + 1,  # latents, the condition latents, the condition mask
    "out_channels": LATENT_CHANNELS,
    "num_attention_heads": 2,
    "attention_head_dim": 16,
    "num_layers": 2,
    "num_refiner_layers": 1,
    "mlp_ratio": 2.0,
    "patch_size": 1,
    "patch_size_t": 1,
    "text_embed_dim": _TEXT_DIM,
    "text_embed_2_dim": _GLYPH_DIM,
    "image_embed_dim": _IMAGE_DIM,
    "rope_axes_dim": (4, 6, 6),
    "target_size": TARGET_SIZE,
}


def sharpen_joint_attention(transformer: torch.nn.Module, gain: float) -> None:
    """Set every ``attn`` q/k RMSNorm weight (video and context) to ``gain`` (the logits scale by its square)."""
    with torch.no_grad():
        for name, module in transformer.named_modules():
            if name.endswith(".attn") and getattr(module, "norm_added_k", None) is not None:
                for norm in (module.norm_q, module.norm_k, module.norm_added_q, module.norm_added_k):
                    norm.weight.fill_(gain)


def _seeded(seed: int, make: Callable[[], Any]) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make().eval()


def tiny_hunyuan15_vae(seed: int, latent_channels: int = LATENT_CHANNELS) -> AutoencoderKLHunyuanVideo15:
    """An ``AutoencoderKLHunyuanVideo15`` with the real factors (4 levels: 16× spatial, 4× temporal), 1 layer each.

    Its widest level must hold twice the latent channels (the benchmark's 32-channel one is 64 wide).
    """
    width = max(8, 2 * latent_channels)
    vae: AutoencoderKLHunyuanVideo15 = _seeded(
        seed,
        lambda: AutoencoderKLHunyuanVideo15(
            latent_channels=latent_channels, block_out_channels=(width,) * 4, layers_per_block=1,
            spatial_compression_ratio=16, temporal_compression_ratio=4, downsample_match_channel=False,
            upsample_match_channel=False,
        ),
    )  # fmt: skip
    return vae


def _parts(seed: int, gain: float, task_type: str) -> dict[str, Any]:
    tokenizer = build_tiny_qwen_tokenizer()
    pad = tokenizer.pad_token_id
    qwen = Qwen2_5_VLTextConfig(
        vocab_size=len(tokenizer), hidden_size=_TEXT_DIM, intermediate_size=32, num_hidden_layers=3,
        num_attention_heads=2, num_key_value_heads=2, bos_token_id=pad, eos_token_id=pad, pad_token_id=pad,
        rope_parameters={"mrope_section": [2, 3, 3], "rope_type": "default", "rope_theta": 1e6},
    )  # fmt: skip
    glyph_tokenizer = ByT5Tokenizer()
    byt5 = T5Config(
        vocab_size=len(glyph_tokenizer), d_model=_GLYPH_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=4,
        feed_forward_proj="gated-gelu", relative_attention_num_buckets=8, relative_attention_max_distance=16,
    )  # fmt: skip
    transformer = _seeded(seed + 1, lambda: HunyuanVideo15Transformer3DModel(**TRANSFORMER_CONFIG, task_type=task_type))
    sharpen_joint_attention(transformer, gain)
    return {
        "tokenizer": tokenizer,
        "text_encoder": _seeded(seed, lambda: Qwen2_5_VLTextModel(qwen)),
        "tokenizer_2": glyph_tokenizer,
        "text_encoder_2": _seeded(seed + 3, lambda: T5EncoderModel(byt5)),
        "transformer": transformer,
        "vae": tiny_hunyuan15_vae(seed + 2),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=5.0),
        "guider": ClassifierFreeGuidance(guidance_scale=6.0),
    }


def _finish(pipe: Any) -> Any:
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_hunyuan15(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """HunyuanVideo-1.5 text-to-video in small (``flow_shift`` is ignored: ``load_pipeline`` applies one)."""
    from diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5 import HunyuanVideo15Pipeline

    return _finish(HunyuanVideo15Pipeline(**_parts(seed, gain, "t2v")))


def build_tiny_hunyuan15_i2v(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """HunyuanVideo-1.5 image-to-video in small: a 1-layer SigLIP image encoder (4 image tokens)."""
    from diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5_image2video import (
        HunyuanVideo15ImageToVideoPipeline,
    )

    parts = _parts(seed, gain, "i2v")
    siglip = SiglipVisionConfig(
        hidden_size=_IMAGE_DIM, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28,
        patch_size=14,
    )  # fmt: skip
    encoder = _seeded(seed + 4, lambda: SiglipVisionModel(siglip))
    processor = SiglipImageProcessorPil(size={"height": 28, "width": 28})
    # the checkpoints' SiglipImageProcessor needs torchvision; its PIL twin preprocesses the same way
    pipe = HunyuanVideo15ImageToVideoPipeline(**parts, image_encoder=encoder, feature_extractor=processor)  # type: ignore[arg-type]
    return _finish(pipe)


#: ``(model id, variant, builder, inputs)`` of both tiny HunyuanVideo-1.5 models; the registry of all tiny
#: models (:data:`~.tiny_variants.TINY_MODELS`) gives each the settings of :func:`hunyuan15_settings`.
TINY_HUNYUAN15: tuple[tuple[str, str, Callable[..., Any], tuple[str, ...]], ...] = (
    ("tiny-hunyuan15", "hunyuanvideo1.5-t2v", build_tiny_hunyuan15, ()),
    ("tiny-hunyuan15-i2v", "hunyuanvideo1.5-i2v", build_tiny_hunyuan15_i2v, ("image",)),
)


def hunyuan15_settings() -> dict[str, Any]:
    """Generation settings of a tiny HunyuanVideo-1.5 model: 32 × 48 px, 9 frames (3 × 2 × 3 cells), 2 steps."""
    return {
        "height": 32,
        "width": 48,
        "num_frames": 9,
        "num_inference_steps": 2,
        "guidance_scale": 6.0,
        "max_sequence_length": TEXT_LENGTH,
    }


__all__ = [
    "DEFAULT_JOINT_ATTENTION_GAIN",
    "LATENT_CHANNELS",
    "TARGET_SIZE",
    "TEXT_LENGTH",
    "TINY_HUNYUAN15",
    "TRANSFORMER_CONFIG",
    "build_tiny_hunyuan15",
    "build_tiny_hunyuan15_i2v",
    "hunyuan15_settings",
    "sharpen_joint_attention",
    "tiny_hunyuan15_vae",
]

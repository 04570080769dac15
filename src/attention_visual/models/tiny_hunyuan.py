"""Tiny offline random-weight HunyuanVideo (1.0) pipelines, for tests and demos.

Built in memory from the real classes with seeded random weights: the tiny Llama-3 tokenizer
(:func:`~.tiny_llama_tokenizer.build_tiny_llama_tokenizer`: BOS and the template before the prompt are 95
tokens, the cut the pipeline makes) with a 3-layer ``LlamaModel`` (the pipeline reads its third-to-last
hidden state), the tiny CLIP tokenizer with a 1-layer ``CLIPTextModel`` (its pooled vector), a
``HunyuanVideoTransformer3DModel`` with 2 dual-stream and 2 single-stream blocks (2 heads of 16 channels,
RoPE axes 4 + 6 + 6, patch 1 × 2 × 2, the guidance embedding), the ``AutoencoderKLHunyuanVideo`` of diffusers'
own tests (8× spatial, 4× temporal, 4 latent channels) and the checkpoint's ``FlowMatchEulerDiscreteScheduler``
(shift 7; the builder ignores ``flow_shift``, which ``load_pipeline`` applies through the family). The
pipeline keeps its real text length: 256 Llama tokens after the cut, the padding masked.

====================  ==========================  ====================================================
model id              pipeline                    what it is
====================  ==========================  ====================================================
``tiny-hunyuan``      ``HunyuanVideoPipeline``    HunyuanVideo text-to-video (dual and single stream)
====================  ==========================  ====================================================

Settings (:func:`hunyuan_settings`): 32 × 48 pixels, 9 frames: a non-square grid of 3 frames × 2 × 3 cells
(16 px per cell), 2 steps, embedded guidance 6. Default initialisation makes the joint attention nearly
uniform; :func:`sharpen_joint_attention` raises the q/k norms' weights so the maps vary over the video.

Example:
    >>> from attention_visual.models.tiny import TinySettings
    >>> pipe = build_tiny_hunyuan(seed=0)
    >>> settings = TinySettings(**hunyuan_settings()).call_kwargs()  # 32 x 48 px, 9 frames, 2 steps
    >>> pipe(prompt="a cat", **settings, output_type="latent").frames.shape
    torch.Size([1, 4, 3, 4, 6])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl_hunyuan_video import AutoencoderKLHunyuanVideo
from diffusers.models.transformers.transformer_hunyuan_video import HunyuanVideoTransformer3DModel
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

from attention_visual.models.tiny_llama_tokenizer import build_tiny_clip_tokenizer, build_tiny_llama_tokenizer

LATENT_CHANNELS = 4
TEXT_LENGTH = 256
"""Llama text keys after the template cut (the pipeline's default ``max_sequence_length``)."""
DEFAULT_JOINT_ATTENTION_GAIN = 2.0
"""Value of every ``attn`` q/k norm weight (see :func:`sharpen_joint_attention`)."""
_TEXT_DIM, _POOLED_DIM = 16, 8

#: ``HunyuanVideoTransformer3DModel`` arguments of the tiny transformer.
TRANSFORMER_CONFIG: dict[str, Any] = {
    "in_channels": LATENT_CHANNELS,
    "out_channels": LATENT_CHANNELS,
    "num_attention_heads": 2,
    "attention_head_dim": 16,
    "num_layers": 2,
    "num_single_layers": 2,
    "num_refiner_layers": 1,
    "mlp_ratio": 2.0,
    "patch_size": 2,
    "patch_size_t": 1,
    "guidance_embeds": True,
    "text_embed_dim": _TEXT_DIM,
    "pooled_projection_dim": _POOLED_DIM,
    "rope_axes_dim": (4, 6, 6),
}


def sharpen_joint_attention(transformer: torch.nn.Module, gain: float) -> None:
    """Set every q/k RMSNorm weight of every block's ``attn`` (video and text) to ``gain``.

    The logits scale by its square; at 1 (default initialisation) the attention is nearly uniform.
    """
    with torch.no_grad():
        for name, module in transformer.named_modules():
            if name.endswith(".attn") and ".token_refiner." not in name:
                for norm in (module.norm_q, module.norm_k, module.norm_added_q, module.norm_added_k):
                    if norm is not None:
                        norm.weight.fill_(gain)


def _seeded(seed: int, make: Callable[[], Any]) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make().eval()


def tiny_hunyuan_vae(seed: int, latent_channels: int = LATENT_CHANNELS) -> AutoencoderKLHunyuanVideo:
    """The VAE of diffusers' HunyuanVideo tests: 4 levels (8× spatial), 4× temporal, 4 latent channels (the
    benchmark: 16, the checkpoint's)."""
    vae: AutoencoderKLHunyuanVideo = _seeded(
        seed,
        lambda: AutoencoderKLHunyuanVideo(
            in_channels=3, out_channels=3, latent_channels=latent_channels,
            down_block_types=("HunyuanVideoDownBlock3D",) * 4, up_block_types=("HunyuanVideoUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8), layers_per_block=1, act_fn="silu", norm_num_groups=4,
            scaling_factor=0.476986, spatial_compression_ratio=8, temporal_compression_ratio=4,
            mid_block_add_attention=True,
        ),
    )  # fmt: skip
    return vae


def _text_parts(seed: int) -> dict[str, Any]:
    """The Llama and CLIP tokenizers and encoders."""
    tokenizer = build_tiny_llama_tokenizer()
    llama = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=_TEXT_DIM, intermediate_size=32, num_hidden_layers=3,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    clip_tokenizer = build_tiny_clip_tokenizer()
    clip = CLIPTextConfig(
        vocab_size=len(clip_tokenizer), hidden_size=_POOLED_DIM, intermediate_size=16, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=77, projection_dim=_POOLED_DIM,
        bos_token_id=clip_tokenizer.bos_token_id, eos_token_id=clip_tokenizer.eos_token_id,
        pad_token_id=clip_tokenizer.pad_token_id,
    )  # fmt: skip
    return {
        "tokenizer": tokenizer,
        "text_encoder": _seeded(seed, lambda: LlamaModel(llama)),
        "tokenizer_2": clip_tokenizer,
        "text_encoder_2": _seeded(seed + 3, lambda: CLIPTextModel(clip)),
    }


def build_tiny_hunyuan(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """HunyuanVideo text-to-video in small (``flow_shift`` is ignored: ``load_pipeline`` applies one)."""
    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import HunyuanVideoPipeline

    transformer = _seeded(seed + 1, lambda: HunyuanVideoTransformer3DModel(**TRANSFORMER_CONFIG))
    sharpen_joint_attention(transformer, gain)
    pipe = HunyuanVideoPipeline(
        **_text_parts(seed), transformer=transformer, vae=tiny_hunyuan_vae(seed + 2),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


#: ``(model id, variant, builder, inputs)`` of every tiny HunyuanVideo model; the registry of all tiny models
#: (:data:`~.tiny_variants.TINY_MODELS`) gives each the settings of :func:`hunyuan_settings`.
TINY_HUNYUAN: tuple[tuple[str, str, Callable[..., Any], tuple[str, ...]], ...] = (
    ("tiny-hunyuan", "hunyuanvideo-t2v", build_tiny_hunyuan, ()),
)


def hunyuan_settings() -> dict[str, Any]:
    """Where a tiny HunyuanVideo model's generation settings differ from :class:`~.tiny.TinySettings`' (whose
    32 × 48 px, 9 frames and 2 steps make 3 × 2 × 3 cells of 16 px): the pipeline's guidance scale and its
    256 text keys."""
    return {"guidance_scale": 6.0, "max_sequence_length": TEXT_LENGTH}


__all__ = [
    "DEFAULT_JOINT_ATTENTION_GAIN",
    "LATENT_CHANNELS",
    "TEXT_LENGTH",
    "TINY_HUNYUAN",
    "TRANSFORMER_CONFIG",
    "build_tiny_hunyuan",
    "hunyuan_settings",
    "sharpen_joint_attention",
    "tiny_hunyuan_vae",
]

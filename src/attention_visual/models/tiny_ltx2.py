"""Tiny offline random-weight LTX-2 pipelines, for tests and demos.

Built in memory from seeded random weights (no files, no network), with the real checkpoints' factors and
text layout so that every LTX-2 rule is exercised at a toy size:

* ``tokenizer``: the tiny Gemma tokenizer (:func:`~.tiny_gemma_tokenizer.build_tiny_gemma_tokenizer`): BPE,
  ``<bos>`` first, padded on the left;
* ``text_encoder``: a ``Gemma3ForConditionalGeneration`` (the real class) with a 2-layer, 32-wide text model
  and a 1-layer vision tower the text path never runs;
* ``connectors``: ``LTX2TextConnectors`` with **128 learned registers** as every checkpoint (so
  ``max_sequence_length`` is a multiple of 128), one 2-head layer per stream;
* ``transformer``: an ``LTX2VideoTransformer3DModel`` with 2 blocks of 2 heads × 12 channels (audio: 2 × 4),
  ``rope_type="split"`` as the checkpoints;
* ``vae``: an ``AutoencoderKLLTX2Video`` with LTX-2's compression (patch 4, then spatial, temporal and two
  spatio-temporal downsamplings): **32 pixels per token**, **8 video frames per latent frame** (the first
  alone: ``8k + 1`` frames → ``k + 1`` latent frames), 8 latent channels;
* ``audio_vae`` and ``vocoder``: the smallest ``AutoencoderKLLTX2Audio`` and ``LTX2Vocoder`` of diffusers' own
  LTX-2 tests (the audio stream runs; its attention is not captured);
* ``scheduler``: ``FlowMatchEulerDiscreteScheduler`` with LTX-2's dynamic shifting.

``version="2.3"`` builds LTX-2.3's layout instead: per-modality text projections in the connector
(``per_modality_projections``, no caption projection in the transformer), gated attention, the
cross-attention modulation (``cross_attn_mod``) and the perturbed-attention processors.

=======================  ===============================  ==========================================
model id                 pipeline                         what it adds
=======================  ===============================  ==========================================
``tiny-ltx2``            ``LTX2Pipeline``                 text to video (and audio)
``tiny-ltx2-i2v``        ``LTX2ImageToVideoPipeline``     latent frame 0 is the input image
                                                          (per-token timestep 0 there)
``tiny-ltx2-condition``  ``LTX2ConditionPipeline``        ``conditions``: at latent index 0 they
                                                          overwrite the first frames' tokens, at
                                                          index > 0 they append keyframe tokens
=======================  ===============================  ==========================================

The default call (:data:`TINY_LTX2_SETTINGS`) makes a non-square grid: 64 × 96 pixels and 17 frames →
3 latent frames × 2 × 3 tokens, 128 text keys. As for the tiny Wan models, the cross-attention
``norm_q``/``norm_k`` weights are raised (:func:`~.tiny.sharpen_cross_attention`) so the maps have
structure. The image-to-video pipeline re-compresses its image with PyAV unless called with ``image_crf=0``
(the condition pipeline: an image condition unless it has ``crf=0``).

Example:
    >>> pipe = build_tiny_ltx2(seed=0)
    >>> out = pipe("a cat and a dog", **TINY_LTX2_SETTINGS.call_kwargs(), output_type="latent")
    >>> tuple(out.frames.shape)  # [batch, channel, frame, y, x]
    (1, 8, 3, 2, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import torch
from diffusers.models.autoencoders.autoencoder_kl_ltx2 import AutoencoderKLLTX2Video
from diffusers.models.autoencoders.autoencoder_kl_ltx2_audio import AutoencoderKLLTX2Audio
from diffusers.models.transformers.transformer_ltx2 import LTX2VideoTransformer3DModel
from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors
from diffusers.pipelines.ltx2.pipeline_ltx2 import LTX2Pipeline
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from transformers import Gemma3Config, Gemma3ForConditionalGeneration

from attention_visual.errors import ConfigError
from attention_visual.models.tiny import DEFAULT_CROSS_ATTENTION_GAIN, sharpen_cross_attention
from attention_visual.models.tiny_gemma_tokenizer import build_tiny_gemma_tokenizer
from attention_visual.models.tiny_ltx import TinyLtxSettings

if TYPE_CHECKING:
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2ConditionPipeline
    from diffusers.pipelines.ltx2.pipeline_ltx2_image2video import LTX2ImageToVideoPipeline

PipelineT = TypeVar("PipelineT", "LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline")
VERSIONS = ("2.0", "2.3")
_TEXT_DIM, _TEXT_LAYERS = 32, 2
_HEADS, _HEAD_DIM = 2, 12  # video stream: 24 wide
_AUDIO_HEADS, _AUDIO_HEAD_DIM = 2, 4  # audio stream: 8 wide
_LATENT_CHANNELS = 8
REGISTERS = 128  # as every LTX-2 checkpoint's connector

TINY_LTX2_SETTINGS = TinyLtxSettings(
    height=64, width=96, num_frames=17, num_inference_steps=2, guidance_scale=3.0, max_sequence_length=REGISTERS
)
"""64 × 96 pixels, 17 frames (grid 3 × 2 × 3), 2 steps, guidance 3 (batched ``[uncond, cond]``), 128 text keys."""

#: LTX-2's scheduler (diffusers' ``scripts/convert_ltx2_to_diffusers.py`` for the non-distilled checkpoints).
SCHEDULER_CONFIG: dict[str, Any] = {
    "use_dynamic_shifting": True,
    "base_shift": 0.95,
    "max_shift": 2.05,
    "base_image_seq_len": 1024,
    "max_image_seq_len": 4096,
    "shift_terminal": 0.1,
}


def _text_encoder(vocab_size: int) -> Gemma3ForConditionalGeneration:
    """A 2-layer, 32-wide Gemma-3 (the real class); the image tokens lie outside the tiny vocabulary."""
    config = Gemma3Config(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": _TEXT_DIM,
            "intermediate_size": 64,
            "num_hidden_layers": _TEXT_LAYERS,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "sliding_window": 64,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "bos_token_id": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 16,
            "patch_size": 4,
        },
        mm_tokens_per_image=4,
        boi_token_index=vocab_size,
        eoi_token_index=vocab_size + 1,
        image_token_index=vocab_size + 2,
    )
    encoder: Gemma3ForConditionalGeneration = Gemma3ForConditionalGeneration(config).eval()
    return encoder


def _connectors(version: str) -> LTX2TextConnectors:
    """LTX-2: one text projection to the caption width; LTX-2.3: one per stream, to each stream's width."""
    per_stream = version == "2.3"
    video_heads, video_dim = (_HEADS, _HEAD_DIM) if per_stream else (2, _TEXT_DIM // 2)
    audio_heads, audio_dim = (_AUDIO_HEADS, _AUDIO_HEAD_DIM) if per_stream else (2, _TEXT_DIM // 2)
    connectors: LTX2TextConnectors = LTX2TextConnectors(
        caption_channels=_TEXT_DIM,
        text_proj_in_factor=_TEXT_LAYERS + 1,  # the embeddings and every layer's hidden states
        video_connector_num_attention_heads=video_heads,
        video_connector_attention_head_dim=video_dim,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=REGISTERS,
        video_gated_attn=per_stream,
        audio_connector_num_attention_heads=audio_heads,
        audio_connector_attention_head_dim=audio_dim,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=REGISTERS,
        audio_gated_attn=per_stream,
        connector_rope_base_seq_len=4096,
        rope_type="split",
        per_modality_projections=per_stream,
        video_hidden_dim=video_heads * video_dim,
        audio_hidden_dim=audio_heads * audio_dim,
        proj_bias=per_stream,
    ).eval()
    return connectors


def tiny_ltx2_transformer(
    seed: int, gain: float = DEFAULT_CROSS_ATTENTION_GAIN, version: str = "2.0"
) -> LTX2VideoTransformer3DModel:
    """The tiny LTX-2 transformer (2 blocks), its ``attn2`` norms set to ``gain``."""
    later = version == "2.3"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: LTX2VideoTransformer3DModel = LTX2VideoTransformer3DModel(
            in_channels=_LATENT_CHANNELS,
            out_channels=_LATENT_CHANNELS,
            num_attention_heads=_HEADS,
            attention_head_dim=_HEAD_DIM,
            cross_attention_dim=_HEADS * _HEAD_DIM,
            audio_in_channels=4,
            audio_out_channels=4,
            audio_num_attention_heads=_AUDIO_HEADS,
            audio_attention_head_dim=_AUDIO_HEAD_DIM,
            audio_cross_attention_dim=_AUDIO_HEADS * _AUDIO_HEAD_DIM,
            num_layers=2,
            caption_channels=_TEXT_DIM,
            rope_type="split",
            gated_attn=later,
            cross_attn_mod=later,
            audio_gated_attn=later,
            audio_cross_attn_mod=later,
            use_prompt_embeddings=not later,
            perturbed_attn=later,
        ).eval()
    sharpen_cross_attention(model, gain)
    return model


def tiny_ltx2_vae(seed: int, *, latent_channels: int = _LATENT_CHANNELS) -> AutoencoderKLLTX2Video:
    """A tiny ``AutoencoderKLLTX2Video`` with LTX-2's 32× spatial, 8× temporal compression.

    ``latent_channels``: 8 for the tiny models; the capture benchmark uses the checkpoints' 128.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae: AutoencoderKLLTX2Video = AutoencoderKLLTX2Video(
            latent_channels=latent_channels,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_block_out_channels=(8, 8, 8),
            decoder_layers_per_block=(1, 1, 1, 1),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            upsample_residual=(False, False, False),
            upsample_factor=(1, 1, 1),
            decoder_causal=False,
            spatial_compression_ratio=32,
            temporal_compression_ratio=8,
        ).eval()
    return vae


def _audio_parts(seed: int) -> tuple[AutoencoderKLLTX2Audio, LTX2Vocoder]:
    """The smallest audio VAE and vocoder (diffusers' LTX-2 test sizes)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            attn_resolutions=None,
            in_channels=2,
            resolution=32,
            latent_channels=2,
            mel_bins=8,
        ).eval()
        vocoder = LTX2Vocoder(
            in_channels=2 * 8,  # output channels x mel bins
            hidden_channels=32,
            out_channels=2,
            upsample_kernel_sizes=[4, 4],
            upsample_factors=[2, 2],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            output_sampling_rate=16000,
        ).eval()
    return audio_vae, vocoder


def _pipeline(cls: type[PipelineT], seed: int, gain: float, version: str) -> PipelineT:
    """``cls`` from the tiny parts (text: seed ``seed``, transformer ``+1``, VAE ``+2``, audio ``+3``)."""
    if not gain > 0:
        raise ConfigError(f"cross_attention_gain must be > 0, got {gain}")
    if version not in VERSIONS:
        raise ConfigError(f"tiny LTX-2 version must be one of {VERSIONS}, got {version!r}")
    tokenizer = build_tiny_gemma_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = _text_encoder(len(tokenizer))
        connectors = _connectors(version)
    audio_vae, vocoder = _audio_parts(seed + 3)
    pipe = cls(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=tiny_ltx2_vae(seed + 2),
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        connectors=connectors,
        transformer=tiny_ltx2_transformer(seed + 1, gain, version),
        vocoder=vocoder,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_ltx2(
    seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN, version: str = "2.0"
) -> LTX2Pipeline:
    """``LTX2Pipeline`` (text to video and audio): deterministic for ``seed``, progress bar off."""
    return _pipeline(LTX2Pipeline, seed, cross_attention_gain, version)


def build_tiny_ltx2_i2v(
    seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN, version: str = "2.0"
) -> LTX2ImageToVideoPipeline:
    """``LTX2ImageToVideoPipeline`` on the parts of :func:`build_tiny_ltx2`: latent frame 0 is the image."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_image2video import LTX2ImageToVideoPipeline

    return _pipeline(LTX2ImageToVideoPipeline, seed, cross_attention_gain, version)


def build_tiny_ltx2_condition(
    seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN, version: str = "2.0"
) -> LTX2ConditionPipeline:
    """``LTX2ConditionPipeline`` on the parts of :func:`build_tiny_ltx2`: conditions at latent index 0 or later."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2ConditionPipeline

    return _pipeline(LTX2ConditionPipeline, seed, cross_attention_gain, version)


__all__ = [
    "REGISTERS",
    "SCHEDULER_CONFIG",
    "TINY_LTX2_SETTINGS",
    "VERSIONS",
    "build_tiny_ltx2",
    "build_tiny_ltx2_condition",
    "build_tiny_ltx2_i2v",
    "tiny_ltx2_transformer",
    "tiny_ltx2_vae",
]

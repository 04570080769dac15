"""Tiny offline random-weight CogVideoX pipelines, one per variant, for tests and demos.

Built in memory like the tiny Wan models (:mod:`.tiny`): the hand-made T5 tokenizer
(:func:`~.tiny_tokenizer.build_tiny_tokenizer`), a 2-layer ``T5EncoderModel`` (CogVideoX's text encoder
class), a 2-block ``CogVideoXTransformer3DModel`` (2 heads of 16 channels, text width 32), the
``AutoencoderKLCogVideoX`` of diffusers' own CogVideoX tests (8× spatial, 4× temporal, 4 latent channels)
and a ``CogVideoXDDIMScheduler`` configured as the checkpoints' (v-prediction, zero-SNR, trailing),
every weight drawn from its own seed. The prompt is padded to 226 T5 tokens, as the real pipelines do:
every one of them is a real key of the joint softmax.

=========================  ======================================  ==================================================
model id                   pipeline                                what it is
=========================  ======================================  ==================================================
``tiny-cogvideox``         ``CogVideoXPipeline``                   CogVideoX-5B: 3-D RoPE on the video rows of q and k
``tiny-cogvideox-2b``      ``CogVideoXPipeline``                   CogVideoX-2B: no RoPE (sin-cos position embedding)
``tiny-cogvideox1.5``      ``CogVideoXPipeline``                   CogVideoX1.5-5B: ``patch_size_t=2`` (a token covers
                                                                   two latent frames; an odd latent count gets one
                                                                   padding latent frame in front), RoPE, no patch bias
``tiny-cogvideox-i2v``     ``CogVideoXImageToVideoPipeline``       CogVideoX-5B-I2V: image latents concatenated on the
                                                                   channels (8 in), learned position embedding
``tiny-cogvideox1.5-i2v``  ``CogVideoXImageToVideoPipeline``       CogVideoX1.5-5B-I2V: as 1.5, 8 in, ``ofs`` embedding
``tiny-cogvideox-v2v``     ``CogVideoXVideoToVideoPipeline``       video-to-video on the ``tiny-cogvideox`` parts
=========================  ======================================  ==================================================

They are listed with the other tiny models in :data:`~.tiny_variants.TINY_MODELS` (build them with
:func:`~.tiny_variants.build_tiny_model`), with settings (:func:`cogvideox_settings`) that give a non-square
token grid of 3 frames × 2 × 3: 32 × 48 pixels (16 px per token), 9 frames (3 latent frames), and for
1.5 17 frames (5 latent frames, one padding frame in front: 6 latent frames, 3 token frames). The
builders ignore ``flow_shift`` (CogVideoX's schedulers are not flow-matching; ``load_pipeline`` refuses one).

Example:
    >>> pipe = build_tiny_cogvideox_2b(seed=0)
    >>> pipe(prompt="a cat", **cogvideox_settings(9), output_type="latent").frames.shape
    torch.Size([1, 3, 4, 4, 6])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
from diffusers.schedulers.scheduling_ddim_cogvideox import CogVideoXDDIMScheduler
from transformers import T5Config, T5EncoderModel

from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer

TEXT_LENGTH = 226
"""T5 tokens of a CogVideoX prompt (``max_sequence_length`` and the transformer's ``max_text_seq_length``)."""
LATENT_CHANNELS = 4
DEFAULT_JOINT_ATTENTION_GAIN = 2.0
"""Value of every ``attn1.norm_q``/``norm_k`` weight (see :func:`sharpen_joint_attention`)."""

_TEXT_DIM = 32
_LATENT_SIZE = (4, 6)  # latent height, width of the tiny settings: 32 x 48 pixels / 8
#: ``CogVideoXTransformer3DModel`` arguments shared by every tiny CogVideoX transformer.
TRANSFORMER_CONFIG: dict[str, Any] = {
    "num_attention_heads": 2,
    "attention_head_dim": 16,  # 3-D RoPE splits it 4 (t) + 6 (y) + 6 (x)
    "in_channels": LATENT_CHANNELS,
    "out_channels": LATENT_CHANNELS,
    "time_embed_dim": 8,
    "text_embed_dim": _TEXT_DIM,
    "num_layers": 2,
    "sample_height": _LATENT_SIZE[0],
    "sample_width": _LATENT_SIZE[1],
    "sample_frames": 9,
    "patch_size": 2,
    "temporal_compression_ratio": 4,
    "max_text_seq_length": TEXT_LENGTH,
}
#: CogVideoX 1.5's differences: a temporal patch of 2, no patch bias, RoPE "slice" grids (up to 16 × 16
#: latent pixels here: the sample size bounds the grid).
_V15: dict[str, Any] = {"patch_size_t": 2, "patch_bias": False, "sample_height": 16, "sample_width": 16,
                        "sample_frames": 17, "use_rotary_positional_embeddings": True}  # fmt: skip


def sharpen_joint_attention(transformer: torch.nn.Module, gain: float) -> None:
    """Set every ``attn1.norm_q``/``norm_k`` weight (per-head LayerNorms) to ``gain``.

    With default initialisation the joint attention is almost uniform (LayerNorm-ed q and k give logits of
    standard deviation ~1); the gain scales the logits by its square, so the maps vary over the video.
    """
    with torch.no_grad():
        for name, module in transformer.named_modules():
            if name.endswith("attn1"):
                for norm in (module.norm_q, module.norm_k):
                    norm.weight.fill_(gain)


def _seeded(seed: int, make: Callable[[], Any]) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make().eval()


def _transformer(seed: int, gain: float, **overrides: Any) -> CogVideoXTransformer3DModel:
    model: CogVideoXTransformer3DModel = _seeded(
        seed, lambda: CogVideoXTransformer3DModel(**{**TRANSFORMER_CONFIG, **overrides})
    )
    sharpen_joint_attention(model, gain)
    return model


def _text_parts(seed: int) -> dict[str, Any]:
    tokenizer = build_tiny_tokenizer(model_max_length=TEXT_LENGTH)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=_TEXT_DIM, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=16,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return {"tokenizer": tokenizer, "text_encoder": _seeded(seed, lambda: T5EncoderModel(config))}


def tiny_cogvideox_vae(seed: int, latent_channels: int = LATENT_CHANNELS) -> AutoencoderKLCogVideoX:
    """The VAE of diffusers' CogVideoX tests: 4 levels (8× spatial), 4× temporal (the benchmark: 16 channels)."""
    vae: AutoencoderKLCogVideoX = _seeded(
        seed,
        lambda: AutoencoderKLCogVideoX(
            in_channels=3, out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8), latent_channels=latent_channels, layers_per_block=1,
            norm_num_groups=2, temporal_compression_ratio=4,
        ),
    )  # fmt: skip
    return vae


def tiny_cogvideox_scheduler() -> CogVideoXDDIMScheduler:
    """The checkpoints' scheduler configuration (``scripts/convert_cogvideox_to_diffusers.py``, 5B's shift)."""
    scheduler: CogVideoXDDIMScheduler = CogVideoXDDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=True, prediction_type="v_prediction", rescale_betas_zero_snr=True,
        timestep_spacing="trailing", snr_shift_scale=1.0,
    )  # fmt: skip
    return scheduler


def _assemble(class_name: str, seed: int, transformer: CogVideoXTransformer3DModel) -> Any:
    from diffusers.pipelines import cogvideo  # the I2V and V2V modules are imported only where used

    pipe = getattr(cogvideo, class_name)(
        **_text_parts(seed), transformer=transformer, vae=tiny_cogvideox_vae(seed + 2),
        scheduler=tiny_cogvideox_scheduler(),
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_cogvideox_5b(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """CogVideoX-5B in small: RoPE on the video rows of the joint attention."""
    return _assemble("CogVideoXPipeline", seed, _transformer(seed + 1, gain, use_rotary_positional_embeddings=True))


def build_tiny_cogvideox_2b(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """CogVideoX-2B in small: no RoPE (sin-cos position embedding added to the video tokens)."""
    return _assemble("CogVideoXPipeline", seed, _transformer(seed + 1, gain))


def build_tiny_cogvideox15(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """CogVideoX1.5-5B in small: ``patch_size_t=2``, RoPE, no patch bias."""
    return _assemble("CogVideoXPipeline", seed, _transformer(seed + 1, gain, **_V15))


def build_tiny_cogvideox_i2v(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """CogVideoX-5B-I2V in small: image latents on the channels, RoPE and a learned position embedding."""
    transformer = _transformer(
        seed + 1, gain, in_channels=2 * LATENT_CHANNELS, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )  # fmt: skip
    return _assemble("CogVideoXImageToVideoPipeline", seed, transformer)


def build_tiny_cogvideox15_i2v(
    seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None
) -> Any:
    """CogVideoX1.5-5B-I2V in small: as 1.5, image latents on the channels, the ``ofs`` embedding."""
    transformer = _transformer(seed + 1, gain, in_channels=2 * LATENT_CHANNELS, ofs_embed_dim=8, **_V15)
    return _assemble("CogVideoXImageToVideoPipeline", seed, transformer)


def build_tiny_cogvideox_v2v(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN, flow_shift: Any = None) -> Any:
    """Video-to-video on the ``tiny-cogvideox`` parts."""
    transformer = _transformer(seed + 1, gain, use_rotary_positional_embeddings=True)
    return _assemble("CogVideoXVideoToVideoPipeline", seed, transformer)


#: ``(model id, variant, builder, inputs, num_frames)`` of every tiny CogVideoX model; the registry of all tiny
#: models (:data:`~.tiny_variants.TINY_MODELS`) gives each the settings of :func:`cogvideox_settings`.
TINY_COGVIDEOX: tuple[tuple[str, str, Callable[..., Any], tuple[str, ...], int], ...] = (
    ("tiny-cogvideox", "cogvideox-5b", build_tiny_cogvideox_5b, (), 9),
    ("tiny-cogvideox-2b", "cogvideox-2b", build_tiny_cogvideox_2b, (), 9),
    ("tiny-cogvideox1.5", "cogvideox1.5-5b", build_tiny_cogvideox15, (), 17),
    ("tiny-cogvideox-i2v", "cogvideox-5b-i2v", build_tiny_cogvideox_i2v, ("image",), 9),
    ("tiny-cogvideox1.5-i2v", "cogvideox1.5-5b-i2v", build_tiny_cogvideox15_i2v, ("image",), 17),
    ("tiny-cogvideox-v2v", "cogvideox-v2v", build_tiny_cogvideox_v2v, ("video",), 9),
)


def cogvideox_settings(num_frames: int) -> dict[str, Any]:
    """Generation settings of a tiny CogVideoX model: 32 × 48 px (2 × 3 tokens), 226 text tokens, 2 steps."""
    return {
        "height": 32,
        "width": 48,
        "num_frames": num_frames,
        "num_inference_steps": 2,
        "guidance_scale": 6.0,
        "max_sequence_length": TEXT_LENGTH,
    }


__all__ = [
    "DEFAULT_JOINT_ATTENTION_GAIN",
    "LATENT_CHANNELS",
    "TEXT_LENGTH",
    "TINY_COGVIDEOX",
    "TRANSFORMER_CONFIG",
    "build_tiny_cogvideox15",
    "build_tiny_cogvideox15_i2v",
    "build_tiny_cogvideox_2b",
    "build_tiny_cogvideox_5b",
    "build_tiny_cogvideox_i2v",
    "build_tiny_cogvideox_v2v",
    "cogvideox_settings",
    "sharpen_joint_attention",
    "tiny_cogvideox_scheduler",
    "tiny_cogvideox_vae",
]

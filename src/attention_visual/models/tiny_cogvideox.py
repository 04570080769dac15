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

Every model's settings (:data:`TINY_COGVIDEOX`) give a non-square token grid of 3 frames × 2 × 3:
32 × 48 pixels (16 px per token), 9 frames (3 latent frames), and for 1.5 17 frames (5 latent frames,
one padding frame in front: 6 latent frames, 3 token frames).

Example:
    >>> pipe = build_tiny_cogvideox("tiny-cogvideox-2b")
    >>> spec = TINY_COGVIDEOX["tiny-cogvideox-2b"]
    >>> pipe(prompt="a cat", **spec.call_kwargs(), output_type="latent").frames.shape
    torch.Size([1, 3, 4, 4, 6])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
from diffusers.pipelines.cogvideo.pipeline_cogvideox import CogVideoXPipeline
from diffusers.schedulers.scheduling_ddim_cogvideox import CogVideoXDDIMScheduler
from transformers import T5Config, T5EncoderModel

from attention_visual.errors import ConfigError
from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer

if TYPE_CHECKING:
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import CogVideoXImageToVideoPipeline
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_video2video import CogVideoXVideoToVideoPipeline

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


@dataclass(frozen=True, kw_only=True)
class TinyCogVideoX:
    """One tiny CogVideoX model id: its builder and generation settings on a non-square grid.

    Attributes:
        model_id: E.g. ``"tiny-cogvideox1.5"``.
        variant: The CogVideoX variant it realises (``"cogvideox1.5-5b"``).
        builder: ``(seed, gain) -> pipeline``.
        inputs: Input kinds its call needs (``image``, ``video``).
        height, width, num_frames, num_inference_steps, guidance_scale, max_sequence_length: The settings.
        frames_from_video: The call takes no ``num_frames`` (video-to-video: the input video's length).
    """

    model_id: str
    variant: str
    builder: Callable[[int, float], Any]
    inputs: tuple[str, ...] = ()
    height: int = 32
    width: int = 48
    num_frames: int = 9
    num_inference_steps: int = 2
    guidance_scale: float = 6.0
    max_sequence_length: int = TEXT_LENGTH
    frames_from_video: bool = False

    def call_kwargs(self) -> dict[str, Any]:
        """The settings as keyword arguments of the pipeline call (inputs not included)."""
        kwargs: dict[str, Any] = {
            "height": self.height,
            "width": self.width,
            "num_frames": self.num_frames,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "max_sequence_length": self.max_sequence_length,
        }
        if self.frames_from_video:
            del kwargs["num_frames"]
        return kwargs

    def build(self, seed: int = 0, *, joint_attention_gain: float = DEFAULT_JOINT_ATTENTION_GAIN) -> Any:
        """Build the pipeline (deterministic for ``seed``; the global random state is left alone)."""
        if not joint_attention_gain > 0:
            raise ConfigError(f"joint_attention_gain must be > 0, got {joint_attention_gain}")
        return self.builder(seed, joint_attention_gain)


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


def _vae(seed: int) -> AutoencoderKLCogVideoX:
    """The VAE of diffusers' CogVideoX tests: 4 levels (8× spatial), 4× temporal, 4 latent channels."""
    vae: AutoencoderKLCogVideoX = _seeded(
        seed,
        lambda: AutoencoderKLCogVideoX(
            in_channels=3, out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8), latent_channels=LATENT_CHANNELS, layers_per_block=1,
            norm_num_groups=2, temporal_compression_ratio=4,
        ),
    )  # fmt: skip
    return vae


def _scheduler() -> CogVideoXDDIMScheduler:
    """The checkpoints' scheduler configuration (``scripts/convert_cogvideox_to_diffusers.py``, 5B's shift)."""
    scheduler: CogVideoXDDIMScheduler = CogVideoXDDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=True, prediction_type="v_prediction", rescale_betas_zero_snr=True,
        timestep_spacing="trailing", snr_shift_scale=1.0,
    )  # fmt: skip
    return scheduler


def _assemble(cls: type[Any], seed: int, transformer: CogVideoXTransformer3DModel) -> Any:
    pipe = cls(**_text_parts(seed), transformer=transformer, vae=_vae(seed + 2), scheduler=_scheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_cogvideox_5b(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN) -> CogVideoXPipeline:
    """CogVideoX-5B in small: RoPE on the video rows of the joint attention."""
    pipe: CogVideoXPipeline = _assemble(
        CogVideoXPipeline, seed, _transformer(seed + 1, gain, use_rotary_positional_embeddings=True)
    )
    return pipe


def build_tiny_cogvideox_2b(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN) -> CogVideoXPipeline:
    """CogVideoX-2B in small: no RoPE (sin-cos position embedding added to the video tokens)."""
    pipe: CogVideoXPipeline = _assemble(CogVideoXPipeline, seed, _transformer(seed + 1, gain))
    return pipe


def build_tiny_cogvideox15(seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN) -> CogVideoXPipeline:
    """CogVideoX1.5-5B in small: ``patch_size_t=2``, RoPE, no patch bias."""
    pipe: CogVideoXPipeline = _assemble(CogVideoXPipeline, seed, _transformer(seed + 1, gain, **_V15))
    return pipe


def build_tiny_cogvideox_i2v(
    seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN
) -> CogVideoXImageToVideoPipeline:
    """CogVideoX-5B-I2V in small: image latents on the channels, RoPE and a learned position embedding."""
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import CogVideoXImageToVideoPipeline

    transformer = _transformer(
        seed + 1, gain, in_channels=2 * LATENT_CHANNELS, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )  # fmt: skip
    return _assemble(CogVideoXImageToVideoPipeline, seed, transformer)  # type: ignore[no-any-return]


def build_tiny_cogvideox15_i2v(
    seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN
) -> CogVideoXImageToVideoPipeline:
    """CogVideoX1.5-5B-I2V in small: as 1.5, image latents on the channels, the ``ofs`` embedding."""
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import CogVideoXImageToVideoPipeline

    transformer = _transformer(seed + 1, gain, in_channels=2 * LATENT_CHANNELS, ofs_embed_dim=8, **_V15)
    return _assemble(CogVideoXImageToVideoPipeline, seed, transformer)  # type: ignore[no-any-return]


def build_tiny_cogvideox_v2v(
    seed: int = 0, gain: float = DEFAULT_JOINT_ATTENTION_GAIN
) -> CogVideoXVideoToVideoPipeline:
    """Video-to-video on the ``tiny-cogvideox`` parts."""
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_video2video import CogVideoXVideoToVideoPipeline

    transformer = _transformer(seed + 1, gain, use_rotary_positional_embeddings=True)
    return _assemble(CogVideoXVideoToVideoPipeline, seed, transformer)  # type: ignore[no-any-return]


TINY_COGVIDEOX: dict[str, TinyCogVideoX] = {
    m.model_id: m
    for m in (
        TinyCogVideoX(model_id="tiny-cogvideox", variant="cogvideox-5b", builder=build_tiny_cogvideox_5b),
        TinyCogVideoX(model_id="tiny-cogvideox-2b", variant="cogvideox-2b", builder=build_tiny_cogvideox_2b),
        TinyCogVideoX(
            model_id="tiny-cogvideox1.5", variant="cogvideox1.5-5b", builder=build_tiny_cogvideox15, num_frames=17
        ),
        TinyCogVideoX(
            model_id="tiny-cogvideox-i2v", variant="cogvideox-5b-i2v", builder=build_tiny_cogvideox_i2v,
            inputs=("image",),
        ),
        TinyCogVideoX(
            model_id="tiny-cogvideox1.5-i2v", variant="cogvideox1.5-5b-i2v", builder=build_tiny_cogvideox15_i2v,
            inputs=("image",), num_frames=17,
        ),
        TinyCogVideoX(
            model_id="tiny-cogvideox-v2v", variant="cogvideox-v2v", builder=build_tiny_cogvideox_v2v,
            inputs=("video",), frames_from_video=True,
        ),
    )
}  # fmt: skip
"""Every tiny CogVideoX model id with its builder and settings."""


def build_tiny_cogvideox(
    model_id: str, seed: int = 0, *, joint_attention_gain: float = DEFAULT_JOINT_ATTENTION_GAIN
) -> Any:
    """Build the tiny CogVideoX pipeline ``model_id`` (see :data:`TINY_COGVIDEOX`).

    Raises:
        ConfigError: ``model_id`` is not a tiny CogVideoX id, or the gain is not positive.
    """
    spec = TINY_COGVIDEOX.get(model_id)
    if spec is None:
        raise ConfigError(f"unknown tiny CogVideoX model {model_id!r}; choose one of: {', '.join(TINY_COGVIDEOX)}")
    return spec.build(seed, joint_attention_gain=joint_attention_gain)


__all__ = [
    "DEFAULT_JOINT_ATTENTION_GAIN",
    "LATENT_CHANNELS",
    "TEXT_LENGTH",
    "TINY_COGVIDEOX",
    "TRANSFORMER_CONFIG",
    "TinyCogVideoX",
    "build_tiny_cogvideox",
    "build_tiny_cogvideox15",
    "build_tiny_cogvideox15_i2v",
    "build_tiny_cogvideox_2b",
    "build_tiny_cogvideox_5b",
    "build_tiny_cogvideox_i2v",
    "build_tiny_cogvideox_v2v",
    "sharpen_joint_attention",
]

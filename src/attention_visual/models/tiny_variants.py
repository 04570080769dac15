"""Tiny offline random-weight versions of every supported variant (Wan, CogVideoX, HunyuanVideo-1.5,
LTX-Video), for tests and demos.

Each is built in memory from the tiny Wan2.1 pipeline's parts (:func:`~.tiny.build_tiny_pipeline`:
the hand-made tokenizer, the 2-layer UMT5 text encoder, the 8x VAE, the UniPC scheduler) plus
the transformers, VAE and image encoder each variant needs (:mod:`.tiny_parts`), with the sizes of
diffusers' own Wan pipeline tests (2 blocks, 2 heads of 12, text_dim 32):

=====================  ====================================================================================
model id               what it is
=====================  ====================================================================================
``tiny``               Wan2.1 T2V (``WanPipeline``), see :mod:`.tiny`
``tiny-wan22-a14b``    ``WanPipeline`` with ``transformer`` + ``transformer_2``, ``boundary_ratio`` 0.875
``tiny-ti2v-5b``       ``WanPipeline(expand_timesteps=True)``; VAE ``z_dim`` 48, residual, patch 2, 16x → 32 px/token
``tiny-ti2v-5b-i2v``   ``WanImageToVideoPipeline(expand_timesteps=True)`` with that VAE; latent frame 0 = image
``tiny-wan22-i2v-a14b`` ``WanImageToVideoPipeline`` with two 36-channel experts, ``boundary_ratio`` 0.9
``tiny-i2v``           ``WanImageToVideoPipeline``: 36 input channels, a faithful image branch
                       (``added_kv_proj_dim``, its own softmax), a tiny ``CLIPVisionModelWithProjection`` (17
                       image tokens); the text must be padded to 512 tokens (``max_sequence_length=512``)
``tiny-flf2v``         as ``tiny-i2v`` with ``pos_embed_seq_len`` (first + last frame: 34 image tokens)
``tiny-vace``          ``WanVACEPipeline`` + ``WanVACETransformer3DModel`` (3 blocks, ``vace_layers`` [0, 2])
``tiny-v2v``           ``WanVideoToVideoPipeline`` (the tiny T2V parts)
``tiny-cogvideox*``    the CogVideoX variants (5B, 2B, 1.5, I2V, 1.5 I2V, V2V), see :mod:`.tiny_cogvideox`
``tiny-hunyuan15*``    HunyuanVideo-1.5 text- and image-to-video, see :mod:`.tiny_hunyuan15`
``tiny-hunyuan``       HunyuanVideo (1.0) text-to-video, see :mod:`.tiny_hunyuan`
``tiny-ltx``           LTX-Video ``LTXPipeline`` (:mod:`.tiny_ltx`: 32 px per token, 8 frames per latent frame)
``tiny-ltx-i2v``       ``LTXImageToVideoPipeline``; latent frame 0 = image
``tiny-ltx-condition`` ``LTXConditionPipeline``; the image is a conditioning item at frame 0
``tiny-ltx2``          LTX-2 ``LTX2Pipeline`` (:mod:`.tiny_ltx2`: Gemma-3 text, 128 registers, audio stream)
``tiny-ltx2-i2v``      ``LTX2ImageToVideoPipeline``; latent frame 0 = image
``tiny-ltx2-condition`` ``LTX2ConditionPipeline``; its ``conditions`` (none needed: text to video)
``tiny-skyreels-v2*``  SkyReels-V2 (T2V, I2V, diffusion forcing T2V and I2V), see :mod:`.tiny_wan_derived`
``tiny-chronoedit``    ChronoEdit (5 frames: the image, then its edit: 2 × 2 × 3 tokens)
``tiny-lucy-edit``     Lucy-Edit (the input video's latents concatenated along the channels)
=====================  ====================================================================================

:data:`TINY_MODELS` holds, for every id, its builder and generation settings on a non-square grid;
:func:`tiny_inputs` makes deterministic input images/videos of the right size.

Example:
    >>> spec = TINY_MODELS["tiny-ti2v-5b"]
    >>> pipe = build_tiny_model("tiny-ti2v-5b")
    >>> pipe(prompt="a cat", **spec.call_kwargs(), output_type="latent").frames.shape
    torch.Size([1, 48, 3, 4, 6])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from PIL import Image

if TYPE_CHECKING:
    # Imported where used: importing the I2V pipeline module makes transformers warn about torchvision,
    # which every `import attention_visual.capture` would then print.
    from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline
    from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
    from diffusers.pipelines.wan.pipeline_wan_video2video import WanVideoToVideoPipeline

from attention_visual.errors import ConfigError
from attention_visual.families import tiny_model_variant
from attention_visual.models.tiny import DEFAULT_CROSS_ATTENTION_GAIN, TINY_DEFAULTS, TINY_MODEL_ID, TinySettings
from attention_visual.models.tiny_cogvideox import TINY_COGVIDEOX, cogvideox_settings
from attention_visual.models.tiny_hunyuan import TINY_HUNYUAN, hunyuan_settings
from attention_visual.models.tiny_hunyuan15 import TINY_HUNYUAN15, hunyuan15_settings
from attention_visual.models.tiny_llama_tokenizer import build_tiny_llama_tokenizer
from attention_visual.models.tiny_ltx import (
    TINY_LTX_SETTINGS,
    build_tiny_ltx,
    build_tiny_ltx_condition,
    build_tiny_ltx_i2v,
)
from attention_visual.models.tiny_ltx2 import (
    TINY_LTX2_SETTINGS,
    build_tiny_ltx2,
    build_tiny_ltx2_condition,
    build_tiny_ltx2_i2v,
)
from attention_visual.models.tiny_parts import (
    CLIP_IMAGE_SIZE,
    CLIP_WIDTH,
    INNER_DIM,
    NO_IMAGE_ENCODER,
    PipelineT,
    assemble,
    base_pipeline,
    tiny_clip,
    tiny_transformer,
    tiny_vae_5b,
)
from attention_visual.models.tiny_qwen_tokenizer import build_tiny_qwen_tokenizer
from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer
from attention_visual.models.tiny_wan_derived import (
    build_tiny_chronoedit,
    build_tiny_lucy_edit,
    build_tiny_skyreels_v2,
    build_tiny_skyreels_v2_df,
    build_tiny_skyreels_v2_df_i2v,
    build_tiny_skyreels_v2_i2v,
)


@dataclass(frozen=True, kw_only=True)
class TinyModel(TinySettings):
    """One tiny model id: which variant it is, how to build it, and settings that fit it.

    Attributes:
        model_id: The ``model_id`` accepted by ``load_pipeline`` (``"tiny-i2v"``).
        variant: The name of the :class:`~attention_visual.families.Variant` it realises (the family's
            ``tiny_models`` table says the same; a test checks).
        inputs: Input kinds its pipeline call needs: ``image``, ``last_image``, ``video``.
        height, width, num_frames, num_inference_steps, guidance_scale, max_sequence_length:
            Generation settings on a non-square token grid (3 latent frames × 2 × 3 tokens).
        frames_from_video: The call takes no ``num_frames`` (video-to-video: the input video's length).
        tokenizer: Builds its tokenizer alone (the prompt check before a model loads).
    """

    model_id: str
    variant: str
    builder: Callable[[int, float, float], Any]
    inputs: tuple[str, ...] = ()
    frames_from_video: bool = False
    tokenizer: Callable[[], Any] = build_tiny_tokenizer

    def call_kwargs(self) -> dict[str, Any]:
        """The settings as keyword arguments of the pipeline call (inputs not included)."""
        kwargs = super().call_kwargs()
        if self.frames_from_video:
            del kwargs["num_frames"]
        return kwargs

    def build(
        self, seed: int = 0, *, cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN, flow_shift: float = 3.0
    ) -> Any:
        """Build the pipeline (deterministic for ``seed``; the global random state is left alone)."""
        return self.builder(seed, cross_attention_gain, flow_shift)


def build_tiny_wan22_a14b(seed: int, gain: float, flow_shift: float) -> WanPipeline:
    """Two experts of the same config (different weights), ``boundary_ratio`` 0.875 as Wan2.2-T2V-A14B."""
    base = base_pipeline(seed, gain, flow_shift)
    return assemble(
        WanPipeline,
        base,
        transformer=base.transformer,
        transformer_2=tiny_transformer(seed + 1, gain),
        vae=base.vae,
        boundary_ratio=0.875,
    )


def _ti2v_5b(cls: type[PipelineT], seed: int, gain: float, flow_shift: float, **components: Any) -> PipelineT:
    """TI2V-5B: a 48-channel transformer, the 48-channel residual VAE (16x, patch 2), ``expand_timesteps``."""
    return assemble(
        cls,
        base_pipeline(seed, gain, flow_shift),
        transformer=tiny_transformer(seed + 1, gain, in_channels=48, out_channels=48),
        vae=tiny_vae_5b(seed + 2),
        expand_timesteps=True,
        **components,
    )


def build_tiny_ti2v_5b(seed: int, gain: float, flow_shift: float) -> WanPipeline:
    """TI2V-5B text-to-video: 48-channel residual VAE (16x, patch 2), ``expand_timesteps``."""
    return _ti2v_5b(WanPipeline, seed, gain, flow_shift)


def build_tiny_ti2v_5b_i2v(seed: int, gain: float, flow_shift: float) -> WanImageToVideoPipeline:
    """TI2V-5B image-to-video: as :func:`build_tiny_ti2v_5b`, the image latent is frame 0 (timestep 0)."""
    from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline

    return _ti2v_5b(WanImageToVideoPipeline, seed, gain, flow_shift, **NO_IMAGE_ENCODER)


def build_tiny_wan22_i2v_a14b(seed: int, gain: float, flow_shift: float) -> WanImageToVideoPipeline:
    """Wan2.2-I2V-A14B in small: two 36-channel experts, no image encoder, ``boundary_ratio`` 0.9."""
    from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline

    base = base_pipeline(seed, gain, flow_shift)
    return assemble(
        WanImageToVideoPipeline,
        base,
        transformer=tiny_transformer(seed + 1, gain, in_channels=36),
        transformer_2=tiny_transformer(seed + 2, gain, in_channels=36),
        vae=base.vae,
        boundary_ratio=0.9,
        **NO_IMAGE_ENCODER,
    )


def _build_image_branch(seed: int, gain: float, flow_shift: float, *, last_frame: bool) -> WanImageToVideoPipeline:
    from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline

    base = base_pipeline(seed, gain, flow_shift)
    encoder, processor = tiny_clip(seed + 2)
    tokens = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE + 1
    transformer = tiny_transformer(
        seed + 1,
        gain,
        in_channels=36,
        image_dim=CLIP_WIDTH,
        added_kv_proj_dim=INNER_DIM,
        pos_embed_seq_len=2 * tokens if last_frame else None,
    )
    # Wan's own checkpoints use a CLIP ...WithProjection encoder too; the processor is the PIL one (no torchvision).
    return assemble(
        WanImageToVideoPipeline,
        base,
        transformer=transformer,
        vae=base.vae,
        image_encoder=encoder,
        image_processor=processor,
    )


def build_tiny_i2v(seed: int, gain: float, flow_shift: float) -> WanImageToVideoPipeline:
    """Wan2.1-I2V-14B in small: the image branch (``added_kv_proj_dim``) and a tiny CLIP image encoder."""
    return _build_image_branch(seed, gain, flow_shift, last_frame=False)


def build_tiny_flf2v(seed: int, gain: float, flow_shift: float) -> WanImageToVideoPipeline:
    """Wan2.1-FLF2V-14B in small: :func:`build_tiny_i2v` with ``pos_embed_seq_len`` for two images."""
    return _build_image_branch(seed, gain, flow_shift, last_frame=True)


def build_tiny_vace(seed: int, gain: float, flow_shift: float) -> WanVACEPipeline:
    """``WanVACETransformer3DModel`` with 3 main blocks and 2 VACE blocks (``vace_layers`` [0, 2])."""
    from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline

    base = base_pipeline(seed, gain, flow_shift)
    transformer = tiny_transformer(seed + 1, gain, num_layers=3, vace_layers=[0, 2], vace_in_channels=96)
    return assemble(WanVACEPipeline, base, transformer=transformer, vae=base.vae)


def build_tiny_v2v(seed: int, gain: float, flow_shift: float) -> WanVideoToVideoPipeline:
    """Video-to-video on the tiny T2V parts (no cache context; ``strength`` shortens the schedule)."""
    from diffusers.pipelines.wan.pipeline_wan_video2video import WanVideoToVideoPipeline

    base = base_pipeline(seed, gain, flow_shift)
    return assemble(WanVideoToVideoPipeline, base, transformer=base.transformer, vae=base.vae)


def _text_length(model_id: str) -> int:
    """The number of text keys the variant of tiny model ``model_id`` requires (the image branch: 512)."""
    variant = tiny_model_variant(model_id)
    assert variant is not None and variant.text_length is not None, model_id
    return variant.text_length


def _fixed_frames(model_id: str) -> int:
    """The only frame count the variant of tiny model ``model_id`` makes."""
    variant = tiny_model_variant(model_id)
    assert variant is not None and variant.fixed_num_frames is not None, model_id
    return variant.fixed_num_frames


def _spec(
    model_id: str,
    variant: str,
    builder: Callable[[int, float, float], Any],
    inputs: tuple[str, ...] = (),
    *,
    pixels_per_cell: int = 16,
    max_sequence_length: int = TINY_DEFAULTS.max_sequence_length,
    frames_from_video: bool = False,
    num_frames: int = TINY_DEFAULTS.num_frames,
) -> TinyModel:
    """A tiny model on the 3 x 2 x 3 token grid of :data:`~.tiny.TINY_DEFAULTS` at its own pixels per token
    (``num_frames``: another frame count for a pipeline that makes only one)."""
    _, rows, cols = TINY_DEFAULTS.latent_grid
    return TinyModel(
        model_id=model_id,
        variant=variant,
        builder=builder,
        inputs=inputs,
        height=rows * pixels_per_cell,
        width=cols * pixels_per_cell,
        num_frames=num_frames,
        num_inference_steps=TINY_DEFAULTS.num_inference_steps,
        guidance_scale=TINY_DEFAULTS.guidance_scale,
        max_sequence_length=max_sequence_length,
        frames_from_video=frames_from_video,
    )


def _ltx_spec(
    model_id: str,
    variant: str,
    build: Callable[..., Any],
    inputs: tuple[str, ...] = (),
    settings: TinySettings = TINY_LTX_SETTINGS,
) -> TinyModel:
    """A tiny LTX-Video (or LTX-2) model with ``settings`` (3 × 2 × 3 tokens of 32 px, 128 text keys).

    LTX-Video and LTX-2 have no ``flow_shift`` (their schedulers shift by the video's length):
    ``load_pipeline`` refuses one, so the builder is never asked for another.
    """

    def builder(seed: int, gain: float, flow_shift: float) -> Any:
        return build(seed, cross_attention_gain=gain)

    return TinyModel(model_id=model_id, variant=variant, builder=builder, inputs=inputs, **asdict(settings))


TINY_MODELS: dict[str, TinyModel] = {
    m.model_id: m
    for m in (
        _spec(TINY_MODEL_ID, "wan2.1-t2v", base_pipeline),
        _spec("tiny-wan22-a14b", "wan2.2-t2v-a14b", build_tiny_wan22_a14b),
        _spec("tiny-ti2v-5b", "wan2.2-ti2v-5b-t2v", build_tiny_ti2v_5b, pixels_per_cell=32),
        _spec("tiny-ti2v-5b-i2v", "wan2.2-ti2v-5b-i2v", build_tiny_ti2v_5b_i2v, ("image",), pixels_per_cell=32),
        _spec("tiny-wan22-i2v-a14b", "wan2.2-i2v-a14b", build_tiny_wan22_i2v_a14b, ("image",)),
        _spec("tiny-i2v", "wan2.1-i2v-14b", build_tiny_i2v, ("image",), max_sequence_length=_text_length("tiny-i2v")),
        _spec(
            "tiny-flf2v", "wan2.1-flf2v-14b", build_tiny_flf2v, ("image", "last_image"),
            max_sequence_length=_text_length("tiny-i2v"),
        ),
        _spec("tiny-vace", "wan2.1-vace", build_tiny_vace, ("video",)),
        _spec("tiny-v2v", "wan2.1-v2v", build_tiny_v2v, ("video",), frames_from_video=True),
        *(
            TinyModel(
                model_id=model_id, variant=variant, builder=builder, inputs=inputs,
                frames_from_video="video" in inputs, **cogvideox_settings(num_frames),
            )
            for model_id, variant, builder, inputs, num_frames in TINY_COGVIDEOX
        ),
        *(
            TinyModel(
                model_id=model_id, variant=variant, builder=builder, inputs=inputs,
                tokenizer=build_tiny_qwen_tokenizer, **hunyuan15_settings(),
            )
            for model_id, variant, builder, inputs in TINY_HUNYUAN15
        ),
        *(
            TinyModel(
                model_id=model_id, variant=variant, builder=builder, inputs=inputs,
                tokenizer=build_tiny_llama_tokenizer, **hunyuan_settings(),
            )
            for model_id, variant, builder, inputs in TINY_HUNYUAN
        ),
        _ltx_spec("tiny-ltx", "ltx-video-t2v", build_tiny_ltx),
        _ltx_spec("tiny-ltx-i2v", "ltx-video-i2v", build_tiny_ltx_i2v, ("image",)),
        _ltx_spec("tiny-ltx-condition", "ltx-video-condition", build_tiny_ltx_condition, ("image",)),
        _ltx_spec("tiny-ltx2", "ltx2-t2v", build_tiny_ltx2, settings=TINY_LTX2_SETTINGS),
        _ltx_spec("tiny-ltx2-i2v", "ltx2-i2v", build_tiny_ltx2_i2v, ("image",), settings=TINY_LTX2_SETTINGS),
        _ltx_spec("tiny-ltx2-condition", "ltx2-condition", build_tiny_ltx2_condition, settings=TINY_LTX2_SETTINGS),
        _spec("tiny-skyreels-v2", "skyreels-v2-t2v", build_tiny_skyreels_v2),
        _spec(
            "tiny-skyreels-v2-i2v", "skyreels-v2-i2v", build_tiny_skyreels_v2_i2v, ("image",),
            max_sequence_length=_text_length("tiny-skyreels-v2-i2v"),
        ),
        _spec("tiny-skyreels-v2-df", "skyreels-v2-df-t2v", build_tiny_skyreels_v2_df),
        _spec("tiny-skyreels-v2-df-i2v", "skyreels-v2-df-i2v", build_tiny_skyreels_v2_df_i2v, ("image",)),
        _spec(
            "tiny-chronoedit", "chronoedit", build_tiny_chronoedit, ("image",),
            max_sequence_length=_text_length("tiny-chronoedit"), num_frames=_fixed_frames("tiny-chronoedit"),
        ),
        _spec(
            "tiny-lucy-edit", "lucy-edit", build_tiny_lucy_edit, ("video",), pixels_per_cell=32,
            frames_from_video=True,
        ),
    )
}  # fmt: skip
"""Every tiny model id (``"tiny"`` included) with its builder and settings."""

TINY_MODEL_IDS = tuple(TINY_MODELS)


def is_tiny_model_id(model_id: str) -> bool:
    """Whether ``model_id`` names a built-in tiny model (``"tiny"``, ``"tiny-i2v"``, ...)."""
    return model_id in TINY_MODELS


def build_tiny_model(
    model_id: str,
    seed: int = 0,
    *,
    cross_attention_gain: float = DEFAULT_CROSS_ATTENTION_GAIN,
    flow_shift: float = 3.0,
) -> Any:
    """Build the tiny pipeline named ``model_id`` (see :data:`TINY_MODELS`).

    Raises:
        ConfigError: ``model_id`` is not a tiny model id, or a gain/shift is not positive.
    """
    spec = TINY_MODELS.get(model_id)
    if spec is None:
        raise ConfigError(f"unknown tiny model {model_id!r}; choose one of: {', '.join(TINY_MODEL_IDS)}")
    return spec.build(seed, cross_attention_gain=cross_attention_gain, flow_shift=flow_shift)


def tiny_tokenizer(model_id: str) -> Any:
    """The tokenizer of tiny model ``model_id``, built alone (no model).

    Raises:
        ConfigError: ``model_id`` is not a tiny model id.
    """
    spec = TINY_MODELS.get(model_id)
    if spec is None:
        raise ConfigError(f"unknown tiny model {model_id!r}; choose one of: {', '.join(TINY_MODEL_IDS)}")
    return spec.tokenizer()


def tiny_image(height: int, width: int, seed: int = 0) -> Image.Image:
    """A deterministic RGB test image: a colour gradient plus seeded noise, ``width`` x ``height``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([255 * y / max(height - 1, 1), 255 * x / max(width - 1, 1), np.full_like(y, 128)], -1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)  # [y, x, rgb]
    return Image.fromarray(pixels, "RGB")


def tiny_inputs(model_id: str, seed: int = 0) -> dict[str, Any]:
    """Deterministic inputs (``image``, ``last_image``, ``video``) that a tiny model's call needs."""
    spec = TINY_MODELS[model_id]
    h, w = spec.height, spec.width
    out: dict[str, Any] = {}
    if "image" in spec.inputs:
        out["image"] = tiny_image(h, w, seed)
    if "last_image" in spec.inputs:
        out["last_image"] = tiny_image(h, w, seed + 1)
    if "video" in spec.inputs:
        out["video"] = [tiny_image(h, w, seed + 10 + n) for n in range(spec.num_frames)]
    return out


__all__ = [
    "TINY_MODELS",
    "TINY_MODEL_IDS",
    "TinyModel",
    "build_tiny_flf2v",
    "build_tiny_i2v",
    "build_tiny_model",
    "build_tiny_ti2v_5b",
    "build_tiny_ti2v_5b_i2v",
    "build_tiny_v2v",
    "build_tiny_vace",
    "build_tiny_wan22_a14b",
    "build_tiny_wan22_i2v_a14b",
    "is_tiny_model_id",
    "tiny_image",
    "tiny_inputs",
    "tiny_tokenizer",
]

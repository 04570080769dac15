"""The Wan family as data: one small, frozen description per pipeline variant (no torch).

The Wan pipelines of diffusers 0.42 differ by a handful of facts that decide how cross-attention is
captured and shown; everything that reads them (capture, batch, renderers, report) reads a
:class:`~attention_visual.families.spec.Variant` instead of branching on the pipeline class:

========================  ===========================  =======  ====  ============  =====  =============
variant                   pipeline class               experts  px    conditioning  image  step index
========================  ===========================  =======  ====  ============  =====  =============
wan2.1-t2v                WanPipeline                  1        16    none          no     cache_context
wan2.2-t2v-a14b           WanPipeline                  2        16    none          no     cache_context
wan2.2-ti2v-5b-t2v        WanPipeline (expand)         1        32    none          no     cache_context
wan2.2-ti2v-5b-i2v        WanImageToVideoPipeline (e)  1        32    first_frame   no     counted
wan2.1-i2v-14b            WanImageToVideoPipeline      1        16    none          yes    counted
wan2.1-flf2v-14b          WanImageToVideoPipeline      1        16    none          yes    counted
wan2.2-i2v-a14b           WanImageToVideoPipeline      2        16    none          no     counted
wan2.1-vace               WanVACEPipeline              1 or 2   16    reference     no     counted
wan2.1-v2v                WanVideoToVideoPipeline      1        16    none          no     counted
skyreels-v2-t2v           SkyReelsV2Pipeline           1        16    none          no     counted
skyreels-v2-i2v           SkyReelsV2ImageToVideo...    1        16    none          yes    counted
skyreels-v2-df-t2v        SkyReelsV2DiffusionForcing.  1        16    none          no     counted (rows)
skyreels-v2-df-i2v        ...DiffusionForcingImageTo.  1        16    first_frame   no     counted (rows)
chronoedit                ChronoEditPipeline           1        16    none          yes    counted
lucy-edit                 LucyEditPipeline (expand)    1 or 2   32    none          no     counted
========================  ===========================  =======  ====  ============  =====  =============

*px*: video pixels per token side (VAE spatial factor × patch size). *conditioning*: latent frames
that are inputs rather than generated video (``first_frame``: TI2V-5B image-to-video puts the image
latent in frame 0 with timestep 0; ``reference``: VACE's reference images add frames at the front
that are dropped before decoding). *image*: ``attn2`` has the image branch
(``add_k_proj``/``add_v_proj``/``norm_added_k``, a second softmax over CLIP image tokens whose output
is added to the text branch's; the model then requires exactly 512 text keys). *step index*:
``cache_context`` = the pipeline's ``cache_context(..., step_index=i)`` says it; ``counted`` = the
capture counts passes itself and checks each pass's timestep against the scheduler's (I2V/VACE enter a
cache context without a step index, video-to-video none at all).

Every Wan attention is cross-attention (``blocks.N.attn2``: video queries, text keys, no RoPE, no
mask); guidance runs as separate prompt and negative-prompt passes; the VAE is causal, 4× in time.

**Derivatives.** SkyReels-V2, ChronoEdit and Lucy-Edit are Wan models with other pipelines: the same
UMT5 text side (512 keys, ``prompt_clean``), the same VAE rule and an ``attn2`` of the same structure
(``SkyReelsV2Attention`` and ChronoEdit's copy of ``WanAttention`` are their own classes, with
``norm_q``/``norm_k`` across heads and the image branch as Wan's), so they are variants here, not a family.
What differs is data: SkyReels-V2 makes 24 fps videos; its *diffusion-forcing* pipelines give each latent
frame its own timestep (``frame_timesteps``; a step is one row of the pipeline's step matrix, see
docs/wan_family.md) and embed the frame rate (``fps``); ChronoEdit names no cache context (passes by call
order), makes exactly 5 frames (the input image, then its edit) and drops its temporal-reasoning frames
after ``num_temporal_reasoning_steps`` steps (``grid_shrink_keeps``: the earlier steps keep the first and
the last frame); Lucy-Edit is a TI2V-5B (32 px per cell, per-token timesteps) whose input video is
concatenated along the channels (every map frame is generated video; its length is the input's).

Example:
    >>> VARIANTS["wan2.2-ti2v-5b-t2v"].pixels_per_cell
    32
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import ModelFamily, TextSide, Variant
from attention_visual.families.wan.text import CLEANING

NAME = "wan"

TEXT_CONTEXT = 512
"""Text tokens of an I2V/FLF2V ``attn2`` context: diffusers splits ``[image, text]`` at ``L - 512``."""

T2V_PIPELINE = "WanPipeline"
I2V_PIPELINE = "WanImageToVideoPipeline"
VACE_PIPELINE = "WanVACEPipeline"
V2V_PIPELINE = "WanVideoToVideoPipeline"
_T2V, _I2V, _VACE, _V2V = T2V_PIPELINE, I2V_PIPELINE, VACE_PIPELINE, V2V_PIPELINE
SKYREELS_T2V_PIPELINE = "SkyReelsV2Pipeline"
SKYREELS_I2V_PIPELINE = "SkyReelsV2ImageToVideoPipeline"
SKYREELS_DF_PIPELINE = "SkyReelsV2DiffusionForcingPipeline"
SKYREELS_DF_I2V_PIPELINE = "SkyReelsV2DiffusionForcingImageToVideoPipeline"
CHRONOEDIT_PIPELINE = "ChronoEditPipeline"
LUCY_EDIT_PIPELINE = "LucyEditPipeline"
#: The pipelines of the models derived from Wan (one variant each).
DERIVATIVE_PIPELINES = (
    SKYREELS_T2V_PIPELINE,
    SKYREELS_I2V_PIPELINE,
    SKYREELS_DF_PIPELINE,
    SKYREELS_DF_I2V_PIPELINE,
    CHRONOEDIT_PIPELINE,
    LUCY_EDIT_PIPELINE,
)
#: SkyReels-V2's videos play at 24 fps (its examples export at 24; the diffusion-forcing model embeds it).
SKYREELS_FPS = 24
#: Lucy-Edit's example exports its edit at 24 fps.
LUCY_EDIT_FPS = 24
_SKYREELS_DF_CHECKPOINTS = (
    "Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers",
    "Skywork/SkyReels-V2-DF-14B-540P-Diffusers",
    "Skywork/SkyReels-V2-DF-14B-720P-Diffusers",
)
#: ChronoEdit's frames: the input image's latent frame and the edit's (video frames 0 and 1-4).
CHRONOEDIT_FRAMES = 5


def _variant(
    name: str, pipeline_class: str, task: str, capture_points: tuple[str, ...] = ("blocks",), **facts: Any
) -> Variant:
    """Every Wan attention is ``<list>.N.attn2``, cross-attention with separate guidance passes."""
    return Variant(name, NAME, pipeline_class, task, capture_points, "attn2", **facts)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant(
            "wan2.1-t2v", _T2V, "t2v", step_source="cache_context",
            checkpoints=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers"),
        ),
        _variant(
            "wan2.2-t2v-a14b", _T2V, "t2v", experts=2, boundary_ratio=0.875, step_source="cache_context",
            checkpoints=("Wan-AI/Wan2.2-T2V-A14B-Diffusers",),
        ),
        _variant(
            "wan2.2-ti2v-5b-t2v", _T2V, "t2v", pixels_per_cell=32, step_source="cache_context",
            expand_timesteps=True, checkpoints=("Wan-AI/Wan2.2-TI2V-5B-Diffusers",),
        ),
        _variant(
            "wan2.2-ti2v-5b-i2v", _I2V, "i2v", pixels_per_cell=32, conditioning="first_frame",
            expand_timesteps=True, checkpoints=("Wan-AI/Wan2.2-TI2V-5B-Diffusers",),
        ),
        _variant(
            "wan2.1-i2v-14b", _I2V, "i2v", image_branch=True, text_length=TEXT_CONTEXT,
            checkpoints=("Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers"),
        ),
        _variant(
            "wan2.1-flf2v-14b", _I2V, "flf2v", image_branch=True, text_length=TEXT_CONTEXT,
            checkpoints=("Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",),
        ),
        _variant(
            "wan2.2-i2v-a14b", _I2V, "i2v", experts=2, boundary_ratio=0.9,
            checkpoints=("Wan-AI/Wan2.2-I2V-A14B-Diffusers",),
        ),
        _variant(
            "wan2.1-vace", _VACE, "vace", conditioning="reference", capture_points=("blocks", "vace_blocks"),
            checkpoints=("Wan-AI/Wan2.1-VACE-1.3B-diffusers", "Wan-AI/Wan2.1-VACE-14B-diffusers"),
        ),
        _variant(
            "wan2.1-v2v", _V2V, "v2v", pass_source="call_order", frames_from_video=True,
            checkpoints=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers"),
        ),
        _variant(
            "skyreels-v2-t2v", SKYREELS_T2V_PIPELINE, "t2v", default_fps=SKYREELS_FPS,
            checkpoints=("Skywork/SkyReels-V2-T2V-14B-540P-Diffusers", "Skywork/SkyReels-V2-T2V-14B-720P-Diffusers"),
        ),
        _variant(
            "skyreels-v2-i2v", SKYREELS_I2V_PIPELINE, "i2v", image_branch=True, text_length=TEXT_CONTEXT,
            default_fps=SKYREELS_FPS,
            checkpoints=(
                "Skywork/SkyReels-V2-I2V-1.3B-540P-Diffusers",
                "Skywork/SkyReels-V2-I2V-14B-540P-Diffusers",
                "Skywork/SkyReels-V2-I2V-14B-720P-Diffusers",
            ),
        ),
        _variant(
            "skyreels-v2-df-t2v", SKYREELS_DF_PIPELINE, "t2v", frame_timesteps=True, fps_argument="fps",
            default_fps=SKYREELS_FPS, checkpoints=_SKYREELS_DF_CHECKPOINTS,
        ),
        _variant(
            "skyreels-v2-df-i2v", SKYREELS_DF_I2V_PIPELINE, "i2v", conditioning="first_frame",
            frame_timesteps=True, fps_argument="fps", default_fps=SKYREELS_FPS, checkpoints=_SKYREELS_DF_CHECKPOINTS,
        ),
        _variant(
            "chronoedit", CHRONOEDIT_PIPELINE, "image_edit", image_branch=True, text_length=TEXT_CONTEXT,
            pass_source="call_order", fixed_num_frames=CHRONOEDIT_FRAMES, grid_shrink_keeps=(0, -1),
            checkpoints=("nvidia/ChronoEdit-14B-Diffusers",),
        ),
        _variant(
            "lucy-edit", LUCY_EDIT_PIPELINE, "video_edit", pixels_per_cell=32, expand_timesteps=True,
            frames_from_video=True, default_fps=LUCY_EDIT_FPS,
            checkpoints=("decart-ai/Lucy-Edit-Dev", "decart-ai/Lucy-Edit-1.1-Dev"),
        ),
    )
}  # fmt: skip
"""Every supported variant by name, with the published checkpoints' facts."""

UNSUPPORTED = {
    "WanAnimatePipeline": ("Wan Animate", "its segments restart the denoising loop"),
    "SkyReelsV2DiffusionForcingVideoToVideoPipeline": (
        "SkyReels-V2 diffusion-forcing video extension",
        "its video joins the input with windows of new latent frames, each denoised by a loop of its own",
    ),
}

TINY_MODELS = {
    "tiny": "wan2.1-t2v",
    "tiny-wan22-a14b": "wan2.2-t2v-a14b",
    "tiny-ti2v-5b": "wan2.2-ti2v-5b-t2v",
    "tiny-ti2v-5b-i2v": "wan2.2-ti2v-5b-i2v",
    "tiny-wan22-i2v-a14b": "wan2.2-i2v-a14b",
    "tiny-i2v": "wan2.1-i2v-14b",
    "tiny-flf2v": "wan2.1-flf2v-14b",
    "tiny-vace": "wan2.1-vace",
    "tiny-v2v": "wan2.1-v2v",
    "tiny-skyreels-v2": "skyreels-v2-t2v",
    "tiny-skyreels-v2-i2v": "skyreels-v2-i2v",
    "tiny-skyreels-v2-df": "skyreels-v2-df-t2v",
    "tiny-skyreels-v2-df-i2v": "skyreels-v2-df-i2v",
    "tiny-chronoedit": "chronoedit",
    "tiny-lucy-edit": "lucy-edit",
}
"""The offline random-weight models of :mod:`attention_visual.models` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title="Wan",
    variants=VARIANTS,
    text=TextSide(
        cleaning=CLEANING,
        max_sequence_length=TEXT_CONTEXT,
        max_sequence_limit=TEXT_CONTEXT,
        padding="identical_rows",
    ),
    size_multiple=16,
    default_fps=16,
    default_checkpoint="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    runtime="attention_visual.families.wan.runtime",
    checkpoints="attention_visual.families.wan.checkpoint",
    unsupported=UNSUPPORTED,
    tiny_models=TINY_MODELS,
    block_counts={"blocks": "num_layers", "vace_blocks": "vace_layers"},
)

__all__ = [
    "CHRONOEDIT_FRAMES",
    "CHRONOEDIT_PIPELINE",
    "DERIVATIVE_PIPELINES",
    "FAMILY",
    "I2V_PIPELINE",
    "LUCY_EDIT_FPS",
    "LUCY_EDIT_PIPELINE",
    "NAME",
    "SKYREELS_DF_I2V_PIPELINE",
    "SKYREELS_DF_PIPELINE",
    "SKYREELS_FPS",
    "SKYREELS_I2V_PIPELINE",
    "SKYREELS_T2V_PIPELINE",
    "T2V_PIPELINE",
    "TEXT_CONTEXT",
    "TINY_MODELS",
    "UNSUPPORTED",
    "V2V_PIPELINE",
    "VACE_PIPELINE",
    "VARIANTS",
]

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
    )
}  # fmt: skip
"""Every supported variant by name, with the published checkpoints' facts."""

UNSUPPORTED = {
    "WanAnimatePipeline": ("Wan Animate", "its segments restart the denoising loop"),
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
    "FAMILY",
    "I2V_PIPELINE",
    "NAME",
    "T2V_PIPELINE",
    "TEXT_CONTEXT",
    "TINY_MODELS",
    "UNSUPPORTED",
    "V2V_PIPELINE",
    "VACE_PIPELINE",
    "VARIANTS",
]

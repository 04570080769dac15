"""The Wan family as data: one small, frozen description per pipeline variant.

The Wan pipelines of diffusers 0.42 differ by a handful of facts that decide how cross-attention is
captured and shown; everything that reads them (capture, batch, renderers, report) reads a
:class:`WanVariant` instead of branching on the pipeline class:

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
is added to the text branch's). *step index*: ``cache_context`` = the pipeline's
``cache_context(..., step_index=i)`` says it; ``counted`` = the capture counts passes itself and
checks each pass's timestep against the scheduler's (I2V/VACE enter a cache context without a step
index, video-to-video none at all).

:func:`describe_pipeline` turns a loaded pipeline object into its variant, with the facts of *that*
object (which experts exist, its ``boundary_ratio``, its VAE and patch factors), and refuses what the
capture does not support (Wan Animate, the modular pipelines) with one :class:`CaptureError`.

Example:
    >>> VARIANTS["wan2.2-ti2v-5b-t2v"].pixels_per_token
    32
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import CaptureError

EXPERT_NAMES = ("high_noise", "low_noise")
"""``expert`` of a step: ``transformer`` runs ``t >= boundary`` (high noise), ``transformer_2`` the rest."""

WAN_TEXT_CONTEXT = 512
"""Text tokens of an I2V/FLF2V ``attn2`` context: diffusers splits ``[image, text]`` at ``L - 512``."""

STEP_SOURCES = ("cache_context", "counted")
PASS_SOURCES = ("cache_context", "call_order")
CONDITIONING_KINDS = ("none", "first_frame", "reference")
TASKS = ("t2v", "i2v", "flf2v", "vace", "v2v")


@dataclass(frozen=True)
class WanVariant:
    """The facts of one Wan pipeline variant that the capture and the renderers need.

    Attributes:
        name: Stable identifier (``"wan2.2-t2v-a14b"``), stored in map metadata.
        pipeline_class: The diffusers pipeline class name.
        task: ``"t2v" | "i2v" | "flf2v" | "vace" | "v2v"``.
        experts: Transformers that denoise (1, or 2 for Wan2.2 A14B: high- then low-noise expert).
        boundary_ratio: Steps with ``t >= boundary_ratio × num_train_timesteps`` run ``transformer``;
            ``None`` with one expert.
        pixels_per_token: Video pixels per token side: VAE spatial factor × transformer patch size.
        temporal_factor: Video frames per latent frame (Wan's causal VAE: 4; latent 0 → frame 0 alone).
        conditioning: Which latent frames are inputs, not generated video (see module docstring).
        image_branch: ``attn2`` has the CLIP image branch (``added_kv_proj_dim``; I2V-14B, FLF2V).
        step_source: ``"cache_context"`` (the pipeline passes ``step_index``) or ``"counted"``.
        pass_source: ``"cache_context"`` (``cache_context("cond"|"uncond")``) or ``"call_order"``
            (no context: per step the prompt pass runs first, then the negative-prompt pass).
        expand_timesteps: ``timestep`` is ``[batch, video_token]`` (TI2V-5B) instead of ``[batch]``.
        capture_points: Module lists whose ``N.attn2`` can be captured (``"blocks"``; VACE also
            ``"vace_blocks"``, the control stream).
        checkpoints: Public ``*-Diffusers`` checkpoints of this variant.
    """

    name: str
    pipeline_class: str
    task: str
    experts: int = 1
    boundary_ratio: float | None = None
    pixels_per_token: int = 16
    temporal_factor: int = 4
    conditioning: str = "none"
    image_branch: bool = False
    step_source: str = "counted"
    pass_source: str = "cache_context"
    expand_timesteps: bool = False
    capture_points: tuple[str, ...] = ("blocks",)
    checkpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for label, value, choices in (
            ("task", self.task, TASKS),
            ("conditioning", self.conditioning, CONDITIONING_KINDS),
            ("step_source", self.step_source, STEP_SOURCES),
            ("pass_source", self.pass_source, PASS_SOURCES),
        ):
            if value not in choices:
                raise ValueError(f"WanVariant.{label} must be one of {choices}, got {value!r}")
        if self.experts not in (1, 2):
            raise ValueError(f"WanVariant.experts must be 1 or 2, got {self.experts}")

    def conditioning_frames(self, num_reference_frames: int = 0) -> tuple[int, ...]:
        """Latent frame indices that are conditioning inputs (``num_reference_frames``: VACE's R)."""
        if self.conditioning == "first_frame":
            return (0,)
        if self.conditioning == "reference":
            return tuple(range(num_reference_frames))
        return ()


_T2V = "WanPipeline"
_I2V = "WanImageToVideoPipeline"
_VACE = "WanVACEPipeline"
_V2V = "WanVideoToVideoPipeline"

VARIANTS: dict[str, WanVariant] = {
    v.name: v
    for v in (
        WanVariant(
            "wan2.1-t2v", _T2V, "t2v", step_source="cache_context",
            checkpoints=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers"),
        ),
        WanVariant(
            "wan2.2-t2v-a14b", _T2V, "t2v", experts=2, boundary_ratio=0.875, step_source="cache_context",
            checkpoints=("Wan-AI/Wan2.2-T2V-A14B-Diffusers",),
        ),
        WanVariant(
            "wan2.2-ti2v-5b-t2v", _T2V, "t2v", pixels_per_token=32, step_source="cache_context",
            expand_timesteps=True, checkpoints=("Wan-AI/Wan2.2-TI2V-5B-Diffusers",),
        ),
        WanVariant(
            "wan2.2-ti2v-5b-i2v", _I2V, "i2v", pixels_per_token=32, conditioning="first_frame",
            expand_timesteps=True, checkpoints=("Wan-AI/Wan2.2-TI2V-5B-Diffusers",),
        ),
        WanVariant(
            "wan2.1-i2v-14b", _I2V, "i2v", image_branch=True,
            checkpoints=("Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers"),
        ),
        WanVariant(
            "wan2.1-flf2v-14b", _I2V, "flf2v", image_branch=True,
            checkpoints=("Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",),
        ),
        WanVariant(
            "wan2.2-i2v-a14b", _I2V, "i2v", experts=2, boundary_ratio=0.9,
            checkpoints=("Wan-AI/Wan2.2-I2V-A14B-Diffusers",),
        ),
        WanVariant(
            "wan2.1-vace", _VACE, "vace", conditioning="reference", capture_points=("blocks", "vace_blocks"),
            checkpoints=("Wan-AI/Wan2.1-VACE-1.3B-diffusers", "Wan-AI/Wan2.1-VACE-14B-diffusers"),
        ),
        WanVariant(
            "wan2.1-v2v", _V2V, "v2v", pass_source="call_order",
            checkpoints=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers"),
        ),
    )
}  # fmt: skip
"""Every supported variant by name, with the published checkpoints' facts."""

_UNSUPPORTED = {
    "WanAnimatePipeline": "Wan Animate (its segments restart the denoising loop)",
}


def _base_variant(pipe: Any, cls: str) -> WanVariant:
    """Pick the registry entry from the pipeline class, its config and its components."""
    config = getattr(pipe, "config", {})
    two = getattr(pipe, "transformer_2", None) is not None or config.get("boundary_ratio") is not None
    expand = bool(config.get("expand_timesteps", False))
    if cls == _T2V:
        return VARIANTS["wan2.2-ti2v-5b-t2v" if expand else "wan2.2-t2v-a14b" if two else "wan2.1-t2v"]
    if cls == _I2V:
        if expand:
            return VARIANTS["wan2.2-ti2v-5b-i2v"]
        if two:
            return VARIANTS["wan2.2-i2v-a14b"]
        model = _first_transformer(pipe)
        flf2v = model is not None and model.config.get("pos_embed_seq_len") is not None
        return VARIANTS["wan2.1-flf2v-14b" if flf2v else "wan2.1-i2v-14b"]
    if cls == _VACE:
        return VARIANTS["wan2.1-vace"]
    return VARIANTS["wan2.1-v2v"]


def _first_transformer(pipe: Any) -> Any:
    model = getattr(pipe, "transformer", None)
    return model if model is not None else getattr(pipe, "transformer_2", None)


def describe_pipeline(pipe: Any) -> WanVariant:
    """The variant of a loaded pipeline, with that object's own experts, boundary and factors.

    Args:
        pipe: A diffusers Wan pipeline object (``WanPipeline``, ``WanImageToVideoPipeline``,
            ``WanVACEPipeline`` or ``WanVideoToVideoPipeline``).

    Returns:
        The registry's :class:`WanVariant`, replaced with what ``pipe`` actually holds: ``experts``
        (1 or 2 transformers present), ``boundary_ratio`` (from ``pipe.config``; ``None`` with one
        expert), ``pixels_per_token`` (``vae_scale_factor_spatial × patch_size``), ``temporal_factor``
        and ``image_branch`` (``attn2.add_k_proj`` present).

    Raises:
        CaptureError: Wan Animate, a modular Wan pipeline, any other class, or no transformer.
    """
    cls = type(pipe).__name__
    module = type(pipe).__module__
    if cls in _UNSUPPORTED:
        raise CaptureError(f"{cls} is not supported: {_UNSUPPORTED[cls]}; supported: {supported_pipelines()}")
    if module.startswith("diffusers.modular_pipelines") or "ModularPipeline" in cls:
        raise CaptureError(
            f"{cls} (a modular diffusers pipeline) is not supported: its blocks run the denoiser outside the "
            f"pipeline's own loop; use one of {supported_pipelines()}"
        )
    if cls not in {_T2V, _I2V, _VACE, _V2V}:
        raise CaptureError(f"{cls} is not a supported Wan pipeline; supported: {supported_pipelines()}")
    model = _first_transformer(pipe)
    if model is None:
        raise CaptureError(f"{cls} has neither a transformer nor a transformer_2")
    base = _base_variant(pipe, cls)
    experts = sum(getattr(pipe, n, None) is not None for n in ("transformer", "transformer_2"))
    ratio = pipe.config.get("boundary_ratio")
    if ratio is None and experts == 2:
        raise CaptureError(f"{cls} has transformer_2 but no boundary_ratio: transformer_2 would never run")
    patch = tuple(model.config.patch_size)
    spatial = int(getattr(pipe, "vae_scale_factor_spatial", 8))
    temporal = int(getattr(pipe, "vae_scale_factor_temporal", base.temporal_factor))
    blocks = getattr(model, "blocks", None)
    attn2 = getattr(blocks[0], "attn2", None) if blocks is not None and len(blocks) else None
    return dataclasses.replace(
        base,
        experts=experts,
        boundary_ratio=None if ratio is None else float(ratio),
        pixels_per_token=spatial * int(patch[1]),
        temporal_factor=temporal,
        image_branch=getattr(attn2, "add_k_proj", None) is not None,
    )


def supported_pipelines() -> str:
    """The supported pipeline classes, for error messages."""
    return ", ".join(sorted({v.pipeline_class for v in VARIANTS.values()}))


__all__ = [
    "CONDITIONING_KINDS",
    "EXPERT_NAMES",
    "PASS_SOURCES",
    "STEP_SOURCES",
    "TASKS",
    "VARIANTS",
    "WAN_TEXT_CONTEXT",
    "WanVariant",
    "describe_pipeline",
    "supported_pipelines",
]

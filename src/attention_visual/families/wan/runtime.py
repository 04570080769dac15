"""The torch side of the Wan family: recognise its pipelines, find and hook ``attn2``, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime`:

* **Attention.** Every block's ``attn2`` is cross-attention: video queries, text keys, no RoPE, no mask.
  ``WanAttnProcessor`` computes ``q = norm_q(to_q(x))`` and ``k = norm_k(to_k(text))``; forward hooks on
  ``attn2.norm_q``/``norm_k`` receive exactly the q and k the softmax consumes (``[batch, token,
  heads * head_dim]``). With the image branch (I2V-14B, FLF2V) also ``to_v``, ``add_v_proj`` and
  ``norm_added_k`` for the ``<image>`` share (``norm_added_k`` runs last).
* **Passes.** One transformer call per guidance pass (batch 1), named by the pipeline's
  ``cache_context("cond" | "uncond")`` (video-to-video: by call order); the variants' data says where
  the step index comes from.
* **Grid.** ``hidden_states`` is ``[batch, channel, frame, height, width]`` latents; the patch embedding
  ``(p_t, p_h, p_w)`` flattens them to ``frame/p_t × height/p_h × width/p_w`` tokens, frame-major.
  Diffusion forcing (SkyReels-V2 DF) gives ``timestep`` as ``[batch, frame]``: each map frame's.
* **Derivatives.** SkyReels-V2 (``SkyReelsV2Attention``), ChronoEdit (its own ``WanAttention`` copy) and
  Lucy-Edit (``WanTransformer3DModel``) have the same ``blocks.N.attn2`` with ``norm_q``/``norm_k``: the
  same hooks and math; the variants' data says what else differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from attention_visual.errors import CaptureError
from attention_visual.families.common.parts import cast_components, import_pipeline_class, set_euler_shift
from attention_visual.families.interface import (
    AttentionInputs,
    AttentionSite,
    HookPoint,
    ImageShareInputs,
    Measure,
    Probe,
    TransformerCall,
)
from attention_visual.families.spec import Variant
from attention_visual.families.wan.facts import (
    CHRONOEDIT_PIPELINE,
    DERIVATIVE_PIPELINES,
    FAMILY,
    I2V_PIPELINE,
    LUCY_EDIT_PIPELINE,
    SKYREELS_DF_I2V_PIPELINE,
    SKYREELS_DF_PIPELINE,
    SKYREELS_I2V_PIPELINE,
    SKYREELS_T2V_PIPELINE,
    T2V_PIPELINE,
    TEXT_CONTEXT,
    V2V_PIPELINE,
    VACE_PIPELINE,
    VARIANTS,
)

#: The variant of each derivative's pipeline class (one variant per class).
_DERIVED_VARIANTS = {v.pipeline_class: v for v in VARIANTS.values() if v.pipeline_class in DERIVATIVE_PIPELINES}
#: The diffusers module of every pipeline class (imported where used: the I2V modules are slow to import).
_MODULES = {
    T2V_PIPELINE: "diffusers.pipelines.wan.pipeline_wan",
    I2V_PIPELINE: "diffusers.pipelines.wan.pipeline_wan_i2v",
    VACE_PIPELINE: "diffusers.pipelines.wan.pipeline_wan_vace",
    V2V_PIPELINE: "diffusers.pipelines.wan.pipeline_wan_video2video",
    SKYREELS_T2V_PIPELINE: "diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2",
    SKYREELS_I2V_PIPELINE: "diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_i2v",
    SKYREELS_DF_PIPELINE: ("diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing"),
    SKYREELS_DF_I2V_PIPELINE: ("diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing_i2v"),
    CHRONOEDIT_PIPELINE: "diffusers.pipelines.chronoedit.pipeline_chronoedit",
    LUCY_EDIT_PIPELINE: "diffusers.pipelines.lucy.pipeline_lucy_edit",
}


def _base_variant(pipe: Any, cls: str) -> Variant:
    """Pick the registry entry from the pipeline class, its config and its components."""
    if cls in _DERIVED_VARIANTS:
        return _DERIVED_VARIANTS[cls]
    config = getattr(pipe, "config", {})
    two = getattr(pipe, "transformer_2", None) is not None or config.get("boundary_ratio") is not None
    expand = bool(config.get("expand_timesteps", False))
    if cls == T2V_PIPELINE:
        return VARIANTS["wan2.2-ti2v-5b-t2v" if expand else "wan2.2-t2v-a14b" if two else "wan2.1-t2v"]
    if cls == I2V_PIPELINE:
        if expand:
            return VARIANTS["wan2.2-ti2v-5b-i2v"]
        if two:
            return VARIANTS["wan2.2-i2v-a14b"]
        model = _first_transformer(pipe)
        flf2v = model is not None and model.config.get("pos_embed_seq_len") is not None
        return VARIANTS["wan2.1-flf2v-14b" if flf2v else "wan2.1-i2v-14b"]
    if cls == VACE_PIPELINE:
        return VARIANTS["wan2.1-vace"]
    return VARIANTS["wan2.1-v2v"]


def _first_transformer(pipe: Any) -> Any:
    model = getattr(pipe, "transformer", None)
    return model if model is not None else getattr(pipe, "transformer_2", None)


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded Wan pipeline, with that object's own experts, boundary and factors.

    Returns:
        The registry's variant, replaced with what ``pipe`` actually holds: ``experts`` (1 or 2
        transformers present), ``boundary_ratio`` (from ``pipe.config``; ``None`` with one expert),
        ``pixels_per_cell`` (``vae_scale_factor_spatial × patch_size``), ``temporal_factor`` and
        ``image_branch`` (``attn2.add_k_proj`` present; then exactly 512 text keys).

    Raises:
        CaptureError: No transformer, or a ``transformer_2`` without ``boundary_ratio``.
    """
    cls = type(pipe).__name__
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
    image_branch = getattr(attn2, "add_k_proj", None) is not None
    return base.replace(
        experts=experts,
        boundary_ratio=None if ratio is None else float(ratio),
        pixels_per_cell=spatial * int(patch[1]),
        temporal_factor=temporal,
        latent_frames_per_cell=int(patch[0]),
        image_branch=image_branch,
        text_length=TEXT_CONTEXT if image_branch else None,
    )


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """``(expert label, transformer)`` of each transformer the pipeline may run."""
    pair = (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None))
    if variant.boundary_ratio is None:
        return [(None, _first_transformer(pipe))]
    return [(label, model) for label, model in zip(FAMILY.expert_names, pair, strict=True) if model is not None]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.<block_list>[i].attn2`` for every block, in order.

    Raises:
        CaptureError: The module has no ``<block_list>[i].attn2`` with ``norm_q``/``norm_k`` (not a Wan
            transformer; e.g. Wan Animate names its cross-attention ``blocks.N.cross_attn``).
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not a Wan transformer")
    found = []
    for i, block in enumerate(blocks):
        attn2 = getattr(block, "attn2", None)
        name = variant.block_name(i, block_list)
        if attn2 is None and isinstance(getattr(block, "cross_attn", None), nn.Module):
            raise CaptureError(
                f"{type(transformer).__name__} names its cross-attention {block_list}.{i}.cross_attn, not attn2: "
                "this transformer (Wan Animate / modular blocks) is not supported"
            )
        if attn2 is None or not all(isinstance(getattr(attn2, n, None), nn.Module) for n in ("norm_q", "norm_k")):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k: not a Wan cross-attention")
        if not hasattr(attn2, "heads"):
            raise CaptureError(f"{name} does not say its number of heads")
        found.append(AttentionSite(i, name, attn2, int(attn2.heads)))
    return found


def _words(slots: Mapping[str, Any]) -> AttentionInputs:
    return AttentionInputs("cross", slots["query"], slots["key"])


def _image_share(slots: Mapping[str, Any]) -> ImageShareInputs:
    try:
        return ImageShareInputs(slots["query"], slots["key"], slots["value"], slots["key_img"], slots["value_img"])
    except KeyError:
        raise CaptureError(
            "the image branch ran without the text branch's q, k, v (fused projections are not supported "
            "with image_map)"
        ) from None


_TEXT_POINTS = (HookPoint("query", "norm_q"), HookPoint("key", "norm_k"))
_IMAGE_POINTS = (HookPoint("value", "to_v"), HookPoint("value_img", "add_v_proj"), HookPoint("key_img", "norm_added_k"))
_PROBE = Probe(_TEXT_POINTS, (Measure("words", "key", _words),))
_IMAGE_PROBE = Probe(
    _TEXT_POINTS + _IMAGE_POINTS, (Measure("words", "key", _words), Measure("image_share", "key_img", _image_share))
)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """``attn2.norm_q``/``norm_k`` give q and k; with ``image_map`` the image branch's inputs too."""
    return _IMAGE_PROBE if image_map else _PROBE


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """``hidden_states`` ``[batch, channel, frame, height, width]`` and ``timestep`` of a transformer call.

    With ``variant.frame_timesteps`` (diffusion forcing) ``timestep`` is ``[batch, frame]``: each map frame's.

    Raises:
        CaptureError: No ``hidden_states``, or a per-frame ``timestep`` that does not fit the frames.
    """
    hidden = kwargs.get("hidden_states", args[0] if args else None)
    timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
    if not isinstance(hidden, torch.Tensor):
        raise CaptureError("the transformer was called without hidden_states")
    config: Any = transformer.config
    pt, ph, pw = tuple(config.patch_size)
    batch, _, frames, height, width = hidden.shape
    grid = (frames // pt, height // ph, width // pw)
    step_t = timestep if isinstance(timestep, torch.Tensor) else None
    per_frame = None
    if variant.frame_timesteps and step_t is not None:
        if step_t.shape != (batch, grid[0]):
            raise CaptureError(
                f"{variant.name}: timestep of shape {tuple(step_t.shape)} is not one per latent frame "
                f"([{batch}, {grid[0]}])"
            )
        per_frame = step_t  # [batch, frame]
    return TransformerCall(batch=int(batch), grid=grid, timestep=step_t, frame_timesteps=per_frame)


# -- loading ----------------------------------------------------------------------------------------------
def pipeline_class(class_name: str) -> Any:
    """The diffusers class of a Wan (or derivative) pipeline class name, imported where used."""
    return import_pipeline_class(class_name, _MODULES, "Wan")


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint as Wan advises: the VAE in float32, the rest in ``dtype``; the checkpoint's options."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(
        location, subfolder="vae", dtype=torch.float32, local_files_only=local_files_only
    )
    return pipeline_class(class_name).from_pretrained(
        location, vae=vae, dtype=dtype, local_files_only=local_files_only, **spec.pipeline_kwargs(class_name)
    )


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """Replace the scheduler with ``UniPCMultistepScheduler(flow_shift=...)`` (Wan: 3.0 for 480p, 5.0 for 720p).

    A checkpoint that ships a ``FlowMatchEulerDiscreteScheduler`` (ChronoEdit's pipeline is typed with one) keeps
    its class, with ``shift=flow_shift``: a UniPC made from its config would not predict the flow.
    """
    from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
    from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler

    if isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler):
        set_euler_shift(pipe, flow_shift)
        return
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder and transformer(s) to ``dtype``; the VAE stays float32."""
    cast_components(pipe, torch.float32, ("vae",))
    cast_components(pipe, dtype, ("text_encoder", "transformer", "transformer_2"))


__all__ = [
    "cast",
    "describe_pipeline",
    "experts",
    "from_pretrained",
    "locate",
    "pipeline_class",
    "probe",
    "read_call",
    "set_flow_shift",
]

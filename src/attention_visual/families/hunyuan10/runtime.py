"""The torch side of the HunyuanVideo family: recognise its pipelines, find and hook ``attn``, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime` (``HunyuanVideoAttnProcessor2_0``,
diffusers 0.42):

* **Dual-stream blocks** (``transformer_blocks.N.attn``; the variant's ``attention_kind`` ``joint_dual``).
  Four hook points, in firing order: a forward pre-hook with kwargs on ``attn`` (``image_rotary_emb``: the
  RoPE tables; ``attention_mask``: ``[batch, 1, 1, video + text]`` bool), forward hooks on ``norm_q`` and
  ``norm_k`` (the video rows, ``[batch, video_token, head, head_dim]``, before RoPE) and on ``norm_added_k``
  (the text keys, no RoPE). The measure runs at ``norm_added_k``: it rotates the video q and k with diffusers'
  own ``apply_rotary_emb`` exactly as the processor does (``sequence_dim=1``), puts the keys in the
  processor's order ``[video, text]`` and turns the mask into the logits' bias.
* **Single-stream blocks** (``single_transformer_blocks.N.attn``; ``joint_single``). Three hook points: the
  pre-hook on ``attn`` (``encoder_hidden_states`` says how many text rows end the sequence; the RoPE tables;
  the mask) and ``norm_q`` / ``norm_k`` (``[batch, video + text, head, head_dim]``). The measure runs at
  ``norm_k``: the video rows of q and k rotated as the processor rotates them, the text rows as they are.
* Nothing is patched, no processor replaced; the hooks never write to the model's tensors.
* **Passes.** ``cache_context("cond")`` per step, and ``("uncond")`` only with ``true_cfg_scale > 1`` and a
  negative prompt; no step index (counted, checked against the scheduler).
* **Grid.** ``hidden_states`` is ``[batch, channel, frame, height, width]``; patch ``p_t × p × p`` (1 × 2 × 2
  in the published checkpoint), frame-major.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import torch
from diffusers.models.embeddings import apply_rotary_emb
from torch import nn

from attention_visual.errors import CaptureError
from attention_visual.families.common.parts import cast_components, import_pipeline_class, set_euler_shift
from attention_visual.families.hunyuan10.facts import (
    ATTENTION,
    DUAL_STREAM,
    PROMPT_TEMPLATE,
    T2V_PIPELINE,
    VARIANTS,
)
from attention_visual.families.interface import (
    AttentionInputs,
    AttentionSite,
    CallArgs,
    HookPoint,
    Measure,
    Probe,
    TransformerCall,
)
from attention_visual.families.spec import Variant

_VARIANT_OF = {T2V_PIPELINE: "hunyuanvideo-t2v"}
#: The diffusers module of every pipeline class (imported where used).
_MODULES = {T2V_PIPELINE: "diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video"}


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded HunyuanVideo pipeline, from its class, its VAE factors and its transformer.

    Raises:
        CaptureError: No HunyuanVideo transformer, an image-conditioned transformer in a text-to-video
            pipeline, or a diffusers whose default prompt template differs from the family's (the words' keys
            would be elsewhere).
    """
    cls = type(pipe).__name__
    config = getattr(getattr(pipe, "transformer", None), "config", None)
    if config is None or not hasattr(config, "num_single_layers"):
        raise CaptureError(f"{cls} has no HunyuanVideo transformer")
    if config.get("image_condition_type") is not None:
        raise CaptureError(f"{cls} holds an image-to-video transformer ({config.image_condition_type})")
    _check_template(cls)
    return VARIANTS[_VARIANT_OF[cls]].replace(
        pixels_per_cell=int(getattr(pipe, "vae_scale_factor_spatial", 8)) * int(config.patch_size),
        temporal_factor=int(getattr(pipe, "vae_scale_factor_temporal", 4)),
        latent_frames_per_cell=int(config.patch_size_t),
    )


def _check_template(cls: str) -> None:
    """The pipeline module's default template must be the family's (text and cut)."""
    module = importlib.import_module(_MODULES[cls])
    default = module.DEFAULT_PROMPT_TEMPLATE
    if (default.get("template"), default.get("crop_start")) != (PROMPT_TEMPLATE.text, PROMPT_TEMPLATE.cut):
        raise CaptureError(
            f"{cls}'s default prompt template differs from the one this version knows (a cut of "
            f"{PROMPT_TEMPLATE.cut} tokens): the words' keys cannot be located"
        )


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """The one transformer."""
    return [(None, pipe.transformer)]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.<block_list>[i].attn`` for every block, in order.

    Raises:
        CaptureError: Not a HunyuanVideo transformer (no such blocks, or an ``attn`` without ``norm_q``/``norm_k``,
            or, dual-stream, without ``norm_added_k``).
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not a HunyuanVideo transformer")
    norms = ("norm_q", "norm_k", "norm_added_k") if block_list == DUAL_STREAM else ("norm_q", "norm_k")
    found = []
    for i, block in enumerate(blocks):
        attn = getattr(block, ATTENTION, None)
        name = variant.block_name(i, block_list)
        if attn is None or not all(isinstance(getattr(attn, n, None), nn.Module) for n in norms):
            raise CaptureError(f"{name} is missing or has no {'/'.join(norms)}: not HunyuanVideo's joint attention")
        found.append(AttentionSite(i, name, attn, int(attn.heads)))
    return found


def _rotate(x: torch.Tensor, rope: Any) -> torch.Tensor:
    """diffusers' ``apply_rotary_emb`` as ``HunyuanVideoAttnProcessor2_0`` calls it (``[batch, token, head, d]``)."""
    if rope is None:
        return x
    # diffusers annotates the tables as tuple[Tensor] and the result as a tuple; it takes (cos, sin), returns a tensor
    out: torch.Tensor = apply_rotary_emb(x, rope, sequence_dim=1)  # type: ignore[assignment]
    return out


def _key_bias(call: CallArgs, n_keys: int) -> torch.Tensor | None:
    """``[batch, key]`` float32: the transformer's ``attention_mask`` as the logits' bias (0 / -inf)."""
    mask = call.kwargs.get("attention_mask")  # [batch, 1, 1, key] bool: True = attended
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.shape[-1] != n_keys or mask.numel() != mask.shape[0] * n_keys:
        raise CaptureError(f"attn was called with an attention_mask that is not [batch, 1, 1, {n_keys}]")
    valid = mask.reshape(mask.shape[0], n_keys)
    if valid.dtype != torch.bool:  # an additive float mask, as scaled_dot_product_attention adds it
        return valid.float()
    zero = torch.zeros((), dtype=torch.float32, device=valid.device)
    return torch.where(valid, zero, float("-inf"))


def _dual(slots: Mapping[str, Any]) -> AttentionInputs:
    """A dual-stream block: q and k as the processor hands them to the softmax, and its mask as a bias.

    Slots: ``call`` (the ``attn`` call's arguments), ``query`` / ``key`` (``norm_q`` / ``norm_k``'s outputs, the
    video rows ``[batch, video_token, head, head_dim]``), ``text_key`` (``norm_added_k``'s output,
    ``[batch, text_token, head, head_dim]``).
    """
    call: CallArgs = slots["call"]
    rope = call.kwargs.get("image_rotary_emb")
    query, key = _rotate(slots["query"], rope), _rotate(slots["key"], rope)
    text = slots["text_key"]
    n, n_text = query.shape[1], text.shape[1]
    keys = torch.cat([key, text], dim=1).transpose(1, 2)  # [batch, head, video + text, head_dim]
    return AttentionInputs(
        "joint", query.transpose(1, 2), keys, text_keys=slice(n, n + n_text), key_bias=_key_bias(call, n + n_text)
    )  # query: [batch, head, video_token, head_dim]


def _single(slots: Mapping[str, Any]) -> AttentionInputs:
    """A single-stream block: the video rows of q and k rotated as the processor rotates them, the text rows not.

    Slots: ``call`` (``encoder_hidden_states``: the text rows that end the sequence), ``query`` / ``key``
    (``norm_q`` / ``norm_k``'s outputs, ``[batch, video + text, head, head_dim]``).
    """
    call: CallArgs = slots["call"]
    text = call.kwargs.get("encoder_hidden_states")
    if not isinstance(text, torch.Tensor):
        raise CaptureError("attn was called without encoder_hidden_states: not HunyuanVideo's single-stream attention")
    query, key = slots["query"], slots["key"]  # [batch, video + text, head, head_dim]
    n_all, n_text = key.shape[1], int(text.shape[1])
    n = n_all - n_text
    rope = call.kwargs.get("image_rotary_emb")
    keys = torch.cat([_rotate(key[:, :n], rope), key[:, n:]], dim=1).transpose(1, 2)  # [batch, head, key, d]
    video_query = _rotate(query[:, :n], rope).transpose(1, 2)  # [batch, head, video_token, head_dim]
    return AttentionInputs("joint", video_query, keys, text_keys=slice(n, n_all), key_bias=_key_bias(call, n_all))


#: The probe of each stream: the dual-stream measure runs at ``norm_added_k``, the single-stream one at ``norm_k``.
PROBES = {
    "joint_dual": Probe(
        (
            HookPoint("call", "", "call"),
            HookPoint("query", "norm_q"),
            HookPoint("key", "norm_k"),
            HookPoint("text_key", "norm_added_k"),
        ),
        (Measure("words", "text_key", _dual),),
    ),
    "joint_single": Probe(
        (HookPoint("call", "", "call"), HookPoint("query", "norm_q"), HookPoint("key", "norm_k")),
        (Measure("words", "key", _single),),
    ),
}


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """The probe of the variant's stream (``variant.for_block_list``: ``joint_dual`` or ``joint_single``).

    Raises:
        CaptureError: ``image_map`` (no image branch or image keys).
    """
    if image_map:
        raise CaptureError(f"{variant.name} has no image branch or image keys: image_map is not available")
    return PROBES[variant.attention_kind]


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """``hidden_states`` ``[batch, channel, frame, height, width]`` and ``timestep`` of a transformer call.

    Raises:
        CaptureError: No 5-D latents, or a frame count the temporal patch does not divide.
    """
    hidden = kwargs.get("hidden_states", args[0] if args else None)
    timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 5:
        raise CaptureError("the transformer was called without 5-D hidden_states [batch, channel, frame, y, x]")
    config: Any = transformer.config
    p, p_t = int(config.patch_size), int(config.patch_size_t)
    batch, _, frames, height, width = hidden.shape
    t = timestep if isinstance(timestep, torch.Tensor) else None
    return TransformerCall.of_patches(batch, (frames, height, width), (p_t, p), t)


# -- loading ---------------------------------------------------------------------------------------------
def pipeline_class(class_name: str) -> Any:
    """The diffusers class of a HunyuanVideo pipeline class name (its module imported only now)."""
    return import_pipeline_class(class_name, _MODULES, "HunyuanVideo")


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint with every component in ``dtype`` (the diffusers docs: bfloat16 or float16 on a GPU)."""
    return pipeline_class(class_name).from_pretrained(location, dtype=dtype, local_files_only=local_files_only)


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """Replace the ``FlowMatchEulerDiscreteScheduler`` by one with ``shift=flow_shift`` (the checkpoint's: 7)."""
    set_euler_shift(pipe, flow_shift)


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoders, the transformer and the VAE to ``dtype``."""
    cast_components(pipe, dtype, ("text_encoder", "text_encoder_2", "transformer", "vae"))


__all__ = [
    "PROBES",
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

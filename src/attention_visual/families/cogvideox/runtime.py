"""The torch side of the CogVideoX family: recognise its pipelines, find and hook ``attn1``, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime`:

* **Attention.** Every ``transformer_blocks.N.attn1`` is a joint attention (``CogVideoXAttnProcessor2_0``):
  ``x = [text, video]``, ``q = norm_q(to_q(x))``, ``k = norm_k(to_k(x))`` as ``[batch, head, token,
  head_dim]``, then RoPE on the video rows of q and k (5B, 1.5; written *in place* into those tensors),
  then one softmax over all keys, no mask, then ``to_out``. Four hook points, in firing order: a forward
  pre-hook with kwargs on ``attn1`` (``encoder_hidden_states`` says how many text rows lead the
  sequence), forward hooks on ``norm_q`` and ``norm_k`` (which keep a reference to the very q and k
  tensors, writing nothing), and a forward pre-hook on ``to_out.0``, where the measure runs: after the
  softmax, when the processor has rotated those tensors, so the capture reads exactly what the softmax
  consumed without recomputing RoPE (which would cost as much as the model's own rotation). That the
  processor rotates in place is checked by the exactness tests (a measure at ``norm_k`` fails them).
  Nothing is patched, no processor replaced.
* **Passes.** One call per step on ``[uncond, cond]`` under ``cache_context("cond_uncond")`` (no step
  index: counted and checked against the scheduler); without guidance one ``cond`` item.
* **Grid.** ``hidden_states`` is ``[batch, frame, channel, height, width]``; the patch embedding makes
  ``frame/p_t × height/p × width/p`` video tokens, frame-major (1.0: a 2-D patch per frame; 1.5:
  ``p_t = 2``). The 1.5 pipelines prepend padding latent frames when the latent count is odd; they
  remain in the map's first frame (which also holds the first real latent frame), and the frame rule
  says that this map frame owns video frame 0 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families.cogvideox.facts import (
    I2V_PIPELINE,
    T2V_PIPELINE,
    TEXT_LENGTH,
    V2V_PIPELINE,
    V15_V2V_REFUSAL,
    VARIANTS,
)
from attention_visual.families.common.parts import cast_components, import_pipeline_class
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

#: ``transformer_blocks`` is the one list of blocks; ``attn1`` is each block's joint attention.
BLOCK_LIST = "transformer_blocks"


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded CogVideoX pipeline, from its class and its transformer's config.

    ``patch_size_t`` set: 1.5 (a token covers two latent frames); no RoPE: the 2B. A sin-cos (2B) or learned
    (5B-I2V) position embedding fixes the text length at ``max_text_seq_length``; a learned one also fixes
    the frame size at the transformer's sample size.

    Raises:
        CaptureError: The pipeline has no CogVideoX transformer, or is video-to-video on a 1.5 transformer.
    """
    cls = type(pipe).__name__
    model = getattr(pipe, "transformer", None)
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "patch_size"):
        raise CaptureError(f"{cls} has no CogVideoX transformer")
    v15 = config.get("patch_size_t") is not None
    rope = bool(config.get("use_rotary_positional_embeddings", False))
    if cls == T2V_PIPELINE:
        name = "cogvideox1.5-5b" if v15 else "cogvideox-5b" if rope else "cogvideox-2b"
    elif cls == I2V_PIPELINE:
        name = "cogvideox1.5-5b-i2v" if v15 else "cogvideox-5b-i2v"
    elif v15:
        raise CaptureError(V15_V2V_REFUSAL)
    else:
        name = "cogvideox-v2v"
    spatial = int(getattr(pipe, "vae_scale_factor_spatial", 8))
    temporal = int(getattr(pipe, "vae_scale_factor_temporal", 4))
    learned = bool(config.get("use_learned_positional_embeddings", False))
    return VARIANTS[name].replace(
        pixels_per_cell=spatial * int(config.patch_size),
        temporal_factor=temporal,
        latent_frames_per_cell=int(config.get("patch_size_t") or 1),
        text_length=int(config.get("max_text_seq_length", TEXT_LENGTH)) if not rope or learned else None,
        fixed_size=(int(config.sample_height) * spatial, int(config.sample_width) * spatial) if learned else None,
    )


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """The one transformer."""
    return [(None, pipe.transformer)]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.transformer_blocks[i].attn1`` for every block, in order.

    Raises:
        CaptureError: Not a CogVideoX transformer (no ``transformer_blocks`` of ``attn1`` with ``norm_q``/``norm_k``).
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not a CogVideoX transformer")
    found = []
    for i, block in enumerate(blocks):
        attn = getattr(block, "attn1", None)
        name = variant.block_name(i, block_list)
        if attn is None or not all(isinstance(getattr(attn, n, None), nn.Module) for n in ("norm_q", "norm_k")):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k: not a CogVideoX joint attention")
        found.append(AttentionSite(i, name, attn, int(attn.heads)))
    return found


def _words(slots: Mapping[str, Any]) -> AttentionInputs:
    """q and k exactly as ``CogVideoXAttnProcessor2_0`` handed them to the softmax.

    Slots: ``call`` (the ``attn1`` call's arguments: ``encoder_hidden_states`` says how many text rows lead
    the sequence), ``query`` / ``key`` (``norm_q`` / ``norm_k``'s outputs, ``[batch, head, text + video,
    head_dim]``). The measure runs when ``to_out.0`` is called, after the softmax: by then the processor
    has rotated the video rows of these very tensors in place (RoPE models), so they are what it consumed.
    """
    call: CallArgs = slots["call"]
    text = call.kwargs.get("encoder_hidden_states", call.args[1] if len(call.args) > 1 else None)
    if not isinstance(text, torch.Tensor):
        raise CaptureError("attn1 was called without encoder_hidden_states: not CogVideoX's joint attention")
    n_text = int(text.shape[1])
    query = slots["query"][:, :, n_text:]  # [batch, head, video, head_dim]
    return AttentionInputs("joint", query, slots["key"], text_keys=slice(0, n_text))


#: Where the measure runs: the output projection's call, after the softmax (and after the in-place RoPE).
AFTER_SOFTMAX = "to_out.0"
_PROBE = Probe(
    (
        HookPoint("call", "", "call"),
        HookPoint("query", "norm_q"),
        HookPoint("key", "norm_k"),
        HookPoint("after_softmax", AFTER_SOFTMAX, "call"),
    ),
    (Measure("words", "after_softmax", _words),),
)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """A pre-hook on ``attn1`` (the text length), ``norm_q``/``norm_k``'s outputs, a pre-hook on ``to_out.0``
    (the measure); no image branch."""
    if image_map:
        raise CaptureError(f"{variant.name} has no image branch: image_map is not available")
    return _PROBE


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """``hidden_states`` ``[batch, frame, channel, height, width]`` and ``timestep`` of a transformer call."""
    hidden = kwargs.get("hidden_states", args[0] if args else None)
    timestep = kwargs.get("timestep", args[2] if len(args) > 2 else None)
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 5:
        raise CaptureError("the transformer was called without 5-D hidden_states [batch, frame, channel, y, x]")
    config: Any = transformer.config
    p, p_t = int(config.patch_size), int(config.patch_size_t or 1)
    batch, frames, _, height, width = hidden.shape
    t = timestep if isinstance(timestep, torch.Tensor) else None
    return TransformerCall.of_patches(batch, (frames, height, width), (p_t, p), t)


# -- loading ----------------------------------------------------------------------------------------------
#: The diffusers module of every pipeline class (imported where used).
_MODULES = {
    T2V_PIPELINE: "diffusers.pipelines.cogvideo.pipeline_cogvideox",
    I2V_PIPELINE: "diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video",
    V2V_PIPELINE: "diffusers.pipelines.cogvideo.pipeline_cogvideox_video2video",
}


def pipeline_class(class_name: str) -> Any:
    """The diffusers class of a CogVideoX pipeline class name (its module imported only now)."""
    return import_pipeline_class(class_name, _MODULES, "CogVideoX")


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint as the model cards do: every component in ``dtype`` (2B: float16, 5B and 1.5: bfloat16)."""
    return pipeline_class(class_name).from_pretrained(location, dtype=dtype, local_files_only=local_files_only)


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """CogVideoX's schedulers are DDIM/DPM (v-prediction) with their own ``snr_shift_scale``: no flow shift.

    Raises:
        ConfigError: Always; ``generation.flow_shift`` means nothing here.
    """
    raise ConfigError(
        f"generation.flow_shift applies to flow-matching schedulers (Wan); {type(pipe).__name__} uses "
        f"{type(pipe.scheduler).__name__}: remove flow_shift (got {flow_shift})"
    )


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder, transformer and VAE to ``dtype`` (the model cards run all of them in it)."""
    cast_components(pipe, dtype, ("text_encoder", "transformer", "vae"))


__all__ = [
    "BLOCK_LIST",
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

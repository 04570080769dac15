"""The torch side of the LTX-2 family: recognise its pipelines, hook ``attn2`` and its mask, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime` (the facts are in :mod:`.facts`):

* **Attention.** ``transformer_blocks.N.attn2`` is cross-attention without RoPE (a call with a
  ``query_rotary_emb`` is refused). Forward hooks on ``attn2.norm_q``/``norm_k`` receive the q and k the
  softmax consumes (``[batch, token, heads · head_dim]``, after the RMS norms across heads); a forward
  pre-hook with kwargs on ``attn2`` itself receives the ``attention_mask`` the block passes, the transformer's
  ``[batch, 1, key]`` bias ``(1 − mask) · −10000`` (0 on every key: the connector's mask is all ones), which
  the word math adds to its logits exactly as the attention does.
* **Text keys.** The connector puts the prompt's real tokens first and learned registers behind them
  (the family's ``text.key_order`` says so); a connector without registers would keep the left padding in
  front and is refused.
* **Passes.** One call per step on ``[uncond, cond]`` (batched guidance), then the perturbed calls under
  ``uncond_stg`` / ``uncond_modality``, which the variant's ``ignored_passes`` leave out.
* **Grid.** ``hidden_states`` is packed ``[batch, video_token, channel]`` (the audio stream is a separate
  argument); the pipelines pass the latent grid as ``num_frames``/``height``/``width``. ``LTX2ConditionPipeline``
  overwrites the tokens of a condition at latent index 0 in place (per-token timesteps ``t · (1 − strength)``
  there) and appends those of a condition at index > 0 ("keyframes") after the grid's: a call with more tokens
  than the grid's ``f · y · x`` keeps only the first ``f · y · x`` query rows (the measure reads the count in
  the call's facts); the keyframe tokens are no grid cell and are left out of the maps.
* **Call.** The batch's ``image`` or ``video`` becomes the condition pipeline's
  ``conditions=[LTX2VideoCondition(frames, index=0, strength=1)]`` (:func:`adapt_call`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families.common.parts import (
    call_argument,
    cast_components,
    grid_of_sizes,
    import_pipeline_class,
    locate_normed_attention,
    normed_cross_probe,
    packed_call,
    packed_tokens,
    packed_variant,
    per_key_bias,
)
from attention_visual.families.interface import (
    CALL_FACTS_SLOT,
    AttentionInputs,
    AttentionSite,
    Probe,
    TransformerCall,
)
from attention_visual.families.ltx2.facts import CONDITION_PIPELINE, I2V_PIPELINE, T2V_PIPELINE, TITLE, VARIANTS
from attention_visual.families.spec import Variant

_BY_CLASS = {v.pipeline_class: v for v in VARIANTS.values()}
# LTX2VideoTransformer3DModel.forward(hidden_states, audio_hidden_states, encoder_hidden_states,
#     audio_encoder_hidden_states, timestep, audio_timestep, sigma, audio_sigma, encoder_attention_mask,
#     audio_encoder_attention_mask, num_frames, height, width, ...)
_POSITIONS = {"hidden_states": 0, "timestep": 4, "sigma": 6, "num_frames": 10, "height": 11, "width": 12}
_GRID_TOKENS = "grid_tokens"
"""The call's facts: how many leading video tokens are the grid's (the rest are appended keyframe tokens)."""
_GRID_ARGUMENTS = ("num_frames", "height", "width")
# LTX2Attention.forward(hidden_states, encoder_hidden_states, attention_mask, query_rotary_emb, key_rotary_emb)
_MASK_POSITION, _ROPE_POSITION = 2, 3


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded LTX-2 pipeline, with its VAE's factors and its transformer's patch.

    Raises:
        CaptureError: No transformer, or a text connector without learned registers (its keys would keep the
            left padding in front of the prompt's tokens).
    """
    cls = type(pipe).__name__
    connector = getattr(getattr(pipe, "connectors", None), "video_connector", None)
    if getattr(connector, "learnable_registers", None) is None:
        raise CaptureError(
            f"{cls}: its text connector has no learned registers, so the prompt's tokens are not the first text "
            "keys (every LTX-2 checkpoint has 128); this connector is not supported"
        )
    return packed_variant(_BY_CLASS[cls], pipe)


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """The one transformer."""
    return [(None, pipe.transformer)]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.<block_list>[i].attn2`` for every block, in order.

    Raises:
        CaptureError: No such list, or a block without ``attn2.norm_q``/``norm_k`` and ``heads``.
    """
    return locate_normed_attention(transformer, variant, block_list, TITLE)


def _words(slots: Mapping[str, Any]) -> AttentionInputs:
    """q, k and the key bias of one ``attn2`` call (no mask passed: every key is attended, bias 0)."""
    query, key, call = slots["query"], slots["key"], slots["call"]  # query: [batch, video_token, channel]
    grid_tokens = slots[CALL_FACTS_SLOT].get(_GRID_TOKENS)
    if grid_tokens is not None:  # appended keyframe tokens after the grid's: not grid cells
        query = query[:, :grid_tokens]
    if call_argument(call.args, call.kwargs, "query_rotary_emb", _ROPE_POSITION) is not None:
        raise CaptureError("attn2 got a query_rotary_emb: this LTX-2 transformer rotates its text attention")
    bias = per_key_bias(call_argument(call.args, call.kwargs, "attention_mask", _MASK_POSITION), key)
    return AttentionInputs("cross", query, key, key_bias=bias)  # bias: [batch, key] or None


_PROBE = normed_cross_probe(_words)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """``attn2``'s call (its mask), then ``norm_q``/``norm_k`` (q and k); LTX-2 has no image branch."""
    if image_map:
        raise CaptureError(f"image_map needs an attention with an image branch; {variant.name} has none")
    return _PROBE


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """Batch, grid and timestep of one call; per-token timesteps say which frames are conditioning.

    Tokens beyond the grid's ``f · y · x`` (keyframes the condition pipeline appends; another pipeline's call
    with them is refused) are left out: the call's facts tell the measure how many query rows are the grid's,
    and the per-token timesteps are cut to them.
    The step's timestep is ``sigma`` (``[batch]``, which the pipelines pass beside the per-token ``timestep``):
    the pass clock checks it, and conditioning frames are those held below it, so a condition that covers every
    latent frame (a video as long as the output) is labelled too and the clock does not read its 0.

    Raises:
        CaptureError: No grid arguments, fewer tokens than the grid, or more outside the condition pipeline.
    """
    batch, tokens = packed_tokens(call_argument(args, kwargs, "hidden_states", _POSITIONS["hidden_states"]), TITLE)
    grid = grid_of_sizes(transformer, (call_argument(args, kwargs, n, _POSITIONS[n]) for n in _GRID_ARGUMENTS))
    if grid is None:
        raise CaptureError("the LTX-2 transformer was called without num_frames/height/width (the latent grid)")
    cells = grid[0] * grid[1] * grid[2]
    appended = tokens > cells and variant.pipeline_class == CONDITION_PIPELINE  # keyframe tokens after the grid's
    kept = cells if appended else tokens  # another count: packed_call refuses it
    timestep = call_argument(args, kwargs, "timestep", _POSITIONS["timestep"])  # [batch] or [batch, token]
    if appended and isinstance(timestep, torch.Tensor) and timestep.ndim == 2 and timestep.shape[1] == tokens:
        timestep = timestep[:, :kept]  # the grid's tokens lead
    sigma = call_argument(args, kwargs, "sigma", _POSITIONS["sigma"])  # [batch]: the step's timestep
    step = sigma if isinstance(sigma, torch.Tensor) and sigma.ndim == 1 and sigma.numel() == batch else None
    call = packed_call(batch, kept, grid, timestep, TITLE, step_timestep=step)
    return replace(call, facts={_GRID_TOKENS: kept}) if appended else call


# -- loading ----------------------------------------------------------------------------------------------
#: The diffusers module of every pipeline class (imported where used).
_MODULES = {
    T2V_PIPELINE: "diffusers.pipelines.ltx2.pipeline_ltx2",
    I2V_PIPELINE: "diffusers.pipelines.ltx2.pipeline_ltx2_image2video",
    CONDITION_PIPELINE: "diffusers.pipelines.ltx2.pipeline_ltx2_condition",
}


def pipeline_class(class_name: str) -> Any:
    """The diffusers class of an LTX-2 pipeline class name."""
    return import_pipeline_class(class_name, _MODULES, TITLE)


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint in ``dtype`` (Lightricks: bfloat16 for every component on a GPU)."""
    return pipeline_class(class_name).from_pretrained(location, dtype=dtype, local_files_only=local_files_only)


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """LTX-2's scheduler shifts with the video's length (or, distilled, not at all): ``flow_shift`` has no meaning.

    Raises:
        ConfigError: Always.
    """
    raise ConfigError(
        f"generation.flow_shift ({flow_shift}) sets Wan's UniPC shift; LTX-2's FlowMatchEulerDiscreteScheduler "
        "shifts by the video's length itself: leave flow_shift unset"
    )


def adapt_call(pipe: Any, variant: Variant, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The condition pipeline takes the prompt's ``image`` or ``video`` (one: the config checks) as a condition at 0.

    ``LTX2VideoCondition(frames, index=0, strength=1)``: the frames overwrite the first latent frames' tokens
    (an image: frame 0; a video: as many latent frames as it covers), held clean. An image is re-compressed
    with H.264 at the model's CRF through PyAV (as Lightricks do; ``requires``); a video is not. Without an
    input the call has no condition (text to video). Other pipelines' arguments pass unchanged.
    """
    if variant.pipeline_class != CONDITION_PIPELINE:
        return kwargs
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    image, video = kwargs.pop("image", None), kwargs.pop("video", None)
    frames = image if image is not None else video  # one PIL image, or a list of PIL frames
    if frames is not None:
        kwargs["conditions"] = [LTX2VideoCondition(frames=frames, index=0, strength=1.0)]
    return kwargs


_COMPONENTS = ("text_encoder", "connectors", "transformer", "vae", "audio_vae", "vocoder")


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder, connectors, transformer, VAEs and vocoder to ``dtype`` (bfloat16 on a GPU)."""
    cast_components(pipe, dtype, _COMPONENTS)


__all__ = [
    "adapt_call",
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

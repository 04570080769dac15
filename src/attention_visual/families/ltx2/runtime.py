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
  argument); the pipelines pass the latent grid as ``num_frames``/``height``/``width``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families.interface import (
    AttentionInputs,
    AttentionSite,
    HookPoint,
    Measure,
    Probe,
    TransformerCall,
)
from attention_visual.families.ltx2.facts import I2V_PIPELINE, T2V_PIPELINE, VARIANTS
from attention_visual.families.spec import Variant

_BY_CLASS = {v.pipeline_class: v for v in VARIANTS.values()}
# LTX2VideoTransformer3DModel.forward(hidden_states, audio_hidden_states, encoder_hidden_states,
#     audio_encoder_hidden_states, timestep, audio_timestep, sigma, audio_sigma, encoder_attention_mask,
#     audio_encoder_attention_mask, num_frames, height, width, ...)
_POSITIONS = {"hidden_states": 0, "timestep": 4, "num_frames": 10, "height": 11, "width": 12}
# LTX2Attention.forward(hidden_states, encoder_hidden_states, attention_mask, query_rotary_emb, key_rotary_emb)
_MASK_POSITION, _ROPE_POSITION = 2, 3


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded LTX-2 pipeline, with its VAE's factors and its transformer's patch.

    Raises:
        CaptureError: No transformer, or a text connector without learned registers (its keys would keep the
            left padding in front of the prompt's tokens).
    """
    cls = type(pipe).__name__
    model = getattr(pipe, "transformer", None)
    if model is None:
        raise CaptureError(f"{cls} has no transformer")
    connector = getattr(getattr(pipe, "connectors", None), "video_connector", None)
    if getattr(connector, "learnable_registers", None) is None:
        raise CaptureError(
            f"{cls}: its text connector has no learned registers, so the prompt's tokens are not the first text "
            "keys (every LTX-2 checkpoint has 128); this connector is not supported"
        )
    base = _BY_CLASS[cls]
    patch, patch_t = int(model.config.patch_size), int(model.config.patch_size_t)
    return base.replace(
        pixels_per_cell=int(pipe.vae_spatial_compression_ratio) * patch,
        temporal_factor=int(pipe.vae_temporal_compression_ratio),
        latent_frames_per_cell=patch_t,
    )


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """The one transformer."""
    return [(None, pipe.transformer)]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.<block_list>[i].attn2`` for every block, in order.

    Raises:
        CaptureError: No such list, or a block without ``attn2.norm_q``/``norm_k`` and ``heads``.
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not an LTX-2 transformer")
    found = []
    for i, block in enumerate(blocks):
        attn2 = getattr(block, "attn2", None)
        name = variant.block_name(i, block_list)
        if attn2 is None or not all(isinstance(getattr(attn2, n, None), nn.Module) for n in ("norm_q", "norm_k")):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k: not an LTX-2 cross-attention")
        if not hasattr(attn2, "heads"):
            raise CaptureError(f"{name} does not say its number of heads")
        found.append(AttentionSite(i, name, attn2, int(attn2.heads)))
    return found


def _call_argument(call: Any, name: str, position: int) -> Any:
    return call.kwargs.get(name, call.args[position] if len(call.args) > position else None)


def _words(slots: Mapping[str, Any]) -> AttentionInputs:
    """q, k and the key bias of one ``attn2`` call (no mask passed: every key is attended, bias 0)."""
    query, key, call = slots["query"], slots["key"], slots["call"]
    if _call_argument(call, "query_rotary_emb", _ROPE_POSITION) is not None:
        raise CaptureError("attn2 got a query_rotary_emb: this LTX-2 transformer rotates its text attention")
    mask = _call_argument(call, "attention_mask", _MASK_POSITION)
    if mask is None:
        return AttentionInputs("cross", query, key)
    if mask.ndim == 3 and mask.shape[1] == 1 and mask.shape[-1] == key.shape[1]:
        return AttentionInputs("cross", query, key, key_bias=mask[:, 0])  # [batch, key]: every query and head
    raise CaptureError(
        f"attn2 got an attention_mask of shape {tuple(mask.shape)}; the capture reads a per-key bias "
        f"[batch, 1, {key.shape[1]}] (the transformer's own, from a [batch, key] encoder_attention_mask)"
    )


_PROBE = Probe(
    (HookPoint("call", "", when="call"), HookPoint("query", "norm_q"), HookPoint("key", "norm_k")),
    (Measure("words", "key", _words),),
)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """``attn2``'s call (its mask), then ``norm_q``/``norm_k`` (q and k); LTX-2 has no image branch."""
    if image_map:
        raise CaptureError(f"image_map needs an attention with an image branch; {variant.name} has none")
    return _PROBE


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
    position = _POSITIONS[name]
    return kwargs.get(name, args[position] if len(args) > position else None)


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """Batch, grid and timestep of one call; per-token timesteps say which frames are conditioning."""
    hidden = _argument(args, kwargs, "hidden_states")
    timestep = _argument(args, kwargs, "timestep")
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3:
        raise CaptureError("the LTX-2 transformer was called without packed hidden_states [batch, token, channel]")
    batch, tokens = int(hidden.shape[0]), int(hidden.shape[1])
    sizes = [_argument(args, kwargs, n) for n in ("num_frames", "height", "width")]
    if not all(isinstance(s, int) for s in sizes):
        raise CaptureError("the LTX-2 transformer was called without num_frames/height/width (the latent grid)")
    config: Any = transformer.config
    frames, height, width = sizes
    grid = (frames // int(config.patch_size_t), height // int(config.patch_size), width // int(config.patch_size))
    if grid[0] * grid[1] * grid[2] != tokens:
        raise CaptureError(f"the LTX-2 transformer got {tokens} video tokens for a grid of {grid} (frame, y, x)")
    per_token = isinstance(timestep, torch.Tensor) and timestep.ndim == 2 and timestep.shape[1] == tokens
    return TransformerCall(
        batch=batch,
        grid=grid,
        timestep=timestep if isinstance(timestep, torch.Tensor) else None,
        conditioning_frames=held_frames(timestep[0], grid) if per_token else None,
    )


def held_frames(timestep: torch.Tensor, grid: tuple[int, int, int]) -> tuple[int, ...]:
    """Map frames whose tokens all carry a timestep below the call's largest (conditioning inputs).

    ``timestep``: one item's per-token timesteps ``[token]`` (``LTX2ImageToVideoPipeline``: ``t · (1 − mask)``,
    0 on the image's latent frame). One read-back.

    Example:
        >>> held_frames(torch.tensor([0.0] * 6 + [900.0] * 12), (3, 2, 3))
        (0,)
    """
    per_frame = timestep.detach().to(device="cpu", dtype=torch.float64).view(grid[0], -1).amax(dim=1)  # [frame]
    return tuple(int(f) for f in torch.nonzero(per_frame < per_frame.max()).flatten())


# -- loading ----------------------------------------------------------------------------------------------
def pipeline_class(class_name: str) -> Any:
    """The diffusers class of an LTX-2 pipeline class name."""
    if class_name == T2V_PIPELINE:
        from diffusers.pipelines.ltx2.pipeline_ltx2 import LTX2Pipeline

        return LTX2Pipeline
    if class_name == I2V_PIPELINE:
        from diffusers.pipelines.ltx2.pipeline_ltx2_image2video import LTX2ImageToVideoPipeline

        return LTX2ImageToVideoPipeline
    raise ValueError(f"{class_name} is not an LTX-2 pipeline class")


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


_COMPONENTS = ("text_encoder", "connectors", "transformer", "vae", "audio_vae", "vocoder")


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder, connectors, transformer, VAEs and vocoder to ``dtype`` (bfloat16 on a GPU)."""
    for name in _COMPONENTS:
        module = pipe.components.get(name)
        if module is not None and module.dtype != dtype:  # diffusers warns on every dtype .to(), even a no-op
            module.to(dtype)


__all__ = [
    "cast",
    "describe_pipeline",
    "experts",
    "from_pretrained",
    "held_frames",
    "locate",
    "pipeline_class",
    "probe",
    "read_call",
    "set_flow_shift",
]

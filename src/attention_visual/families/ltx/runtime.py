"""The torch side of the LTX-Video family: recognise its pipelines, hook ``attn2`` and its mask, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime` (the facts are in :mod:`.facts`):

* **Attention.** ``transformer_blocks.N.attn2`` is cross-attention without RoPE. Forward hooks on
  ``attn2.norm_q``/``norm_k`` receive the q and k the softmax consumes (``[batch, token, heads · head_dim]``,
  after the RMS norms across heads); a forward pre-hook with kwargs on ``attn2`` itself receives the
  ``attention_mask`` the block passes, the transformer's ``[batch, 1, key]`` bias (0 / −10000, in the model's
  dtype), which the word math adds to its logits exactly as the attention does (masked keys: probability 0).
* **Passes.** One call per step on ``[uncond, cond]`` (batched guidance; the facts say so).
* **Grid.** ``hidden_states`` is packed ``[batch, video_token, channel]``. ``LTXPipeline`` and
  ``LTXImageToVideoPipeline`` pass the latent grid as ``num_frames``/``height``/``width``;
  ``LTXConditionPipeline`` passes only ``video_coords`` (``[batch, 3, token]``: time in seconds, y and x in
  pixels), and prepends the tokens of its conditioning items at frame indices > 0 before the video's.
  Those tokens are no video position: every item is a whole latent grid, so they are whole leading map
  frames, dropped from the maps. The video's tokens are the trailing run that starts at the first token
  at time 0 (an item at frame index ``k ≥ 1`` starts at time ``k / frame_rate``), and must form the regular
  frame-major grid; this reads the coordinates back once per call.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    AttentionInputs,
    AttentionSite,
    Probe,
    TransformerCall,
)
from attention_visual.families.ltx.facts import CONDITION_PIPELINE, I2V_PIPELINE, T2V_PIPELINE, TITLE, VARIANTS
from attention_visual.families.spec import Variant

_BY_CLASS = {v.pipeline_class: v for v in VARIANTS.values()}
# LTXVideoTransformer3DModel.forward(hidden_states, encoder_hidden_states, timestep, encoder_attention_mask,
#                                    num_frames, height, width, rope_interpolation_scale, video_coords, ...)
_POSITIONS = {"hidden_states": 0, "timestep": 2, "num_frames": 4, "height": 5, "width": 6, "video_coords": 8}
# LTXAttention.forward(hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)
_MASK_POSITION = 2


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded LTX-Video pipeline, with its VAE's factors and its transformer's patch.

    Raises:
        CaptureError: No transformer, or an ``LTXConditionPipeline`` whose scheduler shifts dynamically
            (diffusers' condition pipeline passes its own timesteps and no ``mu``: it cannot run).
    """
    cls = type(pipe).__name__
    check_scheduler(pipe)
    return packed_variant(_BY_CLASS[cls], pipe)


def check_scheduler(pipe: Any) -> None:
    """Refuse an ``LTXConditionPipeline`` with a dynamically shifting scheduler (LTX-Video 0.9.0/0.9.1's).

    Raises:
        CaptureError: In one line, with the fix (``t2v``/``i2v``, or a 0.9.5+ checkpoint).
    """
    config = getattr(getattr(pipe, "scheduler", None), "config", {})
    if type(pipe).__name__ == CONDITION_PIPELINE and config.get("use_dynamic_shifting", False):
        raise CaptureError(
            "LTXConditionPipeline needs a scheduler without dynamic shifting (LTX-Video 0.9.5 and later); this "
            "checkpoint's shifts with the sequence length (0.9.0/0.9.1): run it as pipeline t2v or i2v"
        )


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
    query, key, call = slots["query"], slots["key"], slots["call"]
    bias = per_key_bias(call_argument(call.args, call.kwargs, "attention_mask", _MASK_POSITION), key)
    if bias is None:
        bias = torch.zeros(key.shape[:2], dtype=torch.float32, device=key.device)  # [batch, key]
    return AttentionInputs("cross", query, key, key_bias=bias)


_PROBE = normed_cross_probe(_words)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """``attn2``'s call (its mask), then ``norm_q``/``norm_k`` (q and k); LTX has no image branch."""
    if image_map:
        raise CaptureError(f"image_map needs an attention with an image branch; {variant.name} has none")
    return _PROBE


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
    return call_argument(args, kwargs, name, _POSITIONS[name])


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """Batch, grid (prepended conditioning frames included, to be dropped) and timestep of one call."""
    batch, tokens = packed_tokens(_argument(args, kwargs, "hidden_states"), TITLE)
    coords = _argument(args, kwargs, "video_coords")
    if isinstance(coords, torch.Tensor):
        drop, grid = grid_from_coords(coords[0], variant.pixels_per_cell)
    else:
        sizes = grid_of_sizes(transformer, (_argument(args, kwargs, n) for n in ("num_frames", "height", "width")))
        if sizes is None:
            raise CaptureError("the LTX transformer was called with neither num_frames/height/width nor video_coords")
        drop, grid = 0, sizes
    return packed_call(batch, tokens, grid, _argument(args, kwargs, "timestep"), TITLE, drop)


def grid_from_coords(coords: torch.Tensor, pixels_per_cell: int) -> tuple[int, tuple[int, int, int]]:
    """``(leading frames to drop, (frame, y, x))`` from one item's ``video_coords`` ``[3, token]``.

    The video's tokens are the trailing run from the first token at time 0; before them, whole latent grids
    of prepended conditioning tokens. One read-back of ``3 × token`` numbers.

    Raises:
        CaptureError: The trailing tokens are not a regular frame-major grid, or the prepended ones not whole
            frames of it.

    Example:
        >>> y, x = torch.meshgrid(torch.arange(2.0), torch.arange(3.0), indexing="ij")
        >>> def frame(t):  # one latent frame of 2 x 3 tokens at time t (seconds), y and x in pixels
        ...     return torch.stack([torch.full((6,), t), y.flatten() * 32, x.flatten() * 32])
        >>> item, video = frame(0.04), torch.cat([frame(0.0), frame(0.04)], 1)  # an item at 1/25 s first
        >>> grid_from_coords(torch.cat([item, video], 1), 32)
        (1, (3, 2, 3))
    """
    c = coords.detach().to(device="cpu", dtype=torch.float64)  # [3, token]
    at_zero = torch.nonzero(c[0] == 0).flatten()
    if at_zero.numel() == 0:
        raise CaptureError("video_coords has no token at time 0: no video tokens to map")
    start = int(at_zero[0])
    ys = c[1, start:] / pixels_per_cell
    xs = c[2, start:] / pixels_per_cell
    n = ys.numel()
    height, width = int(ys.max()) + 1, int(xs.max()) + 1
    frames = n // (height * width)
    index = torch.arange(n, dtype=torch.float64)
    regular = (
        frames * height * width == n
        and torch.equal(ys, torch.div(index, width, rounding_mode="floor") % height)
        and torch.equal(xs, index % width)
        and bool((c[0, start:].view(frames, height * width) == c[0, start : start + n : height * width, None]).all())
    )
    if not regular or start % (height * width):
        raise CaptureError(
            f"video_coords: the {n} tokens from the first at time 0 are not a frame-major grid of "
            f"{pixels_per_cell}-pixel cells after whole frames of conditioning tokens ({start} tokens before them)"
        )
    lead = start // (height * width)
    return lead, (lead + frames, height, width)


# -- loading ----------------------------------------------------------------------------------------------
#: The diffusers module of every pipeline class (imported where used).
_MODULES = {
    T2V_PIPELINE: "diffusers.pipelines.ltx.pipeline_ltx",
    I2V_PIPELINE: "diffusers.pipelines.ltx.pipeline_ltx_image2video",
    CONDITION_PIPELINE: "diffusers.pipelines.ltx.pipeline_ltx_condition",
}


def pipeline_class(class_name: str) -> Any:
    """The diffusers class of an LTX-Video pipeline class name."""
    return import_pipeline_class(class_name, _MODULES, "LTX-Video")


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint in ``dtype`` (Lightricks: bfloat16 for every component on a GPU).

    Raises:
        ConfigError: ``LTXConditionPipeline`` on a checkpoint whose scheduler shifts dynamically.
    """
    pipe = pipeline_class(class_name).from_pretrained(location, dtype=dtype, local_files_only=local_files_only)
    try:
        check_scheduler(pipe)
    except CaptureError as exc:
        raise ConfigError(f"{location}: {exc}") from None
    return pipe


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """LTX-Video's scheduler shifts with the sequence length (or not at all): ``flow_shift`` has no meaning.

    Raises:
        ConfigError: Always.
    """
    raise ConfigError(
        f"generation.flow_shift ({flow_shift}) sets Wan's UniPC shift; LTX-Video's FlowMatchEulerDiscreteScheduler "
        "shifts by the video's length itself: leave flow_shift unset"
    )


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder, transformer and VAE to ``dtype`` (LTX-Video runs all three in bfloat16)."""
    cast_components(pipe, dtype, ("text_encoder", "transformer", "vae"))


__all__ = [
    "cast",
    "check_scheduler",
    "describe_pipeline",
    "experts",
    "from_pretrained",
    "grid_from_coords",
    "locate",
    "pipeline_class",
    "probe",
    "read_call",
    "set_flow_shift",
]

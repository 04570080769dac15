"""The torch side of the HunyuanVideo-1.5 family: recognise its pipelines, find and hook ``attn``, read a call.

Implements :class:`~attention_visual.families.runtime.FamilyRuntime`:

* **Attention.** Every ``transformer_blocks.N.attn`` is a joint attention (``HunyuanVideo15AttnProcessor2_0``).
  Four hook points, in firing order: a forward pre-hook with kwargs on ``attn`` (``image_rotary_emb``: the
  RoPE tables; ``attention_mask``: the context's boolean mask, valid tokens first), forward hooks on
  ``norm_q`` and ``norm_k`` (the video rows, ``[batch, video_token, head, head_dim]``, before RoPE) and on
  ``norm_added_k`` (the context keys, no RoPE). The measure runs at ``norm_added_k``: it rotates the video
  q and k with diffusers' own ``apply_rotary_emb`` exactly as the processor does (``sequence_dim=1``), puts
  the keys in the processor's order ``[video, context]`` and turns the mask into the logits' bias (the
  processor pads it with ``True`` for the video keys; a query's row is the keys' mask). Nothing is patched,
  no processor replaced; the hooks never write to the model's tensors.
* **Where the prompt's keys are.** Per call, from the transformer's own arguments (:func:`read_call`): the
  valid image tokens (all of ``image_embeds`` unless they are all zero: text-to-video), the valid byT5
  tokens (``encoder_attention_mask_2``) and the valid Qwen2.5-VL tokens (``encoder_attention_mask``, a
  prefix: the tokenizer pads on the right). The transformer moves each stream's valid tokens to the front
  of the context in that order, so the text keys are ``video + image + glyph + [0, text)``; ``<image>``
  and ``<glyph>`` are the shares of the groups before them.
* **Passes.** One call per guidance pass under ``cache_context("pred_cond")`` / ``("pred_uncond")`` (the
  guider's names), no step index (counted, checked against the scheduler).
* **Grid.** ``hidden_states`` is ``[batch, channel, frame, height, width]``; patch ``p_t × p × p`` (1 × 1 × 1
  in the published checkpoints), frame-major.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from diffusers.models.embeddings import apply_rotary_emb
from torch import nn

from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families.common.parts import cast_components, import_pipeline_class, set_euler_shift
from attention_visual.families.hunyuan15.facts import (
    I2V_PIPELINE,
    SYSTEM_MESSAGE,
    T2V_PIPELINE,
    TEMPLATE_CUT,
    TEXT_LENGTH,
    VARIANTS,
    resolution_buckets,
)
from attention_visual.families.interface import (
    CALL_FACTS_SLOT,
    AttentionInputs,
    AttentionSite,
    CallArgs,
    HookPoint,
    Measure,
    Probe,
    TransformerCall,
)
from attention_visual.families.spec import Variant

#: ``transformer_blocks`` is the one list of blocks; ``attn`` is each block's joint attention.
BLOCK_LIST = "transformer_blocks"
_VARIANT_OF = {T2V_PIPELINE: "hunyuanvideo1.5-t2v", I2V_PIPELINE: "hunyuanvideo1.5-i2v"}
#: The diffusers module of every pipeline class (imported where used).
_MODULES = {
    T2V_PIPELINE: "diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5",
    I2V_PIPELINE: "diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5_image2video",
}
#: The order of the context's valid token groups (the transformer's concatenation), then the text keys.
_GROUPS = ("image", "glyph")


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded HunyuanVideo-1.5 pipeline, from its class, its VAE factors and its transformer.

    Raises:
        CaptureError: No HunyuanVideo-1.5 transformer, or a pipeline whose prompt template differs from the
            published one (another system message, template cut or text length: the words' keys would be
            elsewhere).
    """
    cls = type(pipe).__name__
    config = getattr(getattr(pipe, "transformer", None), "config", None)
    if config is None or not hasattr(config, "rope_axes_dim"):
        raise CaptureError(f"{cls} has no HunyuanVideo-1.5 transformer")
    template = (
        getattr(pipe, "system_message", None),
        getattr(pipe, "prompt_template_encode_start_idx", None),
        getattr(pipe, "tokenizer_max_length", None),
    )
    if template != (SYSTEM_MESSAGE, TEMPLATE_CUT, TEXT_LENGTH):
        raise CaptureError(
            f"{cls} wraps the prompt differently from the published pipelines (system message, a template cut of "
            f"{TEMPLATE_CUT} tokens, {TEXT_LENGTH} text tokens): its words' keys cannot be located"
        )
    spatial = int(getattr(pipe, "vae_scale_factor_spatial", 16))
    variant = VARIANTS[_VARIANT_OF[cls]].replace(
        pixels_per_cell=spatial * int(config.patch_size),
        temporal_factor=int(getattr(pipe, "vae_scale_factor_temporal", 4)),
        latent_frames_per_cell=int(config.patch_size_t),
    )
    if cls == I2V_PIPELINE:
        variant = variant.replace(frame_sizes=resolution_buckets(int(pipe.target_size), spatial))
    return variant


def experts(pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
    """The one transformer."""
    return [(None, pipe.transformer)]


def locate(transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
    """``transformer.transformer_blocks[i].attn`` for every block, in order.

    Raises:
        CaptureError: Not a HunyuanVideo-1.5 transformer (no blocks whose ``attn`` has ``norm_q``, ``norm_k``
            and ``norm_added_k``).
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(
            f"{type(transformer).__name__} has no {block_list!r} list: not a HunyuanVideo-1.5 transformer"
        )
    found = []
    for i, block in enumerate(blocks):
        attn = getattr(block, "attn", None)
        name = variant.block_name(i, block_list)
        norms = ("norm_q", "norm_k", "norm_added_k")
        if attn is None or not all(isinstance(getattr(attn, n, None), nn.Module) for n in norms):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k/norm_added_k: not HunyuanVideo-1.5's")
        found.append(AttentionSite(i, name, attn, int(attn.heads)))
    return found


def _rotate(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """diffusers' ``apply_rotary_emb`` as ``HunyuanVideo15AttnProcessor2_0`` calls it (``[batch, token, head, d]``)."""
    # diffusers annotates the tables as tuple[Tensor] and the result as a tuple; it takes (cos, sin), returns a tensor
    out: torch.Tensor = apply_rotary_emb(x, rope, sequence_dim=1)  # type: ignore[arg-type,assignment]
    return out


def _words(slots: Mapping[str, Any]) -> AttentionInputs:
    """q and k as ``HunyuanVideo15AttnProcessor2_0`` hands them to the softmax, and its mask as a bias.

    Slots: ``call`` (the ``attn`` call's arguments), ``query`` / ``key`` (``norm_q`` / ``norm_k``'s outputs,
    the video rows ``[batch, video_token, head, head_dim]``), ``context_key`` (``norm_added_k``'s output,
    ``[batch, context_token, head, head_dim]``), and the call's key layout (:func:`read_call`).
    """
    call: CallArgs = slots["call"]
    counts: Mapping[str, int] = slots[CALL_FACTS_SLOT]
    mask = call.kwargs.get("attention_mask")  # [batch, context_token] bool, valid tokens first
    if not isinstance(mask, torch.Tensor):
        raise CaptureError("attn was called without attention_mask: not HunyuanVideo-1.5's joint attention")
    rope = call.kwargs.get("image_rotary_emb")
    query, key = slots["query"], slots["key"]  # [batch, video_token, head, head_dim]
    if rope is not None:  # exactly as the processor: the video rows of q and of k
        query, key = _rotate(query, rope), _rotate(key, rope)
    n = query.shape[1]
    keys = torch.cat([key, slots["context_key"]], dim=1).transpose(1, 2)  # [batch, head, key, head_dim]
    video = torch.ones(mask.shape[0], n, dtype=torch.bool, device=mask.device)
    valid = torch.cat([video, mask.to(torch.bool)], dim=1)  # [batch, key]: the processor's padded mask
    bias = torch.zeros(valid.shape, dtype=torch.float32, device=valid.device).masked_fill_(~valid, float("-inf"))
    groups, start = {}, n
    for group in _GROUPS:
        groups[group] = slice(start, start + counts[group])
        start += counts[group]
    text = slice(start, start + counts["text"])
    return AttentionInputs(
        "joint", query.transpose(1, 2), keys, text_keys=text, key_bias=bias, key_groups=groups
    )  # query: [batch, head, video_token, head_dim]


_PROBE = Probe(
    (
        HookPoint("call", "", "call"),
        HookPoint("query", "norm_q"),
        HookPoint("key", "norm_k"),
        HookPoint("context_key", "norm_added_k"),
    ),
    (Measure("words", "context_key", _words),),
)


def probe(variant: Variant, *, image_map: bool) -> Probe:
    """A pre-hook on ``attn`` (RoPE tables, mask), ``norm_q``/``norm_k``/``norm_added_k``'s outputs.

    ``<image>`` and ``<glyph>`` are key groups of the same measure (no separate image branch).

    Raises:
        CaptureError: ``image_map`` on text-to-video (no image tokens).
    """
    if image_map and not variant.has_image_map:
        raise CaptureError(f"{variant.name} has no image tokens: image_map is not available")
    return _PROBE


def read_call(
    variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TransformerCall:
    """Batch, grid, timestep and where the context's valid tokens lie (one read-back of three counts).

    Raises:
        CaptureError: Not a HunyuanVideo-1.5 call (no 5-D latents or no masks), the prompt's mask is not a
            prefix (a left-padding tokenizer: the words' keys would move), or batch items whose context
            layouts differ.
    """
    hidden = kwargs.get("hidden_states", args[0] if args else None)
    mask, mask_2 = kwargs.get("encoder_attention_mask"), kwargs.get("encoder_attention_mask_2")
    image = kwargs.get("image_embeds")
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 5:
        raise CaptureError("the transformer was called without 5-D hidden_states: not a HunyuanVideo-1.5 call")
    if not all(isinstance(t, torch.Tensor) for t in (mask, mask_2, image)):
        raise CaptureError(
            "the transformer was called without encoder_attention_mask(_2) or image_embeds: not a HunyuanVideo-1.5 "
            "pipeline call"
        )
    assert isinstance(mask, torch.Tensor) and isinstance(mask_2, torch.Tensor) and isinstance(image, torch.Tensor)
    config: Any = getattr(transformer, "config", None)
    p_t, p = int(config.patch_size_t), int(config.patch_size)
    batch, _, frames, height, width = hidden.shape
    text = mask.to(torch.bool)  # [batch, text_token]
    # as the transformer decides: all-zero image embeddings (text-to-video) are masked, else all are valid
    has_image = (image != 0).any().to(torch.long) * image.shape[1]
    counts = torch.stack(
        [
            has_image.expand(batch),
            mask_2.to(torch.bool).sum(-1),
            text.sum(-1),
            text.to(torch.long).cumprod(-1).sum(-1),  # the length of the leading run of valid tokens
        ],
        dim=1,
    ).tolist()  # [batch, 4]: one read-back per call
    if any(row[2] != row[3] for row in counts):
        raise CaptureError(
            "the prompt's valid tokens are not a prefix of its mask (a left-padding tokenizer?): the words' keys "
            "cannot be located"
        )
    if any(row != counts[0] for row in counts):
        raise CaptureError(
            f"AttentionCapture records one video per pipeline call, got a batch of {batch} with different prompts"
        )
    image_n, glyph_n, text_n, _ = counts[0]
    return TransformerCall(
        batch=int(batch),
        grid=(frames // p_t, height // p, width // p),
        timestep=kwargs.get("timestep"),
        facts={"image": int(image_n), "glyph": int(glyph_n), "text": int(text_n)},
    )


# -- loading ---------------------------------------------------------------------------------------------
def pipeline_class(class_name: str) -> Any:
    """The diffusers class of a HunyuanVideo-1.5 pipeline class name."""
    return import_pipeline_class(class_name, _MODULES, "HunyuanVideo-1.5")


def from_pretrained(class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """Load a checkpoint as the diffusers docs do: every component in ``dtype`` (bfloat16 on a GPU)."""
    return pipeline_class(class_name).from_pretrained(location, dtype=dtype, local_files_only=local_files_only)


def set_flow_shift(pipe: Any, flow_shift: float) -> None:
    """Replace the ``FlowMatchEulerDiscreteScheduler`` by one with ``shift=flow_shift`` (published: 5, 7 or 9)."""
    set_euler_shift(pipe, flow_shift)


def cast(pipe: Any, dtype: torch.dtype) -> None:
    """Cast every model component to ``dtype`` (the diffusers docs load all of them in it)."""
    cast_components(pipe, dtype, ("text_encoder", "text_encoder_2", "transformer", "vae", "image_encoder"))


def adapt_call(pipe: Any, variant: Variant, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The batch's call arguments as HunyuanVideo-1.5's pipelines take them.

    * ``guidance_scale`` is the guider's: set on ``pipe.guider`` (``pipe.guider.new(guidance_scale=...)``, as
      the diffusers docs do) when it differs, not passed.
    * ``max_sequence_length`` is the pipeline's fixed 1000 text tokens: dropped (it must be 1000).
    * Image-to-video takes no ``height``/``width``: it makes the resolution bucket whose (rounded) aspect ratio
      is nearest the image's, from the side of 1 the image's ratio lies on. The image is cropped with the
      pipeline's own resize (``resize_mode="crop"``) to one pixel row more (landscape: less) than
      ``height × width``, a ratio just past the bucket's own, so that the pipeline picks that bucket (the
      bucket's exact ratio, rounded to 5 decimals, lands on its neighbour for about a third of the buckets)
      and crops that row off again. The size must be one of its buckets.

    Raises:
        ConfigError: ``max_sequence_length`` other than 1000, or an image-to-video size that is no bucket.
    """
    out = dict(kwargs)
    scale = out.pop("guidance_scale", None)
    if scale is not None and float(scale) != float(pipe.guider.guidance_scale):
        pipe.guider = pipe.guider.new(guidance_scale=float(scale))
    length = out.pop("max_sequence_length", None)
    if length is not None and length != pipe.tokenizer_max_length:
        raise ConfigError(
            f"generation.max_sequence_length must be {pipe.tokenizer_max_length} for {variant.name}, got {length}"
        )
    if type(pipe).__name__ == I2V_PIPELINE:
        height, width = out.pop("height"), out.pop("width")
        rows = height + 1 if height >= width else height - 1  # a ratio just past the bucket's, on its side of 1
        made = pipe.video_processor.calculate_default_height_width(rows, width, pipe.target_size)
        if tuple(made) != (height, width):
            raise ConfigError(
                f"generation.height and generation.width must be one of {variant.name}'s resolution buckets "
                f"(target_size {pipe.target_size}; nearest to {height}x{width}: {made[0]}x{made[1]}), got "
                f"{height} and {width}"
            )
        out["image"] = pipe.video_processor.resize(out["image"], height=rows, width=width, resize_mode="crop")
    return out


__all__ = [
    "BLOCK_LIST",
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

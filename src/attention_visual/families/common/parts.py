"""Torch-side parts that several families' ``runtime`` modules share.

* :func:`cast_components`: a family's ``cast`` (every family).
* :func:`import_pipeline_class`: a family's ``pipeline_class`` from its table of diffusers modules (every family).
* :func:`call_argument`: a call's argument, by keyword or position.
* For transformers that pack the video ``[batch, frame · y · x, channel]`` and whose text attention is a
  cross-attention with RMS-normed q and k (LTX-Video, LTX-2): :func:`packed_variant` (the VAE factors and the
  patch), :func:`normed_cross_probe`, :func:`locate_normed_attention`
  (``transformer.<block_list>[i].<attention_module>`` with ``norm_q``/``norm_k``), :func:`per_key_bias` (the
  ``[batch, 1, key]`` bias such a transformer passes its attention, as ``[batch, key]``), :func:`packed_tokens`,
  :func:`grid_of_sizes` and :func:`packed_call` (batch, grid, timestep and conditioning frames of a call),
  :func:`held_frames`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from attention_visual.errors import CaptureError
from attention_visual.families.interface import (
    AttentionInputs,
    AttentionSite,
    HookPoint,
    Measure,
    Probe,
    TransformerCall,
)
from attention_visual.families.spec import Variant


def import_pipeline_class(class_name: str, modules: Mapping[str, str], title: str) -> Any:
    """The diffusers class ``class_name``, its module (``modules[class_name]``) imported only now.

    Args:
        class_name: A pipeline class name, as ``model_index.json`` gives it.
        modules: ``{class name: diffusers module}``: the family's pipelines.
        title: The family's name for the error.

    Raises:
        ValueError: ``class_name`` is not one of ``modules``.
    """
    module = modules.get(class_name)
    if module is None:
        raise ValueError(f"{class_name} is not a pipeline class of {title}")
    return getattr(importlib.import_module(module), class_name)


def cast_components(pipe: Any, dtype: torch.dtype, names: tuple[str, ...]) -> None:
    """Cast the components ``names`` that ``pipe`` has to ``dtype`` (a family's ``cast``).

    A component already in ``dtype`` is left alone: diffusers warns on every dtype ``.to()``, even a no-op.
    """
    components = pipe.components  # {name: module or None}; registered modules are not typed attributes
    for name in names:
        module = components.get(name)
        if module is not None and module.dtype != dtype:
            module.to(dtype)


def set_euler_shift(pipe: Any, flow_shift: float) -> None:
    """Replace the pipeline's ``FlowMatchEulerDiscreteScheduler`` by one with ``shift=flow_shift``, same config."""
    from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler

    pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config, shift=flow_shift)


def call_argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, position: int) -> Any:
    """The argument ``name`` of a call, by keyword or at ``position`` (None when not given)."""
    return kwargs.get(name, args[position] if len(args) > position else None)


def packed_variant(base: Variant, pipe: Any) -> Variant:
    """``base`` with the loaded pipeline's VAE factors and its transformer's (integer) patch.

    Raises:
        CaptureError: The pipeline has no transformer.
    """
    model = getattr(pipe, "transformer", None)
    if model is None:
        raise CaptureError(f"{type(pipe).__name__} has no transformer")
    patch, patch_t = int(model.config.patch_size), int(model.config.patch_size_t)
    return base.replace(
        pixels_per_cell=int(pipe.vae_spatial_compression_ratio) * patch,
        temporal_factor=int(pipe.vae_temporal_compression_ratio),
        latent_frames_per_cell=patch_t,
    )


def normed_cross_probe(words: Callable[[Mapping[str, Any]], AttentionInputs]) -> Probe:
    """The attention's call (its mask and rotary arguments), then ``norm_q``/``norm_k`` (q and k): ``words``."""
    points = (HookPoint("call", "", when="call"), HookPoint("query", "norm_q"), HookPoint("key", "norm_k"))
    return Probe(points, (Measure("words", "key", words),))


def locate_normed_attention(
    transformer: nn.Module, variant: Variant, block_list: str, what: str
) -> list[AttentionSite]:
    """``transformer.<block_list>[i].<variant.attention_module>`` for every block, in order.

    Args:
        what: The family's name for its transformer in messages (``"LTX-2"``).

    Raises:
        CaptureError: No such list, or a block whose attention has no ``norm_q``/``norm_k`` or ``heads``.
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not an {what} transformer")
    found = []
    for i, block in enumerate(blocks):
        attention = getattr(block, variant.attention_module, None)
        name = variant.block_name(i, block_list)
        if attention is None or not all(
            isinstance(getattr(attention, n, None), nn.Module) for n in ("norm_q", "norm_k")
        ):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k: not an {what} cross-attention")
        if not hasattr(attention, "heads"):
            raise CaptureError(f"{name} does not say its number of heads")
        found.append(AttentionSite(i, name, attention, int(attention.heads)))
    return found


def per_key_bias(mask: torch.Tensor | None, key: torch.Tensor) -> torch.Tensor | None:
    """The ``[batch, key]`` bias of an ``attention_mask`` of shape ``[batch, 1, key]`` (None: no mask passed).

    ``key``: ``[batch, key, channel]``. The bias is the same for every query and head, added to the logits as
    the attention adds it.

    Raises:
        CaptureError: A mask of another shape (a per-query mask is not read).
    """
    if mask is None:
        return None
    if mask.ndim == 3 and mask.shape[1] == 1 and mask.shape[-1] == key.shape[1]:
        return mask[:, 0]
    raise CaptureError(
        f"attn2 got an attention_mask of shape {tuple(mask.shape)}; the capture reads a per-key bias "
        f"[batch, 1, {key.shape[1]}] (the transformer's own, from a [batch, key] encoder_attention_mask)"
    )


def packed_tokens(hidden: Any, what: str) -> tuple[int, int]:
    """``(batch, tokens)`` of packed ``hidden_states`` ``[batch, token, channel]``.

    Raises:
        CaptureError: Not a 3-D tensor.
    """
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3:
        raise CaptureError(f"the {what} transformer was called without packed hidden_states [batch, token, channel]")
    return int(hidden.shape[0]), int(hidden.shape[1])


def grid_of_sizes(transformer: nn.Module, sizes: Iterable[Any]) -> tuple[int, int, int] | None:
    """The ``(frame, y, x)`` grid of a call's latent ``num_frames``/``height``/``width`` (None: not all given)."""
    frames, height, width = sizes
    if not all(isinstance(s, int) for s in (frames, height, width)):
        return None
    config: Any = transformer.config
    return frames // int(config.patch_size_t), height // int(config.patch_size), width // int(config.patch_size)


def packed_call(
    batch: int,
    tokens: int,
    grid: tuple[int, int, int],
    timestep: Any,
    what: str,
    drop: int = 0,
    *,
    step_timestep: torch.Tensor | None = None,
) -> TransformerCall:
    """The call's facts; per-token timesteps (``[batch, token]``) say which map frames are conditioning.

    Args:
        grid: ``(frame, y, x)`` of all ``tokens``, ``drop`` leading map frames (prepended tokens) included.
        step_timestep: ``[batch]``: the step's own timestep where the call passes it beside per-token ones
            (LTX-2's ``sigma``): the call's timestep, and frames below it are conditioning (:func:`held_frames`,
            so a condition over every frame shows); None: ``timestep`` is the call's, and frames below its
            largest entry are conditioning.

    Raises:
        CaptureError: The grid does not hold the call's tokens.
    """
    if grid[0] * grid[1] * grid[2] != tokens:
        raise CaptureError(f"the {what} transformer got {tokens} video tokens for a grid of {grid} (frame, y, x)")
    per_token = isinstance(timestep, torch.Tensor) and timestep.ndim == 2 and timestep.shape[1] == tokens
    ceiling = None if step_timestep is None else float(step_timestep.flatten()[0])
    given = timestep if isinstance(timestep, torch.Tensor) else None
    return TransformerCall(
        batch=batch,
        grid=grid,
        timestep=given if step_timestep is None else step_timestep,
        drop_leading_frames=drop,
        conditioning_frames=held_frames(timestep[0], grid, drop, ceiling) if per_token else None,
    )


def held_frames(
    timestep: torch.Tensor, grid: tuple[int, int, int], drop: int = 0, step_timestep: float | None = None
) -> tuple[int, ...]:
    """Video map frames whose tokens all carry a timestep below the step's (conditioning inputs).

    ``timestep``: one item's per-token timesteps ``[token]`` (image-to-video: ``t · (1 − mask)``, 0 on the
    image's latent frame; LTX-Video's condition pipeline: ``min(t, (1 − strength) · 1000)`` on conditioned
    tokens); the first ``drop`` map frames are prepended tokens, not video. The step's timestep is
    ``step_timestep`` where the call passes it, else the largest per-token one (then a condition covering
    every frame shows none). One read-back.

    Example:
        >>> held_frames(torch.tensor([0.0] * 6 + [900.0] * 12), (3, 2, 3))
        (0,)
        >>> held_frames(torch.tensor([0.0] * 6 + [0.0] * 6 + [900.0] * 12), (4, 2, 3), drop=1)
        (0,)
        >>> held_frames(torch.zeros(18), (3, 2, 3), step_timestep=900.0)  # a condition over every frame
        (0, 1, 2)
    """
    per_frame = timestep.detach().to(device="cpu", dtype=torch.float64).view(grid[0], -1).amax(dim=1)  # [frame]
    ceiling = per_frame.max() if step_timestep is None else torch.tensor(step_timestep, dtype=torch.float64)
    return tuple(int(f) for f in torch.nonzero(per_frame[drop:] < ceiling).flatten())


__all__ = [
    "call_argument",
    "cast_components",
    "grid_of_sizes",
    "held_frames",
    "import_pipeline_class",
    "locate_normed_attention",
    "normed_cross_probe",
    "packed_call",
    "packed_tokens",
    "packed_variant",
    "per_key_bias",
    "set_euler_shift",
]

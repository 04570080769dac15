"""The torch side of a model family: finding it (lazily) and what the capture asks of it.

Each family's ``runtime`` module (``attention_visual.families.<family>.runtime``) implements
:class:`~attention_visual.families.interface.FamilyRuntime` with the values of
:mod:`attention_visual.families.interface`; :func:`runtime_of` imports it lazily (the
family's data stays importable without torch). The capture core (:mod:`attention_visual.capture`) drives
any family through it:

1. :func:`describe_pipeline` recognises a loaded pipeline object and returns its
   :class:`~attention_visual.families.spec.Variant` (with that object's facts), or refuses it naming the
   supported families.
2. ``runtime.experts(pipe, variant)`` gives the transformers to hook, each with its expert label.
3. ``runtime.locate(transformer, variant, block_list)`` gives every ``AttentionSite`` of a module list.
4. ``runtime.probe(variant, image_map=...)`` says where to hook each site (``HookPoint``: a forward hook
   on a submodule's output, or a forward pre-hook with kwargs on the attention module itself, which sees
   e.g. RoPE tables and masks) and what to build once the tensors are in (``Measure``: an
   ``AttentionInputs`` for the word maps, an ``ImageShareInputs`` for ``<image>``). No processor is
   replaced and nothing is patched.
5. ``runtime.read_call(variant, transformer, args, kwargs)`` reads one transformer call: its batch, the
   video-token grid of the queries the measures hold, the timestep (``TransformerCall``).

For :func:`attention_visual.models.load_pipeline` it also gives its pipeline classes, loads a checkpoint
the way the family advises, applies ``flow_shift`` and casts the components. A family whose pipelines take
the batch's call arguments in another form (HunyuanVideo-1.5: guidance through the pipeline's guider, no
``max_sequence_length``) also defines ``adapt_call`` (:func:`call_arguments`).

How passes and steps are told apart (separate / batched / distilled guidance, cache-context names or call
order, the step index given or counted) is data on the variant, read by
:class:`attention_visual.capture.steps.PassClock`.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from attention_visual.errors import CaptureError
from attention_visual.families.interface import FamilyRuntime
from attention_visual.families.registry import (
    family_of_class,
    family_of_variant,
    supported_summary,
    unsupported_reason,
)
from attention_visual.families.spec import ModelFamily, Variant


def runtime_of(family: ModelFamily) -> FamilyRuntime:
    """The family's torch side (imports torch and diffusers)."""
    return cast(FamilyRuntime, importlib.import_module(family.runtime))


def describe_pipeline(pipe: Any) -> Variant:
    """The variant of a loaded pipeline object of any supported family.

    Raises:
        CaptureError: A modular diffusers pipeline, a class a family refuses (with the reason), a class of
            no supported family (naming the supported families), or what the family's runtime refuses.
    """
    cls = type(pipe).__name__
    refused = unsupported_reason(cls)
    if refused is not None:
        what, why = refused[1]
        raise CaptureError(f"{cls} is not supported: {what} ({why}); supported: {supported_summary()}")
    if type(pipe).__module__.startswith("diffusers.modular_pipelines") or "ModularPipeline" in cls:
        raise CaptureError(
            f"{cls} (a modular diffusers pipeline) is not supported: its blocks run the denoiser outside the "
            f"pipeline's own loop; use one of {supported_summary()}"
        )
    family = family_of_class(cls)
    if family is None:
        raise CaptureError(f"{cls} is not a pipeline of a supported model family; supported: {supported_summary()}")
    return runtime_of(family).describe_pipeline(pipe)


def call_arguments(pipe: Any, variant: Variant, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The pipeline call's arguments as ``pipe`` takes them: the family's ``adapt_call`` where it has one.

    The batch builds one set of arguments for every family (``height``, ``width``, ``guidance_scale``,
    ``max_sequence_length``, inputs, ...); a family whose pipelines take some of them otherwise turns them
    into what its pipelines take (and may apply one to the pipeline, e.g. its guider's scale).

    Raises:
        ConfigError: An argument the pipeline cannot honour (the family's message).
    """
    runtime = runtime_of(family_of_variant(variant))
    adapt = getattr(runtime, "adapt_call", None)
    return dict(kwargs) if adapt is None else dict(adapt(pipe, variant, dict(kwargs)))


__all__ = ["call_arguments", "describe_pipeline", "runtime_of"]

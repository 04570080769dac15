"""Which guidance passes and denoising step a transformer call is, for every supported pipeline.

How a family's pipelines run guidance is data on its variant (:class:`~attention_visual.families.Variant`):

* ``guidance="separate"``: one call per guidance pass. The pass is named by the pipeline's
  ``cache_context("cond" | "uncond", ...)`` (a pipeline whose guider names its passes otherwise, e.g.
  ``pred_cond``/``pred_uncond``, maps them with the variant's ``pass_names``) or, with
  ``pass_source="call_order"`` (no context at all), by order: per step the prompt pass runs first, then
  (with classifier-free guidance, which ``pipe.do_classifier_free_guidance`` says) the negative-prompt pass.
* ``guidance="batched"``: one call per step on a batch of passes (``batch_passes``, e.g.
  ``[uncond, cond]``; only ``cond`` when guidance is off); the context's name (``"cond_uncond"``) is not a pass.
* ``guidance="distilled"``: guidance is an input of the model, so a step is one prompt pass; a
  negative-prompt pass runs only where the pipeline is asked for one (HunyuanVideo's ``true_cfg_scale > 1``
  with a negative prompt), named as with ``separate``.

A call under a context the variant lists in ``ignored_passes`` (LTX-2's extra guidance calls
``uncond_stg`` and ``uncond_modality``, which run after the step's guidance passes) is neither a pass nor a
step: :meth:`PassClock.next` returns None for it and nothing is recorded.

The step index comes from the context (``step_index=i``) where the pipeline gives it; else
:class:`PassClock` counts: the *n*-th prompt pass (or call) is step *n*. The count is checked on every
call: its timestep must equal the scheduler's timestep of that step,
``scheduler.timesteps[-pipe.num_timesteps:][step]`` (a ``strength`` below 1 runs only the tail of the
schedule, so the run's steps are the last ``num_timesteps``). Where ``timestep`` is given per token
(``[batch, video_token]``; conditioning tokens carry a smaller one) or per latent frame (diffusion
forcing) the call's timestep is the largest entry, the noisiest. A pipeline that announces more steps
than its scheduler has timesteps (diffusion forcing with frames that start later: ``pipe.num_timesteps``
rows of its step matrix) is counted against ``num_timesteps`` only; a step past it is an error. A pipeline
that casts the timestep to the model's dtype (HunyuanVideo-1.5: bfloat16) passes the scheduler's timestep
rounded to that dtype; the step records the scheduler's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from attention_visual.errors import CaptureError


@dataclass(frozen=True)
class PassInfo:
    """One transformer call: its guidance passes, step and where it lies on the schedule.

    ``items`` gives the guidance pass of each batch item, ``(("cond", 0),)`` for a separate prompt pass,
    ``(("uncond", 0), ("cond", 1))`` for a batched one; ``name`` is the first item's pass.
    """

    name: str  # "cond" | "uncond"
    step_index: int
    num_steps: int | None
    timestep: float | None
    sigma: float | None
    items: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.items:
            object.__setattr__(self, "items", ((self.name, 0),))


def denoising_timestep(timestep: torch.Tensor | None) -> float | None:
    """The pass's denoising timestep: ``timestep`` is ``[batch]``, ``[batch, video_token]`` or ``[batch, frame]``
    (the max entry)."""
    if timestep is None:
        return None
    return float(timestep.detach().flatten().max().item())  # one read-back per pass


class PassClock:
    """Tells each transformer pass's name and step, from the cache context or by counting.

    Args:
        pipe: the pipeline (read for its scheduler, ``num_timesteps`` and ``do_classifier_free_guidance``).
        order_from_calls: no cache context is expected: passes are named by call order.
        guidance: ``"separate"``, ``"batched"`` or ``"distilled"`` (see the module docstring).
        batch_passes: ``batched``: the guidance pass of each batch item when guidance is on.
        pass_names: ``{cache-context name: pass}`` where the pipeline does not name its passes
            ``cond``/``uncond`` (other names are taken as they are).
        ignored_passes: cache-context names of extra calls that are neither a pass nor a step.
    """

    def __init__(
        self,
        pipe: Any,
        *,
        order_from_calls: bool,
        guidance: str = "separate",
        batch_passes: tuple[str, ...] = ("uncond", "cond"),
        pass_names: Mapping[str, str] | None = None,
        ignored_passes: tuple[str, ...] = (),
    ) -> None:
        self.pipe = pipe
        self.ignored_passes = ignored_passes
        self.order_from_calls = order_from_calls
        self.guidance = guidance
        self.batch_passes = batch_passes
        self.pass_names = dict(pass_names or {})
        self._next_step = 0  # the step of the next prompt pass
        self._last: tuple[str, int] | None = None
        self._cache: tuple[Any, Any, int, list[float], list[float]] | None = None

    def _schedule(self) -> tuple[list[float] | None, list[float] | None, int | None]:
        """``(timesteps, sigmas, num_steps)`` of this run (the tail of the scheduler's schedule).

        Read back from the device once per schedule (cached by tensor identity), not once per pass.
        """
        scheduler = getattr(self.pipe, "scheduler", None)
        timesteps = getattr(scheduler, "timesteps", None)
        sigmas = getattr(scheduler, "sigmas", None)
        num = getattr(self.pipe, "_num_timesteps", None)
        if not isinstance(timesteps, torch.Tensor) or not isinstance(num, int) or not 0 < num <= len(timesteps):
            return None, None, num if isinstance(num, int) else None
        cached = self._cache
        if cached is None or cached[0] is not timesteps or cached[1] is not sigmas or cached[2] != num:
            offset = len(timesteps) - num
            run_sigmas = sigmas[offset:].tolist() if isinstance(sigmas, torch.Tensor) else []
            cached = self._cache = (timesteps, sigmas, num, timesteps[offset:].tolist(), run_sigmas)
        return cached[3], cached[4] or None, num

    def next(self, context: Any | None, timestep: torch.Tensor | None) -> PassInfo | None:
        """Name and step of the pass about to run (None: an extra call of the step, ``ignored_passes``).

        Args:
            context: the pipeline's ``CacheContext`` (``None`` when none is set).
            timestep: the ``timestep`` argument of the transformer call.

        Raises:
            CaptureError: no context where the pipeline must set one, or the counted step's timestep is
                not the scheduler's (the pipeline skipped or repeated a pass).
        """
        if context is None and not self.order_from_calls:
            raise CaptureError(
                "the transformer ran outside the pipeline's cache_context: call the pipeline itself "
                "(pipe(prompt=capture.prompt, ...)) inside `with AttentionCapture(...)`"
            )
        if context is not None and str(context.name) in self.ignored_passes:
            return None
        t = denoising_timestep(timestep)
        timesteps, sigmas, num = self._schedule()
        name, items = self._passes(context, timestep)
        given = getattr(context, "step_index", None) if context is not None else None
        if given is not None:
            step = int(given)
        elif name == "cond":
            step = self._next_step
        elif self._last is not None and self._last[0] == "cond":
            step = self._last[1]
        else:
            raise CaptureError("a negative-prompt pass ran before its prompt pass: the step cannot be counted")
        self._next_step = step + 1 if name == "cond" else self._next_step
        self._last = (name, step)
        if num is not None and step >= num:
            raise CaptureError(
                f"pass {name!r} would be step {step} but this run has {num} steps: use a new AttentionCapture for "
                "every pipeline call (a pipeline whose denoising loop starts over, e.g. per window, is not supported)"
            )
        if timesteps is not None and t is not None:
            expected = float(timesteps[step])  # a Python float: no device read-back
            if t != expected and (timestep is None or t != _rounded(expected, timestep.dtype)):
                raise CaptureError(
                    f"step {step} ({name} pass) ran at timestep {t:g} but the scheduler's step {step} is at "
                    f"{expected:g}: the pipeline did not run its steps in order (interrupted or custom loop?)"
                )
            t = expected
        sigma = getattr(context, "sigma", None) if context is not None else None
        if sigma is None and sigmas is not None and step < len(sigmas):
            sigma = float(sigmas[step])
        steps_total = getattr(context, "num_inference_steps", None) if context is not None else None
        return PassInfo(name, step, steps_total if steps_total is not None else num, t, sigma, items)

    def _passes(self, context: Any | None, timestep: torch.Tensor | None) -> tuple[str, tuple[tuple[str, int], ...]]:
        """The call's pass name for the step count (``cond`` counts) and its batch items' passes.

        Batched guidance: the call's ``timestep`` has one entry per batch item, so a batch of
        ``len(batch_passes)`` is guided and one item is the prompt pass alone (CogVideoX has no
        ``do_classifier_free_guidance`` to ask, and its ``guidance_scale`` changes during the loop with
        ``use_dynamic_cfg``); without a timestep the pipeline's ``do_classifier_free_guidance`` says.
        """
        if self.guidance == "batched":
            batch = int(timestep.shape[0]) if timestep is not None and timestep.ndim else None
            cfg = (
                batch == len(self.batch_passes)
                if batch is not None
                else bool(getattr(self.pipe, "do_classifier_free_guidance", False))
            )
            passes = self.batch_passes if cfg else ("cond",)
            return "cond", tuple((p, i) for i, p in enumerate(passes))
        name = self._name(context)
        return name, ((name, 0),)

    def _name(self, context: Any | None) -> str:
        if context is not None:
            return self.pass_names.get(str(context.name), str(context.name))
        # call order: a prompt pass, then a negative-prompt pass when guidance is on (a distilled model's
        # negative-prompt pass is named only by its context: by order every call is a prompt pass)
        cfg = self.guidance == "separate" and bool(getattr(self.pipe, "do_classifier_free_guidance", False))
        if cfg and self._last is not None and self._last[0] == "cond" and self._last[1] == self._next_step - 1:
            return "uncond"
        return "cond"


def _rounded(value: float, dtype: torch.dtype) -> float:
    """``value`` as a tensor of ``dtype`` holds it (a CPU scalar: no device work)."""
    return float(torch.tensor(value, dtype=torch.float64).to(dtype).item())


__all__ = ["PassClock", "PassInfo", "denoising_timestep"]

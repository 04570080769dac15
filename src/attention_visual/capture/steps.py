"""Which guidance pass and denoising step a transformer pass is, for every Wan pipeline.

``WanPipeline`` says it: ``cache_context("cond" | "uncond", step_index=i, sigma=..., num_inference_steps=n)``.
The image-to-video and VACE pipelines enter ``cache_context("cond" | "uncond")`` without a step;
video-to-video enters none at all. Where the pipeline gives no step index, :class:`PassClock` counts
one itself: every Wan denoising loop runs, per step, the prompt pass first and then (with
classifier-free guidance) the negative-prompt pass, so the *n*-th prompt pass is step *n*. Without a
cache context the pass name follows from the same order (``pipe.do_classifier_free_guidance`` says
whether a second pass follows).

The count is checked on every pass: the pass's timestep must equal the scheduler's timestep of that
step, ``scheduler.timesteps[-pipe.num_timesteps:][step]`` (video-to-video's ``strength`` runs only the
tail of the schedule, so the run's steps are the last ``num_timesteps``). With ``expand_timesteps``
(TI2V-5B) ``timestep`` is ``[batch, video_token]`` and conditioning-frame tokens carry 0: the pass's
timestep is the largest entry, the denoising timestep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from attention_visual.errors import CaptureError


@dataclass(frozen=True)
class PassInfo:
    """One transformer pass: guidance pass, step and where it lies on the schedule."""

    name: str  # "cond" | "uncond"
    step_index: int
    num_steps: int | None
    timestep: float | None
    sigma: float | None


def denoising_timestep(timestep: torch.Tensor | None) -> float | None:
    """The pass's denoising timestep: ``timestep`` is ``[batch]`` or ``[batch, video_token]`` (the max entry)."""
    if timestep is None:
        return None
    return float(timestep.detach().flatten().max().item())  # one read-back per pass


class PassClock:
    """Tells each transformer pass's name and step, from the cache context or by counting.

    Args:
        pipe: the pipeline (read for its scheduler, ``num_timesteps`` and ``do_classifier_free_guidance``).
        order_from_calls: no cache context is expected (video-to-video): passes are named by call order.
    """

    def __init__(self, pipe: Any, *, order_from_calls: bool) -> None:
        self.pipe = pipe
        self.order_from_calls = order_from_calls
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

    def next(self, context: Any | None, timestep: torch.Tensor | None) -> PassInfo:
        """Name and step of the pass about to run.

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
        t = denoising_timestep(timestep)
        timesteps, sigmas, num = self._schedule()
        name = self._name(context)
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
        if timesteps is not None and t is not None:
            if step >= len(timesteps):
                raise CaptureError(
                    f"pass {name!r} would be step {step} but this run has {len(timesteps)} steps: "
                    "use a new AttentionCapture for every pipeline call"
                )
            expected = float(timesteps[step])  # a Python float: no device read-back
            if t != expected:
                raise CaptureError(
                    f"step {step} ({name} pass) ran at timestep {t:g} but the scheduler's step {step} is at "
                    f"{expected:g}: the pipeline did not run its steps in order (interrupted or custom loop?)"
                )
        sigma = getattr(context, "sigma", None) if context is not None else None
        if sigma is None and sigmas is not None and step < len(sigmas):
            sigma = float(sigmas[step])
        steps_total = getattr(context, "num_inference_steps", None) if context is not None else None
        return PassInfo(name, step, steps_total if steps_total is not None else num, t, sigma)

    def _name(self, context: Any | None) -> str:
        if context is not None:
            return str(context.name)
        # call order: a prompt pass, then a negative-prompt pass when guidance is on
        cfg = bool(getattr(self.pipe, "do_classifier_free_guidance", False))
        if cfg and self._last is not None and self._last[0] == "cond" and self._last[1] == self._next_step - 1:
            return "uncond"
        return "cond"


__all__ = ["PassClock", "PassInfo", "denoising_timestep"]

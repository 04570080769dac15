"""PassClock: pass names and steps from the cache context, or counted and checked against the schedule."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from attention_visual.capture.steps import PassClock, denoising_timestep
from attention_visual.errors import CaptureError

TIMESTEPS = torch.tensor([999.0, 900.0, 750.0, 500.0])


def fake_pipe(num_run: int = 4, cfg: bool = True) -> Any:
    scheduler = SimpleNamespace(timesteps=TIMESTEPS, sigmas=torch.tensor([1.0, 0.875, 0.75, 0.5, 0.0]))
    return SimpleNamespace(scheduler=scheduler, _num_timesteps=num_run, do_classifier_free_guidance=cfg)


def ctx(name: str, step: int | None = None) -> Any:
    return SimpleNamespace(name=name, step_index=step, sigma=None, num_inference_steps=None)


def t(value: float) -> torch.Tensor:
    return torch.tensor([value])


def test_counted_steps_follow_the_prompt_passes_and_read_sigmas() -> None:
    clock = PassClock(fake_pipe(), order_from_calls=False)
    got = [clock.next(ctx(n), t(v)) for n, v in [("cond", 999), ("uncond", 999), ("cond", 900), ("uncond", 900)]]
    assert [(p.name, p.step_index, p.sigma, p.num_steps) for p in got] == [
        ("cond", 0, 1.0, 4), ("uncond", 0, 1.0, 4), ("cond", 1, 0.875, 4), ("uncond", 1, 0.875, 4),
    ]  # fmt: skip


def test_call_order_names_passes_and_runs_the_tail_of_the_schedule() -> None:
    """Video-to-video: no context; strength ran only the last 2 of 4 steps."""
    clock = PassClock(fake_pipe(num_run=2), order_from_calls=True)
    got = [clock.next(None, t(v)) for v in (750, 750, 500, 500)]
    assert [(p.name, p.step_index, p.timestep, p.sigma) for p in got] == [
        ("cond", 0, 750.0, 0.75), ("uncond", 0, 750.0, 0.75), ("cond", 1, 500.0, 0.5), ("uncond", 1, 500.0, 0.5),
    ]  # fmt: skip
    no_cfg = PassClock(fake_pipe(num_run=2, cfg=False), order_from_calls=True)
    assert [no_cfg.next(None, t(v)).step_index for v in (750, 500)] == [0, 1]


def test_a_pass_off_the_schedule_is_refused() -> None:
    clock = PassClock(fake_pipe(), order_from_calls=True)
    clock.next(None, t(999))
    clock.next(None, t(999))
    with pytest.raises(CaptureError, match="ran at timestep 750 but the scheduler's step 1 is at 900"):
        clock.next(None, t(750))  # a skipped step
    with pytest.raises(CaptureError, match="outside the pipeline's cache_context"):
        PassClock(fake_pipe(), order_from_calls=False).next(None, t(999))
    with pytest.raises(CaptureError, match="negative-prompt pass ran before its prompt pass"):
        PassClock(fake_pipe(), order_from_calls=False).next(ctx("uncond"), t(999))
    over = PassClock(fake_pipe(num_run=1), order_from_calls=False)
    over.next(ctx("cond"), t(500))  # a one-step run is the schedule's last step
    with pytest.raises(CaptureError, match="new AttentionCapture for every pipeline call"):
        over.next(ctx("cond"), t(500))


def test_the_pipeline_step_index_wins_and_expanded_timesteps_give_the_denoising_one() -> None:
    clock = PassClock(fake_pipe(), order_from_calls=False)
    assert clock.next(ctx("cond", 2), t(750)).step_index == 2
    expanded = torch.tensor([[0.0, 0.0, 900.0, 900.0]])  # [batch, video_token]: conditioning frame at 0
    assert denoising_timestep(expanded) == 900.0 and denoising_timestep(None) is None


def test_a_guiders_pass_names_map_to_cond_and_uncond() -> None:
    """HunyuanVideo-1.5's guider runs its passes under cache_context("pred_cond") / ("pred_uncond")."""
    clock = PassClock(fake_pipe(), order_from_calls=False, pass_names={"pred_cond": "cond", "pred_uncond": "uncond"})
    got = [clock.next(ctx(n), t(v)) for n, v in [("pred_cond", 999), ("pred_uncond", 999), ("pred_cond", 900)]]
    assert [(p.name, p.step_index) for p in got] == [("cond", 0), ("uncond", 0), ("cond", 1)]


def test_a_timestep_cast_to_the_models_dtype_is_the_schedulers() -> None:
    """A pipeline may hand the transformer the timestep in bfloat16: 999 becomes 1000; the record keeps 999."""
    pipe = fake_pipe()
    clock = PassClock(pipe, order_from_calls=False)
    info = clock.next(ctx("cond"), TIMESTEPS[:1].to(torch.bfloat16))
    assert float(TIMESTEPS[:1].to(torch.bfloat16)) == 1000.0 and (info.step_index, info.timestep) == (0, 999.0)
    with pytest.raises(CaptureError, match="ran at timestep 752 but the scheduler's step 1 is at 900"):
        clock.next(ctx("cond"), torch.tensor([750.0], dtype=torch.bfloat16) + 2)


def test_ignored_passes_are_neither_passes_nor_steps() -> None:
    """LTX-2's perturbed guidance calls follow each step's batched call under their own contexts."""
    clock = PassClock(
        fake_pipe(), order_from_calls=False, guidance="batched", ignored_passes=("uncond_stg", "uncond_modality")
    )
    got = []
    for v in (999, 900):
        got.append(clock.next(ctx("cond_uncond"), t(v).expand(2)))  # [uncond, cond]: one timestep per item
        assert clock.next(ctx("uncond_stg"), t(v)) is None
        assert clock.next(ctx("uncond_modality"), t(v)) is None
    assert [(p.step_index, p.items) for p in got if p is not None] == [
        (0, (("uncond", 0), ("cond", 1))), (1, (("uncond", 0), ("cond", 1))),
    ]  # fmt: skip
    counted = PassClock(fake_pipe(), order_from_calls=False, guidance="batched")  # not ignored: a step each
    counted.next(ctx("cond_uncond"), t(999).expand(2))
    with pytest.raises(CaptureError, match="ran at timestep 999 but the scheduler's step 1 is at 900"):
        counted.next(ctx("uncond_stg"), t(999))

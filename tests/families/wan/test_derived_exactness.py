"""The Wan derivatives (SkyReels-V2 T2V, I2V, diffusion forcing T2V and I2V; ChronoEdit; Lucy-Edit): every
captured value equals an explicit float64 softmax of its pass's own ``attn2`` inputs, on a non-square grid.

The reference (:mod:`capture.reference`) records each ``attn2`` call's inputs with its own pre-hooks and
recomputes q and k from the weights; a forward pre-hook on the transformer here records each call's
``timestep``, independently of the capture, for the per-frame timesteps of diffusion forcing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.storage import MapMetadata
from capture.variant_support import (
    PROMPT,
    Run,
    call_kwargs,
    check_word_passes,
    expected_image_share,
    expected_word,
    pass_of,
    pipe_of,
    run_variant,
    snapshot,
)

DERIVED = (
    "tiny-skyreels-v2",
    "tiny-skyreels-v2-i2v",
    "tiny-skyreels-v2-df",
    "tiny-skyreels-v2-df-i2v",
    "tiny-chronoedit",
    "tiny-lucy-edit",
)
IMAGE_BRANCH = {"tiny-skyreels-v2-i2v", "tiny-chronoedit"}
#: the token grid (frame, y, x) of each at its tiny settings: ChronoEdit makes 5 frames (2 latent frames)
GRIDS = {model_id: (2 if model_id == "tiny-chronoedit" else 3, 2, 3) for model_id in DERIVED}
STEPS = 3


@contextmanager
def record_timesteps(transformer: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Every transformer call's ``timestep`` argument, in call order (the test's own hook)."""
    seen: list[torch.Tensor] = []

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        seen.append(kwargs["timestep"].detach().clone())

    handle = transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


def run_with_timesteps(model_id: str, settings: CaptureSettings, **overrides: Any) -> tuple[Run, list[torch.Tensor]]:
    with record_timesteps(pipe_of(model_id).transformer) as seen:
        run = run_variant(model_id, settings, **overrides)
    return run, seen


@pytest.mark.parametrize("model_id", DERIVED)
def test_every_pass_equals_the_reference(model_id: str) -> None:
    image = model_id in IMAGE_BRANCH
    run, seen = run_with_timesteps(
        model_id, CaptureSettings(guidance_pass="both", image_map=image), num_inference_steps=STEPS
    )
    cap, pipe, grid = run.capture, pipe_of(model_id), GRIDS[model_id]
    assert pipe.num_timesteps == STEPS and len(run.passes) == 2 * STEPS == len(seen)
    records = cap.records
    assert [(r.step_index, r.pass_name) for r in records] == [(s, p) for s in range(STEPS) for p in ("cond", "uncond")]
    assert [r.timestep for r in records[::2]] == [float(t) for t in pipe.scheduler.timesteps]
    maps = check_word_passes(run, STEPS, grid)
    if image:
        share = maps["<image>"]
        for s in range(STEPS):
            ref = expected_image_share(pass_of(run, "cond", s), grid)
            np.testing.assert_allclose(share[s, 0], ref.numpy(), atol=1e-5, rtol=0)
    per_frame = cap.variant.frame_timesteps
    for record, timestep in zip(records, seen, strict=True):  # the transformer's own timestep argument
        if per_frame:
            assert timestep.shape == (1, grid[0])
            assert record.frame_timesteps == tuple(float(t) for t in timestep[0])
        else:
            assert record.frame_timesteps == ()


def test_diffusion_forcing_steps_are_the_rows_of_its_step_matrix(tmp_path: Path) -> None:
    """Asynchronous diffusion forcing: frames start one step apart, so 3 inference steps over 4 latent frames
    run 6 steps, each frame at its own timestep; every step's map is exact and says each frame's timestep."""
    model_id = "tiny-skyreels-v2-df"
    run, seen = run_with_timesteps(
        model_id, CaptureSettings(guidance_pass="both"), num_inference_steps=3, num_frames=13, ar_step=1,
        causal_block_size=1,
    )  # fmt: skip
    cap, pipe, grid = run.capture, pipe_of(model_id), (4, 2, 3)
    steps = pipe.num_timesteps
    assert steps == 6 and len(run.passes) == 2 * steps
    rows = [tuple(float(t) for t in timestep[0]) for timestep in seen[::2]]  # [step][frame]
    assert len(set(rows[2])) > 1  # the frames are at different noise levels
    records = cap.records
    assert [r.frame_timesteps for r in records[::2]] == rows
    assert [r.timestep for r in records[::2]] == [max(row) for row in rows]  # the noisiest frame's
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]  # [step, pass, frame, y, x]
    assert got.shape == (steps, 2, *grid)
    for s in range(steps):
        for p, name in enumerate(("cond", "uncond")):
            ref = expected_word(pass_of(run, name, s), kiss.token_indices, grid)
            np.testing.assert_allclose(got[s, p], ref.numpy(), atol=1e-5, rtol=0)
    cap.save(tmp_path, "df")
    meta = MapMetadata.from_json((tmp_path / "df" / "kiss" / "step_002_metadata.json").read_text())
    assert meta.frame_timesteps == rows[2] and meta.num_steps == steps and meta.variant == "skyreels-v2-df-t2v"
    assert meta.video_dimensions.fps == 24.0 and meta.video_dimensions.frames == 13
    average = MapMetadata.from_json((tmp_path / "df" / "aggregated" / "kiss_aggregated_metadata.json").read_text())
    assert average.frame_timesteps == () and average.steps_used == tuple(range(steps))


def test_diffusion_forcing_image_to_video_holds_the_image_frame_as_conditioning(tmp_path: Path) -> None:
    run, seen = run_with_timesteps("tiny-skyreels-v2-df-i2v", CaptureSettings(), num_inference_steps=2)
    assert all(float(t[0, 0]) == 0.0 for t in seen)  # the image's latent frame is not denoised
    assert run.capture.conditioning_frames == (0,)
    run.capture.save(tmp_path, "v")
    meta = MapMetadata.from_json((tmp_path / "v" / "kiss" / "step_001_metadata.json").read_text())
    assert meta.conditioning_frames == (0,) and meta.frame_timesteps[0] == 0.0


def test_chronoedit_temporal_reasoning_steps_keep_the_image_and_the_edit(tmp_path: Path) -> None:
    """The first step denoises 3 latent frames (a reasoning frame between the image and the edit); the
    pipeline then keeps frames 0 and 2, so step 0's map keeps the same two latent frames."""
    model_id = "tiny-chronoedit"
    overrides = {"num_inference_steps": 3, "num_frames": 9, "enable_temporal_reasoning": True}
    run = run_variant(model_id, num_temporal_reasoning_steps=1, **overrides)
    cap = run.capture
    assert [r.array.shape[-3] for r in cap.records] == [3, 2, 2]  # as the calls ran
    kiss = cap.tokens.targets[0]
    got = cap.word_maps()["kiss"]  # [step, frame, y, x]
    assert got.shape == (3, 2, 2, 3)
    full = expected_word(pass_of(run, "cond", 0), kiss.token_indices, (3, 2, 3))
    np.testing.assert_allclose(got[0], full[[0, 2]].numpy(), atol=1e-5, rtol=0)
    for s in (1, 2):
        np.testing.assert_allclose(
            got[s], expected_word(pass_of(run, "cond", s), kiss.token_indices, (2, 2, 3)).numpy(), atol=1e-5, rtol=0
        )
    cap.save(tmp_path, "edit", {"width": 48, "height": 32, "fps": 16.0, "frames": 5})
    meta = MapMetadata.from_json((tmp_path / "edit" / "kiss" / "step_000_metadata.json").read_text())
    assert meta.latent_to_video_frames == ((0, 0), (1, 4)) and meta.variant == "chronoedit"
    # reasoning through every step: the output is the whole 9-frame video, every frame kept
    whole = run_variant(model_id, num_temporal_reasoning_steps=3, **overrides)
    assert whole.capture.word_maps()["kiss"].shape == (3, 3, 2, 3)


@pytest.mark.parametrize("model_id", DERIVED)
def test_video_is_bit_identical_and_every_module_restored(model_id: str) -> None:
    pipe = pipe_of(model_id)

    def generate(prompt: str) -> np.ndarray:
        kwargs = call_kwargs(model_id, output_type="np", num_inference_steps=2)
        return np.asarray(pipe(prompt=prompt, generator=torch.Generator().manual_seed(3), **kwargs).frames)

    plain = generate("A romantic kiss between a man and woman with flowers")
    before = snapshot(pipe)
    settings = CaptureSettings(image_map=model_id in IMAGE_BRANCH, guidance_pass="both")
    with AttentionCapture(pipe, PROMPT, settings, call_kwargs(model_id)["max_sequence_length"]) as cap:
        assert snapshot(pipe) != before
        captured = generate(cap.prompt)
    assert snapshot(pipe) == before
    assert np.array_equal(plain, captured)
    assert cap.records


def test_the_reference_of_reordered_frames_or_another_pass_does_not_match() -> None:
    """Breakages: the frames in another order, or the uncond pass's inputs, give another map than the capture's."""
    run = run_variant("tiny-skyreels-v2-df", num_inference_steps=2)
    kiss = run.capture.tokens.targets[0]
    got = run.capture.word_maps()["kiss"][1]  # [frame, y, x]
    ref = expected_word(pass_of(run, "cond", 1), kiss.token_indices, (3, 2, 3)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert not np.allclose(got, ref[::-1], atol=1e-4)
    uncond = expected_word(pass_of(run, "uncond", 1), kiss.token_indices, (3, 2, 3)).numpy()
    assert not np.allclose(got, uncond, atol=1e-4)

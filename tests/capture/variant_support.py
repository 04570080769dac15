"""Run a tiny Wan variant under capture and under the float64 reference, pass by pass.

Every Wan denoising loop runs, per step, the prompt pass and then the negative-prompt pass, each
through all blocks in order; :func:`run_variant` records the ``attn2`` inputs of every block of every
transformer (both experts) and groups them into passes, so each captured record can be compared with
the reference computed from the very inputs its pass consumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.models import TINY_MODELS, build_tiny_model, tiny_inputs
from capture.reference import AttnCall, record_attn2_inputs, reduce_word, reference_image_share, reference_probs

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
GRID = (3, 2, 3)  # frames, y, x of every tiny variant at its default size (non-square)

# per model id: extra call arguments, capture arguments and the expected token grid
CALLS: dict[str, dict[str, Any]] = {
    "tiny-wan22-a14b": {"num_inference_steps": 4},  # flow_shift 3: t = 999, 900 | 750, 500 (boundary 875)
    "tiny-wan22-i2v-a14b": {"num_inference_steps": 4},  # boundary 900: t = 999, 900 | 750, 500
    "tiny-ti2v-5b": {"num_inference_steps": 3},
    "tiny-ti2v-5b-i2v": {"num_inference_steps": 3},
    "tiny-i2v": {"num_inference_steps": 2},
    "tiny-flf2v": {"num_inference_steps": 2},
    "tiny-vace": {"num_inference_steps": 2, "reference_images": "image"},  # one reference image: 4 latent frames
    "tiny-v2v": {"num_inference_steps": 4, "strength": 0.5},  # runs the last 2 of 4 steps
}


@cache
def pipe_of(model_id: str) -> Any:
    """One tiny pipeline per model id and test session (tests must not mutate it)."""
    return build_tiny_model(model_id)


def call_kwargs(model_id: str, **overrides: Any) -> dict[str, Any]:
    spec = TINY_MODELS[model_id]
    kwargs: dict[str, Any] = {**spec.call_kwargs(), **tiny_inputs(model_id), **CALLS.get(model_id, {})}
    if kwargs.get("reference_images") == "image":
        kwargs["reference_images"] = [tiny_inputs("tiny-i2v", seed=5)["image"].resize((spec.width, spec.height))]
    return {**kwargs, **overrides}


def num_reference(kwargs: dict[str, Any]) -> int:
    return len(kwargs.get("reference_images") or ())


@dataclass
class Run:
    capture: AttentionCapture
    passes: list[list[AttnCall]]  # per transformer pass, in call order: its blocks' attn2 inputs
    output: Any
    kwargs: dict[str, Any]


def run_variant(model_id: str, settings: CaptureSettings | None = None, **overrides: Any) -> Run:
    """Generate once with capture and the reference recorder; ``output_type="latent"`` unless overridden."""
    pipe = pipe_of(model_id)
    settings = settings or CaptureSettings()
    kwargs = call_kwargs(model_id, output_type="latent", **overrides)
    first = pipe.transformer
    others = {"transformer_2": pipe.transformer_2} if getattr(pipe, "transformer_2", None) is not None else {}
    block_list = settings.block_list or "blocks"  # None: the main stream
    with (
        record_attn2_inputs(first, block_list, others=others) as log,
        AttentionCapture(
            pipe, PROMPT, settings, kwargs["max_sequence_length"], num_reference_images=num_reference(kwargs)
        ) as cap,
    ):
        out = pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs).frames
    n_blocks = len(getattr(first, block_list))
    calls = log.calls
    assert len(calls) % n_blocks == 0
    passes = [calls[i : i + n_blocks] for i in range(0, len(calls), n_blocks)]
    for p in passes:  # each pass ran every block of one transformer, in order
        assert [c.block for c in p] == list(range(n_blocks)) and len({c.model for c in p}) == 1
    return Run(cap, passes, out, kwargs)


MODELS = ("transformer", "transformer_2", "text_encoder")


def snapshot(pipe: Any) -> dict[str, Any]:
    """Every attribute and hook a capture could change, on both experts and the text encoder."""
    state: dict[str, Any] = {}
    for root in MODELS:
        model = getattr(pipe, root, None)
        if model is None:
            continue
        for name, module in model.named_modules():
            state[f"{root}.{name}"] = (
                sorted(vars(module)),
                len(module._forward_hooks),
                len(module._forward_pre_hooks),
                "forward" in vars(module),
            )
        registry = getattr(model, "_diffusers_hook", None)
        state[f"{root}.registry"] = None if registry is None else list(registry.hooks)
    return state


def pass_of(run: Run, name: str, step: int) -> list[AttnCall]:
    """The reference calls of one guidance pass of one (run-relative) step."""
    per_step = 2 if run.kwargs["guidance_scale"] > 1 else 1
    return run.passes[step * per_step + (1 if name == "uncond" else 0)]


def expected_word(calls: list[AttnCall], columns: tuple[int, ...], grid: tuple[int, int, int]) -> torch.Tensor:
    """``[frame, y, x]``: the word's probability mass, mean over heads and blocks, float64."""
    per_block = [reduce_word(reference_probs(None, c), columns).mean(dim=0) for c in calls]  # [video_token]
    return torch.stack(per_block).mean(dim=0).reshape(grid)


def expected_image_share(calls: list[AttnCall], grid: tuple[int, int, int]) -> torch.Tensor:
    """``[frame, y, x]``: the image branch's share, mean over blocks, float64."""
    return torch.stack([reference_image_share(c)[0] for c in calls]).mean(dim=0).reshape(grid)


def check_word_passes(run: Run, steps: int, grid: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Assert each marked word's map of every step and pass (cond, uncond) equals the float64 reference.

    Returns the capture's word maps (``[step, pass, frame, y, x]`` each).
    """
    maps = run.capture.word_maps()
    for target in run.capture.tokens.targets:
        got = maps[target.word]  # [step, pass, frame, y, x]
        assert got.shape == (steps, 2, *grid)
        for s in range(steps):
            for p, name in enumerate(("cond", "uncond")):
                ref = expected_word(pass_of(run, name, s), target.token_indices, grid)
                np.testing.assert_allclose(got[s, p], ref.numpy(), atol=1e-5, rtol=0)
        assert float(np.ptp(got)) > 1e-3
    return maps

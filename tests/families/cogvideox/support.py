"""Shared pieces of the CogVideoX tests: one tiny pipeline per model id and call arguments that fit it."""

from __future__ import annotations

from functools import cache
from typing import Any

from attention_visual.models.tiny_cogvideox import TINY_COGVIDEOX
from attention_visual.models.tiny_variants import TINY_MODELS, build_tiny_model, tiny_inputs

COGVIDEOX_IDS = tuple(entry[0] for entry in TINY_COGVIDEOX)
ROPE_IDS = tuple(m for m in COGVIDEOX_IDS if m != "tiny-cogvideox-2b")
MARKED = "a romantic (kiss) between a man and woman with (flowers)"
GRID = (3, 2, 3)  # frames, y, x of every tiny CogVideoX model at its settings (non-square)


@cache
def pipe_of(model_id: str) -> Any:
    """One tiny pipeline per model id and test session (tests must not mutate it)."""
    return build_tiny_model(model_id)


def call_kwargs(model_id: str, **overrides: Any) -> dict[str, Any]:
    """Settings and inputs of a call; video-to-video runs the last 2 of 4 steps (``strength`` 0.5)."""
    kwargs: dict[str, Any] = {**TINY_MODELS[model_id].call_kwargs(), **tiny_inputs(model_id)}
    if "video" in kwargs:
        kwargs.update(num_inference_steps=4, strength=0.5)
    return {**kwargs, **overrides}

"""Shared pieces of the HunyuanVideo tests: one tiny pipeline per model id and call arguments that fit it."""

from __future__ import annotations

from functools import cache
from typing import Any

from attention_visual.models.tiny_hunyuan import TINY_HUNYUAN
from attention_visual.models.tiny_variants import TINY_MODELS, build_tiny_model, tiny_inputs

HUNYUAN_IDS = tuple(entry[0] for entry in TINY_HUNYUAN)
MARKED = "a romantic (kiss) between a man and woman with (flowers)"
NEGATIVE = "a blurry (dog) in the rain"  # shorter than the prompt: the words' columns fall in its masked padding
GRID = (3, 2, 3)  # frames, y, x of every tiny HunyuanVideo model at its settings (non-square)
STREAMS = ("transformer_blocks", "single_transformer_blocks")


@cache
def pipe_of(model_id: str) -> Any:
    """One tiny pipeline per model id and test session (tests must not mutate it)."""
    return build_tiny_model(model_id)


def call_kwargs(model_id: str, **overrides: Any) -> dict[str, Any]:
    """Settings and inputs of a call."""
    return {**TINY_MODELS[model_id].call_kwargs(), **tiny_inputs(model_id), **overrides}

"""Shared pieces of the HunyuanVideo-1.5 tests: one tiny pipeline per model id and call arguments that fit it."""

from __future__ import annotations

from functools import cache
from typing import Any

from attention_visual.families.runtime import call_arguments, describe_pipeline
from attention_visual.models.tiny_hunyuan15 import TINY_HUNYUAN15
from attention_visual.models.tiny_variants import TINY_MODELS, build_tiny_model, tiny_inputs

HUNYUAN15_IDS = tuple(entry[0] for entry in TINY_HUNYUAN15)
#: A marked prompt with a one-piece word, a two-piece word and quoted text (the byT5 glyph tokens).
MARKED = 'a (dog) holds a sign saying "hello" by the (flowers)'
GRID = (3, 2, 3)  # frames, y, x of both tiny models at their settings (non-square)


@cache
def pipe_of(model_id: str) -> Any:
    """One tiny pipeline per model id and test session (tests must not mutate it)."""
    return build_tiny_model(model_id)


def call_kwargs(model_id: str, **overrides: Any) -> dict[str, Any]:
    """The tiny settings and inputs, as the batch hands them to the pipeline (the family adapts them)."""
    pipe = pipe_of(model_id)
    kwargs = {**TINY_MODELS[model_id].call_kwargs(), **tiny_inputs(model_id), **overrides}
    return call_arguments(pipe, describe_pipeline(pipe), kwargs)

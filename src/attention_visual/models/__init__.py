"""Models: the tiny offline Wan pipeline for tests and demos, and loading of real Wan checkpoints.

Example:
    >>> from attention_visual.models import TINY_DEFAULTS, load_pipeline
    >>> pipe = load_pipeline("tiny")
    >>> video = pipe("a cat and a dog", **TINY_DEFAULTS.call_kwargs(), output_type="np").frames

Needs the ``wan`` extra (torch, diffusers, transformers); without it, importing this package raises
:class:`~attention_visual.errors.MissingExtraError` with the pip command.
"""

from __future__ import annotations

try:
    from attention_visual.models.loading import load_pipeline, resolve_device, resolve_dtype
    from attention_visual.models.tiny import (
        DEFAULT_CROSS_ATTENTION_GAIN,
        TINY_DEFAULTS,
        TINY_MODEL_ID,
        TinyDefaults,
        build_tiny_pipeline,
    )
    from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer, tiny_vocab
except ModuleNotFoundError:
    from attention_visual.extras import require_extra

    require_extra("wan", __name__)  # one line naming the extra when torch, diffusers or transformers is missing
    raise

__all__ = [
    "DEFAULT_CROSS_ATTENTION_GAIN",
    "TINY_DEFAULTS",
    "TINY_MODEL_ID",
    "TinyDefaults",
    "build_tiny_pipeline",
    "build_tiny_tokenizer",
    "load_pipeline",
    "resolve_device",
    "resolve_dtype",
    "tiny_vocab",
]

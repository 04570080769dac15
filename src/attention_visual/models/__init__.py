"""Models: tiny offline pipelines of every variant for tests and demos, and loading (through the families).

Example:
    >>> from attention_visual.models import TINY_DEFAULTS, load_pipeline
    >>> pipe = load_pipeline("tiny")
    >>> video = pipe("a cat and a dog", **TINY_DEFAULTS.call_kwargs(), output_type="np").frames

Needs the ``wan`` extra (torch, diffusers, transformers); without it, importing this package raises
:class:`~attention_visual.errors.MissingExtraError` with the pip command.
"""

from __future__ import annotations

try:
    from attention_visual.families import Variant, all_variants
    from attention_visual.families.runtime import describe_pipeline
    from attention_visual.models.loading import (
        CheckpointUnavailableError,
        load_pipeline,
        resolve_device,
        resolve_dtype,
        resolve_variant,
    )
    from attention_visual.models.tiny import (
        DEFAULT_CROSS_ATTENTION_GAIN,
        TINY_DEFAULTS,
        TINY_MODEL_ID,
        TinyDefaults,
        build_tiny_pipeline,
    )
    from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer, tiny_vocab
    from attention_visual.models.tiny_variants import (
        TINY_MODEL_IDS,
        TINY_MODELS,
        TinyModel,
        build_tiny_model,
        is_tiny_model_id,
        tiny_inputs,
        tiny_tokenizer,
    )

    VARIANTS = all_variants()
    """Every supported variant of every model family, by name (:func:`attention_visual.families.all_variants`)."""
except ModuleNotFoundError:
    from attention_visual.extras import GENERATION_EXTRA, require_extra

    require_extra(
        GENERATION_EXTRA, __name__
    )  # one line naming the extra when torch, diffusers or transformers is missing
    raise

__all__ = [
    "DEFAULT_CROSS_ATTENTION_GAIN",
    "TINY_DEFAULTS",
    "TINY_MODELS",
    "TINY_MODEL_ID",
    "TINY_MODEL_IDS",
    "VARIANTS",
    "CheckpointUnavailableError",
    "TinyDefaults",
    "TinyModel",
    "Variant",
    "build_tiny_model",
    "build_tiny_pipeline",
    "build_tiny_tokenizer",
    "describe_pipeline",
    "is_tiny_model_id",
    "load_pipeline",
    "resolve_device",
    "resolve_dtype",
    "resolve_variant",
    "tiny_inputs",
    "tiny_tokenizer",
    "tiny_vocab",
]

"""Model families: what differs between Wan, CogVideoX, LTX-Video, ... kept as data, one folder each.

The layers above (capture, prompts, config, pipeline, models) reach a family only through this
package's registry (:mod:`.registry`, re-exported here) and, for the torch side, :mod:`.runtime`;
they never import a family's folder (an import-linter contract checks it). Importing this package
needs no torch. See ``docs/families.md`` for what a family is and how to add one.

Example:
    >>> from attention_visual.families import family_named, supported_summary
    >>> family_named("wan").text.max_sequence_length
    512
"""

from attention_visual.families.registry import (
    FAMILIES,
    all_tasks,
    all_variants,
    checkpoint_rules,
    default_family,
    family_named,
    family_of_class,
    family_of_model,
    family_of_variant,
    read_model_index,
    supported_summary,
    tiny_model_variant,
    unsupported_reason,
    variant_named,
)
from attention_visual.families.spec import (
    ATTENTION_KINDS,
    AUTO_TASK,
    GUIDANCE_MODES,
    PADDING_KINDS,
    Cleaning,
    FormatTemplate,
    ModelFamily,
    PromptTemplate,
    Template,
    TextSide,
    Variant,
)

__all__ = [
    "ATTENTION_KINDS",
    "AUTO_TASK",
    "FAMILIES",
    "GUIDANCE_MODES",
    "PADDING_KINDS",
    "Cleaning",
    "FormatTemplate",
    "ModelFamily",
    "PromptTemplate",
    "Template",
    "TextSide",
    "Variant",
    "all_tasks",
    "all_variants",
    "checkpoint_rules",
    "default_family",
    "family_named",
    "family_of_class",
    "family_of_model",
    "family_of_variant",
    "read_model_index",
    "supported_summary",
    "tiny_model_variant",
    "unsupported_reason",
    "variant_named",
]

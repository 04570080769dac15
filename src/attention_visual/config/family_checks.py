"""The checks of a config that depend on the model family: frame counts, sizes, text length, joint attention.

A family's rules are data (:class:`~attention_visual.families.ModelFamily`): the frame counts its VAE makes
(``4k+1``, ``8k+1``, ...), the multiple frame sides must be (the smallest pixels per token; a variant's own
is checked once the variant is known), whether ``flow_shift`` means something to its scheduler, the longest
text its encoder takes, and whether its attention is joint (``joint_attention: full`` and
``text_share_map`` mean nothing on cross-attention). The config
checks them as soon as the family is known from ``generation.model_id`` alone (a tiny model, a listed
checkpoint, a local folder's ``model_index.json``), and
:func:`~attention_visual.pipeline.validation.check_variant` again with the variant, before any model
loads. Each failure is one :class:`~attention_visual.errors.ConfigError` naming the key and the rule.

Example:
    >>> from attention_visual.config import GenerationConfig
    >>> from attention_visual.families import family_named
    >>> check_generation(GenerationConfig(num_frames=80, model_id="tiny"), family_named("wan"))
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: generation.num_frames must be of the form 4k+1 for Wan (e.g. 81), got 80
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attention_visual.config import validation as v
from attention_visual.errors import ConfigError
from attention_visual.families import ModelFamily, Variant

if TYPE_CHECKING:
    from attention_visual.config.schema import AttentionAnalysisConfig, GenerationConfig


def _example_frames(family: ModelFamily) -> int:
    """A frame count the family makes, near 81 (for messages)."""
    return next(n for n in range(81, 200) if family.accepts_frame_count(n))


def check_generation(g: GenerationConfig, family: ModelFamily, variant: Variant | None = None) -> None:
    """``generation.*`` against the family's rules (and the variant's pixels per token and text length).

    Raises:
        ConfigError: One line naming the key, the family (or variant) and its rule.
    """
    px, who = (variant.pixels_per_cell, variant.name) if variant is not None else (family.size_multiple, family.title)
    for name in ("height", "width"):
        value = getattr(g, name)
        if value % px:
            extra = f" ({px} pixels per grid cell)" if variant is not None else ""
            v.fail(f"generation.{name}", f"a multiple of {px} for {who}{extra}", value)
    if variant is not None and variant.fixed_num_frames not in (None, g.num_frames):
        raise ConfigError(
            f"generation.num_frames must be {variant.fixed_num_frames} for {variant.name} (the only frame count its "
            f"pipeline makes), got {g.num_frames}"
        )
    if variant is not None and variant.fixed_size is not None and (g.height, g.width) != variant.fixed_size:
        h, w = variant.fixed_size
        raise ConfigError(
            f"generation.height and generation.width must be {h} and {w} for {variant.name} (its learned position "
            f"embedding fixes the frame size), got {g.height} and {g.width}"
        )
    if variant is not None and variant.frame_sizes and (g.height, g.width) not in variant.frame_sizes:
        near = sorted(variant.frame_sizes, key=lambda hw: abs(hw[0] - g.height) + abs(hw[1] - g.width))[:3]
        raise ConfigError(
            f"generation.height and generation.width must be one of the frame sizes {variant.name} makes "
            f"(nearest: {', '.join(f'{h}x{w}' for h, w in near)}), got {g.height} and {g.width}"
        )
    if not family.accepts_frame_count(g.num_frames):
        v.fail(
            "generation.num_frames",
            f"of the form {family.frame_count_rule} for {family.title} (e.g. {_example_frames(family)})",
            g.num_frames,
        )
    if g.flow_shift is not None and not family.takes_flow_shift:
        raise ConfigError(
            f"generation.flow_shift is not used by {family.title}: its scheduler sets its own shift; remove the key"
        )
    length, limit = g.max_sequence_length, family.text.max_sequence_limit
    if length is not None and limit is not None and length > limit:
        v.fail("generation.max_sequence_length", f"in [1, {limit}] for {family.title}", length)
    multiple = family.text.sequence_multiple
    if length is not None and length % multiple:
        v.fail("generation.max_sequence_length", f"a multiple of {multiple} for {family.title}", length)
    if variant is not None and variant.text_length is not None and length not in (None, variant.text_length):
        raise ConfigError(
            f"generation.max_sequence_length must be {variant.text_length} for {variant.name} (it takes exactly "
            f"{variant.text_length} text keys), got {length}"
        )


def check_analysis(a: AttentionAnalysisConfig, family: ModelFamily, variant: Variant | None = None) -> None:
    """``attention_analysis.*`` settings that mean something only on some families or variants.

    Raises:
        ConfigError: ``joint_attention: full`` or ``text_share_map`` on a cross-attention family (or variant);
            ``glyph_map`` on a family (or variant) without glyph keys; ``guidance_pass`` other than ``cond`` on
            a guidance-distilled family (or variant), whose batch runs the prompt pass only.
    """
    joint = variant.joint if variant is not None else family.joint
    who = f"{family.title}" if variant is None else f"{family.title} ({variant.name})"
    if not joint and a.joint_attention != "text":
        raise ConfigError(
            f"attention_analysis.joint_attention {a.joint_attention!r} needs joint attention (text and video keys "
            f"in one softmax); {who} has cross-attention, whose maps already are the share of the text keys: "
            "remove the key or use 'text'"
        )
    if not joint and a.text_share_map:
        raise ConfigError(
            f"attention_analysis.text_share_map needs joint attention (text and video keys in one softmax); "
            f"{who} has cross-attention, where all attention goes to text: set it to false"
        )
    variants = (variant,) if variant is not None else tuple(family.variants.values())
    if a.guidance_pass != "cond" and all(v.guidance == "distilled" for v in variants):
        raise ConfigError(
            f"attention_analysis.guidance_pass {a.guidance_pass!r} needs a negative-prompt pass; {who} is "
            "guidance-distilled (generation.guidance_scale is an input of the model) and a batch runs its prompt "
            "pass only: set it to cond"
        )
    if a.glyph_map and not any("glyph" in v.key_groups for v in variants):
        raise ConfigError(
            f"attention_analysis.glyph_map needs glyph keys (the quoted text's own encoding in the joint softmax); "
            f"{who} has none: set it to false"
        )


__all__ = ["check_analysis", "check_generation"]

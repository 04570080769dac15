"""Every supported model family, and the look-ups the layers above make (no torch).

The one place that lists the families: everything outside :mod:`attention_visual.families` reaches a
family through these functions (an import-linter contract forbids importing a family's folder
directly), so adding a family is adding its folder and one line to :data:`FAMILIES`.

Example:
    >>> family_of_class("WanVACEPipeline").name, variant_named("wan2.1-v2v").task
    ('wan', 'v2v')
    >>> family_of_model("tiny-flf2v").name, family_of_model("someone/unknown") is None
    ('wan', True)
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, cast

from attention_visual.errors import ConfigError
from attention_visual.families.cogvideox import FAMILY as COGVIDEOX
from attention_visual.families.hunyuan10 import FAMILY as HUNYUAN10
from attention_visual.families.hunyuan15 import FAMILY as HUNYUAN15
from attention_visual.families.ltx import FAMILY as LTX
from attention_visual.families.ltx2 import FAMILY as LTX2
from attention_visual.families.spec import AUTO_TASK, ModelFamily, Variant
from attention_visual.families.wan import FAMILY as WAN

log = logging.getLogger(__name__)

FAMILIES: tuple[ModelFamily, ...] = (WAN, COGVIDEOX, HUNYUAN15, HUNYUAN10, LTX, LTX2)
"""The supported families; the first is the default (its ``default_checkpoint`` is the config's default)."""

_BY_NAME = {f.name: f for f in FAMILIES}
_BY_CLASS = {cls: f for f in FAMILIES for cls in f.pipeline_classes}
_UNSUPPORTED = {cls: (f, reason) for f in FAMILIES for cls, reason in f.unsupported.items()}
_VARIANTS = {name: v for f in FAMILIES for name, v in f.variants.items()}
_TINY = {model_id: f for f in FAMILIES for model_id in f.tiny_models}
_CHECKPOINTS = {ckpt.lower(): f for f in FAMILIES for v in f.variants.values() for ckpt in v.checkpoints}
if len(_BY_CLASS) != sum(len(f.pipeline_classes) for f in FAMILIES) or len(_TINY) != sum(
    len(f.tiny_models) for f in FAMILIES
):
    raise RuntimeError("two families claim the same pipeline class or tiny model id")


class CheckpointSpec(Protocol):
    """What a family's checkpoint module reads from a ``model_index.json`` (its own dataclass)."""

    @property
    def class_name(self) -> str: ...
    @property
    def experts(self) -> int: ...
    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]: ...


class CheckpointRules(Protocol):
    """A family's ``checkpoints`` module: reads its ``model_index.json`` files, without torch."""

    #: Pipeline classes whose variant also depends on the transformer's ``config.json``.
    TRANSFORMER_CONFIG_CLASSES: tuple[str, ...]

    def read_model_index(self, data: Mapping[str, Any], source: str = ...) -> CheckpointSpec: ...
    def with_transformer_config(self, spec: Any, config: Mapping[str, Any]) -> CheckpointSpec: ...
    def pipeline_class_for(self, spec: Any, task: str = ..., source: str = ...) -> str: ...
    def variant_for(self, spec: Any, task: str) -> Variant: ...
    def spec_of_variant(self, variant: Variant) -> CheckpointSpec: ...


def default_family() -> ModelFamily:
    """The family of the default checkpoint (the first of :data:`FAMILIES`)."""
    return FAMILIES[0]


def family_named(name: str) -> ModelFamily:
    """The family called ``name`` (``"wan"``).

    Raises:
        KeyError: No family has that name (the message lists them).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no model family {name!r}; families: {', '.join(_BY_NAME)}") from None


def family_of_class(class_name: str) -> ModelFamily | None:
    """The family whose pipelines include ``class_name`` (None: no supported family)."""
    return _BY_CLASS.get(class_name)


def family_of_variant(variant: Variant | str) -> ModelFamily:
    """The family a variant (or variant name) belongs to."""
    return _BY_NAME[variant.family] if isinstance(variant, Variant) else family_named(variant_named(variant).family)


def variant_named(name: str) -> Variant:
    """The variant called ``name`` in any family.

    Raises:
        KeyError: No family has that variant.
    """
    return _VARIANTS[name]


def all_variants() -> dict[str, Variant]:
    """Every variant of every family, by name."""
    return dict(_VARIANTS)


def all_tasks() -> tuple[str, ...]:
    """Every ``generation.pipeline`` task some family runs, in family order."""
    return tuple(dict.fromkeys(task for f in FAMILIES for task in f.tasks))


def tiny_model_variant(model_id: str) -> Variant | None:
    """The variant a built-in tiny model id realises, or None when ``model_id`` is not one."""
    family = _TINY.get(model_id)
    return None if family is None else family.variants[family.tiny_models[model_id]]


def supported_summary() -> str:
    """The supported families and their pipeline classes, for error messages.

    Example:
        >>> supported_summary()  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        'Wan (WanPipeline, ..., LucyEditPipeline); CogVideoX (CogVideoXPipeline, ...);
         HunyuanVideo-1.5 (HunyuanVideo15Pipeline, HunyuanVideo15ImageToVideoPipeline);
         HunyuanVideo (HunyuanVideoPipeline); LTX-Video (LTXPipeline, ...);
         LTX-2 (LTX2Pipeline, ..., LTX2ConditionPipeline)'
    """
    return "; ".join(f"{f.title} ({', '.join(f.pipeline_classes)})" for f in FAMILIES)


def unsupported_reason(class_name: str) -> tuple[ModelFamily, tuple[str, str]] | None:
    """``(family, (what, why))`` for a pipeline class a family knows and refuses."""
    return _UNSUPPORTED.get(class_name)


def checkpoint_rules(family: ModelFamily) -> CheckpointRules:
    """The family's ``model_index.json`` reader (no torch): a module, or an object in one (``module:name``)."""
    module, _, name = family.checkpoints.partition(":")
    found = importlib.import_module(module)
    return cast(CheckpointRules, getattr(found, name) if name else found)


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """Read the pipeline-level facts of a checkpoint from its parsed ``model_index.json``, by its family.

    Raises:
        ConfigError: No class named, a class a family refuses (Wan Animate: with the reason), a class of no
            supported family (naming the supported ones), or what the family's reader refuses; one line.
    """
    class_name = data.get("_class_name")
    if not isinstance(class_name, str):
        raise ConfigError(f"{source}: model_index.json names no pipeline class (_class_name)")
    refused = unsupported_reason(class_name)
    if refused is not None:
        what, why = refused[1]
        raise ConfigError(
            f"{source} is a {class_name}: {what} is not supported ({why}); supported: {supported_summary()}"
        )
    family = family_of_class(class_name)
    if family is None:
        raise ConfigError(
            f"{source} is a {class_name}, not a pipeline of a supported family; supported: {supported_summary()}"
        )
    return checkpoint_rules(family).read_model_index(data, source)


def family_of_model(model_id: str) -> ModelFamily | None:
    """The family of a ``generation.model_id``, from what can be known without torch or the network.

    A tiny model id, a checkpoint a family lists, or a local folder whose ``model_index.json`` names a
    pipeline class of a family; None otherwise (a Hub id no family lists: known once it is loaded).
    A local folder that names an unsupported class is None too: loading it gives the error.
    """
    family = _TINY.get(model_id) or _CHECKPOINTS.get(model_id.lower())
    if family is not None:
        return family
    index = Path(model_id).expanduser() / "model_index.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8")) if index.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.debug("cannot read %s: %s", index, exc)
        return None
    name = data.get("_class_name") if isinstance(data, dict) else None
    return family_of_class(name) if isinstance(name, str) else None


__all__ = [
    "AUTO_TASK",
    "FAMILIES",
    "CheckpointRules",
    "CheckpointSpec",
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

"""The ``models:`` list of a comparison batch: the same marked prompts through several models.

A config names one model in ``generation.model_id``, or several in a top-level ``models:`` list; each
entry is a model id, or a mapping with ``model_id``, an optional ``name`` and the ``generation`` keys that
differ for that model (frame counts, sizes and guidance differ between families)::

    models:
      - tiny                     # the generation section as it is
      - model_id: tiny-ltx       # LTX-Video makes 8k+1 frames of 32-px cells
        num_frames: 17
        height: 64
        width: 96

    generation:                  # shared by every model
      num_inference_steps: 2
      seed: 42

Why a list beside ``generation`` rather than ``model_id`` per prompt or a list-valued ``model_id``: the
comparison is "these prompts through these models", so the prompts are written once and each model once;
what must differ per model (a family's frame rule, size multiple, text length, guidance) sits next to
its model, and what must not (``seed``, ``videos_per_prompt``: the same prompt and seed in every model) is
refused there. Each model's name (``name``, else the last part of its id) keeps its videos apart: video
ids ``<name>_prompt_001_vid_001``, folders ``videos/<name>/prompt_001/``. The batch runs the models one after
the other (one pipeline loaded at a time).

Example:
    >>> [e.name for e in parse_models("models", ["tiny", {"model_id": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"}])]
    ['tiny', 'Wan2.1-T2V-1.3B-Diffusers']
    >>> parse_models("models", [{"model_id": "tiny", "seed": 3}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: models[0].seed is shared by every model ... set generation.seed
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from attention_visual.config import validation as v
from attention_visual.errors import ConfigError
from attention_visual.storage.batch.layout import model_label

#: ``generation.model_id`` of a comparison's shared section: no model of its own (each entry names one), so
#: the section is checked against no family's rules; each model's whole section is checked against its own.
COMPARISON_MODEL_ID = "<models>"
#: ``generation`` keys every model shares: the same prompt gets the same seeds in every model.
SHARED_KEYS = ("seed", "videos_per_prompt")
#: Keys of a ``models:`` mapping besides the ``generation`` keys it overrides.
ENTRY_KEYS = ("model_id", "name")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a comparison batch (an entry of ``models:``).

    Attributes:
        name: Keeps its videos apart (video ids, folders, the report's and ``stats``' ``model``): letters,
            digits, ``._-``.
        model_id: As ``generation.model_id``.
        settings: ``(generation key, value)`` pairs this model sets instead of the shared ``generation``'s.
        named: The entry gave its ``name`` (else it is derived from ``model_id``).
    """

    name: str
    model_id: str
    settings: tuple[tuple[str, Any], ...] = ()
    named: bool = False

    def to_data(self) -> str | dict[str, Any]:
        """The entry as a config writes it: the bare model id, or a mapping."""
        if not self.settings and not self.named:
            return self.model_id
        data: dict[str, Any] = {"model_id": self.model_id}
        if self.named:
            data["name"] = self.name
        data.update(self.settings)
        return data


def parse_models(key: str, value: Any, generation_keys: tuple[str, ...] = ()) -> tuple[ModelEntry, ...]:
    """Check ``models:`` and build its entries.

    Args:
        key: Its dotted key (``"models"``).
        value: The raw list.
        generation_keys: The ``generation`` keys an entry may set (empty: any key but the shared ones; the
            schema passes its fields).

    Raises:
        ConfigError: Not a non-empty list; an entry that is neither a model id nor a mapping with
            ``model_id``; an unknown or shared key; a bad or repeated name. One line naming the key.
    """
    if not isinstance(value, list | tuple) or not value:
        v.fail(key, "a non-empty list of model ids or mappings with model_id", value, with_kind=True)
    entries: list[ModelEntry] = []
    for i, raw in enumerate(value):
        at = f"{key}[{i}]"
        entry = _entry(at, raw, generation_keys)
        clash = next((j for j, e in enumerate(entries) if e.name == entry.name), None)
        if clash is not None:
            raise ConfigError(
                f"{at}: the name {entry.name!r} is already {key}[{clash}]'s; give each entry its own name: key"
            )
        entries.append(entry)
    return tuple(entries)


def _entry(at: str, raw: Any, generation_keys: tuple[str, ...]) -> ModelEntry:
    if isinstance(raw, str):
        model_id = v.string(allow_empty=False)(at, raw)
        return ModelEntry(model_label(model_id), model_id)
    if not isinstance(raw, dict):
        v.fail(at, "a model id or a mapping with model_id", raw, with_kind=True)
    if "model_id" not in raw:
        raise ConfigError(f"{at} is a mapping without model_id (add model_id: <hub id, folder or tiny model>)")
    allowed = (*ENTRY_KEYS, *(k for k in generation_keys if k != "model_id"))
    settings: list[tuple[str, Any]] = []
    for name, item in raw.items():
        if name in SHARED_KEYS:
            raise ConfigError(
                f"{at}.{name} is shared by every model (the same seeds compare the models): set generation.{name}"
            )
        if generation_keys and name not in allowed:
            near = v.closest(str(name), allowed)
            hint = f"did you mean {near[0]}?" if near else f"valid keys: {', '.join(allowed)}"
            raise ConfigError(f"unknown key {at}.{name} ({hint})")
        if name not in ENTRY_KEYS:
            settings.append((str(name), item))
    model_id = v.string(allow_empty=False)(f"{at}.model_id", raw["model_id"])
    named = raw.get("name") is not None
    name = raw["name"] if named else model_label(model_id)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        v.fail(f"{at}.name", "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
    return ModelEntry(name, model_id, tuple(settings), named)


def with_model_key(exc: ConfigError, at: str, entry: ModelEntry) -> ConfigError:
    """``exc`` (raised for one model's config) as one line naming that model's entry.

    A ``generation.<key>`` the entry set becomes ``<at>.<key>``; any other message gets the entry as a prefix.
    """
    text = str(exc)
    for name, _ in entry.settings:
        if text.startswith(f"generation.{name} "):
            return ConfigError(f"{at}.{text.removeprefix('generation.')}")
    return ConfigError(f"{at} ({entry.name}): {text}")


def replace_settings(entry: ModelEntry) -> dict[str, Any]:
    """The keyword arguments of ``dataclasses.replace(generation, ...)`` that make this model's section."""
    return {"model_id": entry.model_id, **dict(entry.settings)}


__all__ = [
    "COMPARISON_MODEL_ID",
    "ENTRY_KEYS",
    "SHARED_KEYS",
    "ModelEntry",
    "parse_models",
    "replace_settings",
    "with_model_key",
]

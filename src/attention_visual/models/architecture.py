"""What a model's transformer looks like, read from its ``config.json`` without loading any weights.

:func:`transformer_config` finds ``transformer/config.json`` in a local diffusers folder or in the
Hugging Face cache (never on the network), else in the architectures shipped for the public checkpoints
(:mod:`.public_checkpoints`); ``"tiny"`` knows its own architecture. Other pipelines extend
:func:`transformer_config`, and callers ask :func:`num_transformer_blocks`.

Example:
    >>> num_transformer_blocks("tiny")
    2
    >>> num_transformer_blocks("nobody/not-in-the-cache") is None
    True
    >>> num_transformer_blocks("Lightricks/LTX-Video-0.9.7-dev")  # shipped: no download needed
    48
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.models.tiny import TINY_MODEL_ID, TINY_NUM_LAYERS

log = logging.getLogger(__name__)

#: Where a diffusers pipeline keeps its transformer's configuration, relative to the model folder or repo.
TRANSFORMER_CONFIG = "transformer/config.json"
_CONFIG_PACKAGE = "attention_visual.models"
_CONFIG_DIR = "configs"


def architecture_names() -> tuple[str, ...]:
    """The names of the shipped architectures (``configs/<name>.json``: a public checkpoint's configs, no weights)."""
    folder = resources.files(_CONFIG_PACKAGE).joinpath(_CONFIG_DIR)
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")))


def shipped_config(name: str) -> dict[str, Any]:
    """The parsed ``configs/<name>.json``: ``name``, ``hub_id``, ``model_index``, ``vae``, ``transformer``.

    Raises:
        ConfigError: There is no such architecture (the message lists the names).
    """
    names = architecture_names()
    if name not in names:
        raise ConfigError(f"unknown model config {name!r}; shipped: {', '.join(names)}")
    data: dict[str, Any] = json.loads(
        resources.files(_CONFIG_PACKAGE).joinpath(_CONFIG_DIR, f"{name}.json").read_text(encoding="utf-8")
    )
    return data


def shipped_config_of(model_id: str) -> dict[str, Any] | None:
    """The shipped configs of the public checkpoint ``model_id`` (its Hub id, any case), or None.

    Example:
        >>> shipped_config_of("THUDM/CogVideoX-5b")["transformer"]["num_layers"]
        42
    """
    for name in architecture_names():
        data = shipped_config(name)
        if str(data["hub_id"]).lower() == model_id.lower():
            return data
    return None


def transformer_config(model_id: str) -> dict[str, Any] | None:
    """The transformer's ``config.json`` of ``model_id`` as a mapping, or None when it is not available offline.

    Args:
        model_id: ``"tiny"``, a local diffusers folder, or a Hub id (looked up in the local cache only, then
            among the shipped architectures).

    Returns:
        The parsed file (``{"num_layers": 30, ...}``), from a local folder, the Hugging Face cache, or the
        configs shipped for the public checkpoints (:func:`shipped_config_of`); None when none has it or
        it cannot be read (the reason is logged at debug level).
    """
    if model_id == TINY_MODEL_ID:
        return {"num_layers": TINY_NUM_LAYERS}
    local = Path(model_id).expanduser() / TRANSFORMER_CONFIG
    path: Path | None = local if local.is_file() else _cached(model_id)
    if path is None:
        shipped = shipped_config_of(model_id)
        return dict(shipped["transformer"]) if shipped is not None else None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.debug("cannot read %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def num_transformer_blocks(model_id: str, count_key: str = "num_layers") -> int | None:
    """How many blocks the config entry ``count_key`` counts, or None when the config is not available offline.

    ``count_key`` is what the model family says counts a module list (``ModelFamily.block_counts``: Wan
    ``num_layers`` for ``blocks``, ``vace_layers`` for ``vace_blocks``); an integer entry is the count,
    a list entry counts by its length.
    """
    config = transformer_config(model_id)
    if config is None:
        return None
    value = config.get(count_key)
    if isinstance(value, list):
        return len(value) or None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _cached(repo_id: str) -> Path | None:
    """The cached ``transformer/config.json`` of the Hub repo ``repo_id``, without reaching the network."""
    from huggingface_hub import try_to_load_from_cache  # deferred: only needed for Hub ids

    try:
        found = try_to_load_from_cache(repo_id, TRANSFORMER_CONFIG)
    except ValueError as exc:  # not a valid repo id (HFValidationError)
        log.debug("no cache lookup for %r: %s", repo_id, exc)
        return None
    return Path(found) if isinstance(found, str) else None


__all__ = [
    "TRANSFORMER_CONFIG",
    "architecture_names",
    "num_transformer_blocks",
    "shipped_config",
    "shipped_config_of",
    "transformer_config",
]

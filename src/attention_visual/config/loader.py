"""Read a YAML config, apply ``dotted.key=value`` overrides and build a validated :class:`Config`.

Everything is checked here, once, and every problem is a one-line
:class:`~attention_visual.errors.ConfigError` that names the dotted key::

    unknown key attention_analysis.store_atention (did you mean store_attention?)
    attention_analysis.visualization_params.overlay_alpha must be in [0, 1], got 1.5
    prompts[2]: unbalanced '(' at column 14

Example:
    >>> cfg = load_config("configs/example_minimal.yaml", overrides=["generation.seed=7"])
    >>> cfg.generation.seed
    7
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import re
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from attention_visual.config import validation as v
from attention_visual.config.inputs import split_prompt_entries
from attention_visual.config.models import COMPARISON_MODEL_ID, parse_models
from attention_visual.config.schema import Config, GenerationConfig
from attention_visual.errors import ConfigError

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Top-level keys that name where the prompts come from; exactly one of them must be set.
_PROMPT_SOURCES = ("prompts", "prompts_file")
#: Config fields the loader fills itself (from the prompt entries), never read from YAML.
_DERIVED = ("prompt_inputs",)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads ``1e-3`` as a float (as YAML 1.2 does)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes lists of numbers on one line (``figsize: [12.0, 8.0]``, ``steps: [0, 5]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    numeric = bool(data) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True if numeric else None)


_Dumper.add_representer(list, _represent_list)

# YAML 1.1 (PyYAML) reads "1e-3" as a string; read it as a number, and quote such strings when dumping.
_EXPONENT_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
for _cls in (_StrictLoader, _Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, Any]:
    """Return ``(problem text on one line, mark or None)`` of a PyYAML error."""
    problem = getattr(exc, "problem", None) or str(exc)
    return " ".join(str(problem).split()), getattr(exc, "problem_mark", None)


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Load, override and validate a YAML config file.

    Args:
        path: The YAML file. A relative ``prompts_file`` in it resolves against its folder.
        overrides: ``"dotted.key=value"`` strings applied in order; values are YAML, e.g.
            ``"generation.seed=7"``, ``"attention_analysis.visualization_params.figsize=[10,6]"``,
            ``'prompts=["a (cat)"]'``.

    Returns:
        The validated config.

    Raises:
        ConfigError: The file is missing or not valid YAML, a key is unknown, a value is invalid, or an
            override is malformed; the message is one line and names the key.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        problem, mark = _yaml_problem(exc)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys, got {v.kind(data)}")
    log.debug("loaded config %s", file)
    return config_from_dict(data, overrides, base_dir=file.parent)


def config_from_dict(
    data: Mapping[str, Any],
    overrides: Sequence[str] = (),
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> Config:
    """Build a validated config from plain data (the parsed YAML), after applying overrides.

    Args:
        data: Sections and keys as in the YAML file; missing keys take their defaults. Not modified.
        overrides: ``"dotted.key=value"`` strings, see :func:`load_config`.
        base_dir: Folder a relative ``prompts_file`` and relative input files of prompt mappings
            resolve against (default: the working directory).

    Returns:
        The validated config; ``config_from_dict(cfg.to_dict()) == cfg``.

    Raises:
        ConfigError: A key is unknown, a value is invalid or an override is malformed.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"the config must be a mapping of keys, got {v.kind(data)}")
    tree: dict[Any, Any] = copy.deepcopy(dict(data))
    for text in overrides:
        apply_override(tree, text)
    _check_keys(Config, tree, "")
    for key in _DERIVED:
        if key in tree:
            raise ConfigError(f"unknown key {key} (inputs go in the prompt entries: - prompt: ...  image: ...)")
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    prompts, prompts_file = _resolve_prompts(tree, folder)
    prompts, prompt_inputs = split_prompt_entries("prompts", prompts, folder)
    fixed = {"prompts": prompts, "prompts_file": prompts_file, "prompt_inputs": prompt_inputs}
    if tree.get("models") is not None:  # a comparison (config.models): each entry names its model
        shared = tree.get("generation") or {}
        if isinstance(shared, dict) and "model_id" in shared:
            raise ConfigError("set the models either in models: or in generation.model_id, not both")
        fixed["models"] = parse_models("models", tree["models"], tuple(f.name for f in _fields(GenerationConfig)))
        if isinstance(shared, dict):  # (anything else is refused by the section's own check)
            tree["generation"] = {**shared, "model_id": COMPARISON_MODEL_ID}
    rest = {key: value for key, value in tree.items() if key not in (*_PROMPT_SOURCES, "models")}
    return _build(Config, rest, "", fixed)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Split ``"dotted.key=value"`` into the key path and the YAML-parsed value.

    The key is checked against the schema. An empty value is the empty string; ``null`` is None.

    Example:
        >>> parse_override("attention_analysis.visualization_params.figsize=[10, 6]")
        (('attention_analysis', 'visualization_params', 'figsize'), [10, 6])

    Raises:
        ConfigError: There is no ``=``, the key is unknown or the value is not valid YAML.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} must have the form dotted.key=value (e.g. generation.seed=7)")
    parts = tuple(key.split("."))
    cls: Any = Config
    for depth, name in enumerate(parts):
        prefix = ".".join(parts[:depth])
        if cls is None:
            raise ConfigError(f"override {text!r}: {prefix} is a value, not a section")
        names = [f.name for f in _fields(cls)]
        if name not in names:
            raise ConfigError(f"override {text!r}: {_unknown_key(v.join_key(prefix, name), name, names)}")
        cls = next(f for f in _fields(cls) if f.name == name).metadata.get("section")
    if not raw.strip():
        return parts, ""
    try:
        value = yaml.load(raw, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: invalid YAML value: {_yaml_problem(exc)[0]}") from exc
    return parts, value


def apply_override(tree: dict[Any, Any], text: str) -> None:
    """Apply one ``"dotted.key=value"`` override to the plain config data ``tree`` in place.

    Setting ``prompts`` drops ``prompts_file`` and the other way round, so an override can switch
    the prompt source of a config file.

    Raises:
        ConfigError: See :func:`parse_override`; also when a section on the path is not a mapping.
    """
    parts, value = parse_override(text)
    node = tree
    for depth, name in enumerate(parts[:-1]):
        child = node.get(name)
        if child is None:
            child = node[name] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[: depth + 1])} must be a mapping, got {v.kind(child)}")
        node = child
    node[parts[-1]] = value
    if len(parts) == 1 and parts[0] in _PROMPT_SOURCES and value is not None:
        other = _PROMPT_SOURCES[1 - _PROMPT_SOURCES.index(parts[0])]
        if tree.pop(other, None) is not None:
            log.debug("override %s replaces %s", parts[0], other)


def dump_config(config: Config) -> str:
    """Return ``config`` as YAML that :func:`load_config` reads back to an equal config.

    When the prompts come from ``prompts_file``, they are listed in a trailing comment.
    """
    text = yaml.dump(
        config.to_dict(),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    if config.prompts_file is not None:
        listed = "".join(f"#   {i}: {prompt}\n" for i, prompt in enumerate(config.prompts))
        text += f"# {len(config.prompts)} prompt(s) read from prompts_file:\n{listed}"
    return text


def _fields(cls: Any) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _unknown_key(full_key: str, name: str, valid: Sequence[str]) -> str:
    near = v.closest(name, valid)
    hint = f"did you mean {near[0]}?" if near else f"valid keys: {', '.join(valid)}"
    return f"unknown key {full_key} ({hint})"


def _check_keys(cls: Any, tree: Any, prefix: str) -> dict[Any, Any]:
    """Return ``tree`` as a mapping after checking that it is one and has only ``cls``'s keys."""
    if tree is None:  # an empty section in YAML ("generation:" with nothing under it)
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{prefix} must be a mapping, got {v.kind(tree)}")
    names = [f.name for f in _fields(cls)]
    for key in tree:
        if key not in names:
            raise ConfigError(_unknown_key(v.join_key(prefix, str(key)), str(key), names))
    return tree


def _build(cls: type[_T], tree: Any, prefix: str, fixed: Mapping[str, Any] | None = None) -> _T:
    """Instantiate the section ``cls`` from ``tree``, building nested sections first."""
    mapping = _check_keys(cls, tree, prefix)
    kwargs: dict[str, Any] = dict(fixed or {})
    for f in _fields(cls):
        if f.name in kwargs or f.name not in mapping:
            continue
        section = f.metadata.get("section")
        key = v.join_key(prefix, f.name)
        kwargs[f.name] = mapping[f.name] if section is None else _build(section, mapping[f.name], key)
    return cls(**kwargs)


def _resolve_prompts(tree: Mapping[str, Any], base_dir: Path) -> tuple[Any, Path | None]:
    """Return ``(prompts, prompts_file)``: the inline list as given, or the prompts read from the file."""
    inline, file = tree.get("prompts"), tree.get("prompts_file")
    if inline is not None and file is not None:
        raise ConfigError("set either prompts or prompts_file, not both")
    if inline is None and file is None:
        raise ConfigError("no prompts: set prompts (a list of prompts) or prompts_file (a text file)")
    if file is None:
        return inline, None
    path = v.path()("prompts_file", file).expanduser()
    path = (path if path.is_absolute() else base_dir / path).resolve()
    return _read_prompts_file(path), path


def _read_prompts_file(path: Path) -> tuple[str, ...]:
    """Read one prompt per line, skipping blank lines and ``#`` comments; check each prompt."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"prompts_file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read prompts_file {path}: {exc}") from exc
    prompts: list[str] = []
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            prompts.append(v.check_prompt(f"prompts[{len(prompts)}] ({path.name} line {line_no})", text))
    if not prompts:
        raise ConfigError(f"prompts_file {path} contains no prompts (blank lines and # comments are skipped)")
    return tuple(prompts)

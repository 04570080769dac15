"""Small, composable value checks used by the config schema.

A *check* is a function ``(key, value) -> value`` that returns the normalised value (an
``int`` given for a float field becomes a ``float``, a list becomes a tuple, ...) or raises
:class:`~attention_visual.errors.ConfigError` with a one-line message that names the full
dotted key, what is allowed and what was given::

    >>> integer(min_value=1)("generation.num_inference_steps", 0)
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: generation.num_inference_steps must be >= 1, got 0

The schema attaches one check to each field (``field(metadata={"check": ...})``) and
:func:`validate_fields` runs them from the dataclasses' ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from attention_visual.errors import AttentionVisualError, ConfigError, PromptError

Check: TypeAlias = Callable[[str, Any], Any]
"""``(dotted key, raw value) -> normalised value``; raises ConfigError naming the key."""

_MAX_SHOWN = 80


def join_key(prefix: str, name: str) -> str:
    """Return the dotted key ``prefix.name`` (just ``name`` at the top level)."""
    return f"{prefix}.{name}" if prefix else name


def show(value: Any) -> str:
    """Return a short one-line ``repr`` of ``value`` for an error message."""
    text = repr(str(value)) if isinstance(value, Path) else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def kind(value: Any) -> str:
    """Return the YAML-ish name of ``value``'s type ("a string", "a list", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def closest(word: str, options: Iterable[str], n: int = 1) -> list[str]:
    """Return up to ``n`` of ``options`` that look like ``word`` (difflib), best first."""
    return difflib.get_close_matches(word, list(options), n=n, cutoff=0.6)


def fail(key: str, expected: str, value: Any, *, with_kind: bool = False, hint: str = "") -> NoReturn:
    """Raise ``ConfigError("<key> must be <expected>, got <value>[ (<kind>)][<hint>]")``."""
    got = f"{show(value)} ({kind(value)})" if with_kind else show(value)
    raise ConfigError(f"{key} must be {expected}, got {got}{hint}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _bounds(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_num(lo)}"
    if hi is not None:
        return f"<= {_num(hi)}"
    return ""


def integer(
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    rule: tuple[Callable[[int], bool], str] | None = None,
) -> Check:
    """An ``int`` (``bool`` is not accepted) in ``[min_value, max_value]``.

    Args:
        min_value: Smallest allowed value, or None.
        max_value: Largest allowed value, or None.
        rule: An extra ``(predicate, description)``, e.g. ``(lambda n: n % 16 == 0, "a multiple of 16")``;
            a value failing it is reported as "must be <description>".
    """
    bounds = _bounds(min_value, max_value)

    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(key, f"an integer {bounds}".rstrip(), value, with_kind=True)
        if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
            fail(key, bounds, value)
        if rule is not None and not rule[0](value):
            fail(key, rule[1], value)
        return value

    return check


def number(*, min_value: float | None = None, max_value: float | None = None, min_open: bool = False) -> Check:
    """A finite ``int`` or ``float`` in the given range, returned as ``float``.

    Args:
        min_value: Smallest allowed value, or None.
        max_value: Largest allowed value, or None.
        min_open: True when ``min_value`` itself is not allowed (``> min_value``).
    """
    bounds = _bounds(min_value, max_value, min_open)

    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            fail(key, f"a number {bounds}".rstrip(), value, with_kind=True)
        too_low = min_value is not None and (value <= min_value if min_open else value < min_value)
        if too_low or (max_value is not None and value > max_value):
            fail(key, bounds, value)
        return float(value)

    return check


def boolean() -> Check:
    """``true`` or ``false`` (not 0/1, not a string)."""

    def check(key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            fail(key, "true or false", value, with_kind=True)
        return value

    return check


def choice(*options: str) -> Check:
    """One of the given strings, with a "did you mean" hint for near misses."""
    listed = ", ".join(repr(o) for o in options)

    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            near = closest(value, options) if isinstance(value, str) else []
            fail(key, f"one of {listed}", value, hint=f" (did you mean {near[0]!r}?)" if near else "")
        return value

    return check


def string(*, allow_empty: bool = True) -> Check:
    """A string; with ``allow_empty=False`` it must contain a non-blank character."""

    def check(key: str, value: Any) -> str:
        if not isinstance(value, str):
            fail(key, "a string", value, with_kind=True)
        if not allow_empty and not value.strip():
            fail(key, "a non-empty string", value)
        return value

    return check


def matches(pattern: str, description: str) -> Check:
    """A string that fully matches the regular expression ``pattern``; ``description`` says what."""
    compiled = re.compile(pattern)

    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or compiled.fullmatch(value) is None:
            fail(key, description, value)
        return value

    return check


def path() -> Check:
    """A non-empty string or path, returned as :class:`~pathlib.Path` (not resolved)."""

    def check(key: str, value: Any) -> Path:
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            fail(key, "a path", value, with_kind=True)
        return Path(value)

    return check


def optional(inner: Check) -> Check:
    """``null`` or whatever ``inner`` accepts."""

    def check(key: str, value: Any) -> Any:
        return None if value is None else inner(key, value)

    return check


def instance_of(cls: type[Any]) -> Check:
    """An instance of ``cls`` (used for nested sections built in Python)."""

    def check(key: str, value: Any) -> Any:
        if not isinstance(value, cls):
            fail(key, f"a {cls.__name__}", value, with_kind=True)
        return value

    return check


def tuple_of(cls: type[Any]) -> Check:
    """A tuple (or list) whose items are all instances of ``cls``; returned as a tuple."""

    def check(key: str, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple) or not all(isinstance(item, cls) for item in value):
            fail(key, f"a list of {cls.__name__}", value, with_kind=True)
        return tuple(value)

    return check


def positive_pair() -> Check:
    """Two positive numbers, e.g. a figure size ``[width, height]`` in inches; returns a float tuple."""

    def check(key: str, value: Any) -> tuple[float, float]:
        ok = isinstance(value, list | tuple) and len(value) == 2
        ok = ok and all(not isinstance(v, bool) and isinstance(v, int | float) for v in value)
        if not ok or not all(math.isfinite(v) and v > 0 for v in value):
            fail(key, "two positive numbers [width, height]", value)
        return (float(value[0]), float(value[1]))

    return check


def _index_list(key: str, value: Any, parse: Callable[[str, Any], int]) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        fail(key, "null (all) or a list", value, with_kind=True)
    if not value:
        fail(key, "null (all) or a non-empty list", value)
    return tuple(sorted({parse(f"{key}[{i}]", item) for i, item in enumerate(value)}))


def step_list() -> Check:
    """``null`` (all steps) or a non-empty list of step indices >= 0; returns a sorted unique tuple."""
    parse = integer(min_value=0)

    def check(key: str, value: Any) -> tuple[int, ...] | None:
        return _index_list(key, value, parse)

    return check


def block_list(lists: tuple[str, ...], modules: tuple[str, ...]) -> Check:
    """``null`` (all blocks) or a non-empty list of block indices or names like ``"blocks.7.attn2"``.

    Args:
        lists: The module lists a name may start with (``blocks``, ``vace_blocks``).
        modules: The attention attributes a name may end with (``attn2``).

    Returns a sorted tuple of unique block indices; which list the names meant is checked by
    :func:`block_names_in`.
    """
    pattern = block_name_pattern(lists, modules)
    expected = f"a block index >= 0 or a name like '{lists[0]}.7.{modules[0]}'"

    def parse(key: str, item: Any) -> int:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            return item
        found = pattern.fullmatch(item) if isinstance(item, str) else None
        if found is None:
            fail(key, expected, item)
        return int(found.group(2))

    def check(key: str, value: Any) -> tuple[int, ...] | None:
        return _index_list(key, value, parse)

    return check


def block_name_pattern(lists: tuple[str, ...], modules: tuple[str, ...]) -> re.Pattern[str]:
    """``<list>.<index>.<module>`` for any of ``lists`` and ``modules``; group 1 is the list, group 2 the index."""
    return re.compile(rf"({'|'.join(map(re.escape, lists))})\.(\d+)\.(?:{'|'.join(map(re.escape, modules))})")


def block_names_in(
    key: str,
    blocks: Any,
    block_list: str | None,
    lists: tuple[str, ...],
    modules: tuple[str, ...],
    main: tuple[str, ...],
) -> None:
    """Block names in the raw ``blocks`` value must name modules of ``block_list`` (``key``: the ``blocks`` key).

    With ``block_list`` None (the model's main stream) a name must use one of the ``main`` lists.
    """
    if not isinstance(blocks, list | tuple):
        return  # the field's own check reports it
    pattern = block_name_pattern(lists, modules)
    for i, item in enumerate(blocks):
        found = pattern.fullmatch(item) if isinstance(item, str) else None
        if found is None:
            continue
        named = found.group(1)
        if block_list is None and named not in main:
            raise ConfigError(
                f"{key}[{i}] {item!r} names a block of {named!r}, but block_list is not set (the main stream: "
                f"{', '.join(main)}); set block_list: {named}, or give indices"
            )
        if block_list is not None and named != block_list:
            raise ConfigError(
                f"{key}[{i}] {item!r} names a block of {named!r}, but block_list is {block_list!r} "
                f"(set block_list: {named}, or give indices)"
            )


def colormap() -> Check:
    """The name of a colormap registered with matplotlib (``matplotlib.colormaps``)."""

    def check(key: str, value: Any) -> str:
        import matplotlib  # deferred: only needed when a config is validated

        names = list(matplotlib.colormaps)
        if not isinstance(value, str) or value not in matplotlib.colormaps:
            near = closest(value, names, n=3) if isinstance(value, str) else []
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            fail(key, "a matplotlib colormap name", value, hint=hint)
        return value

    return check


def check_prompt(label: str, text: Any) -> str:
    """Check that ``text`` is a non-empty, well-formed marked prompt.

    Args:
        label: How the error names the prompt, e.g. ``"prompts[2]"``.
        text: The prompt as written, with ``(word)`` markers.

    Returns:
        ``text`` unchanged.

    Raises:
        ConfigError: ``"prompts[2]: unbalanced '(' at column 14"`` and the like.
    """
    from attention_visual.prompts import parse_prompt  # deferred: importing config needs no parser

    if not isinstance(text, str):
        fail(label, "a string", text, with_kind=True)
    if not text.strip():
        fail(label, "a non-empty string", text)
    try:
        parse_prompt(text)
    except PromptError as exc:
        raise ConfigError(f"{label}: {exc}") from exc
    return text


def prompt_list() -> Check:
    """A non-empty list of marked prompts (each checked with :func:`check_prompt`); returns a tuple."""

    def check(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            fail(key, "a list of prompts", value, with_kind=True)
        if not value:
            fail(key, "a non-empty list of prompts", value)
        return tuple(check_prompt(f"{key}[{i}]", text) for i, text in enumerate(value))

    return check


def checked(check: Check) -> dict[str, Any]:
    """Field metadata that attaches ``check`` to a dataclass field (run by :func:`validate_fields`)."""
    return {"check": check}


def validate_fields(obj: Any, prefix: str, error: type[AttentionVisualError] = ConfigError) -> None:
    """Run the check of each field of the (frozen) dataclass ``obj`` and store the normalised value.

    Args:
        obj: A dataclass instance whose fields may carry ``metadata["check"]``.
        prefix: The dotted key of ``obj``'s section ("" at the top level).
        error: The error class raised, with the check's message (e.g. ``RenderError`` for
            ``RenderOptions``, which share the config's checks).
    """
    for f in dataclasses.fields(obj):
        check: Check | None = f.metadata.get("check")
        if check is not None:
            try:
                value = check(join_key(prefix, f.name), getattr(obj, f.name))
            except ConfigError as exc:
                if error is ConfigError:
                    raise
                raise error(str(exc)) from exc
            object.__setattr__(obj, f.name, value)

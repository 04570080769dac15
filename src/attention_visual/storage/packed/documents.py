"""A packed store's ``zarr.json`` documents, read without trusting them.

Every ``zarr.json`` the packed reader uses is read here: a regular file inside the store (no link),
of at most :data:`~attention_visual.storage.schema.limits.MAX_JSON_BYTES`, a JSON object. An
array's document is checked before anything it describes is allocated or decoded:

* ``shape`` is a list of non-negative integers, ``[entry, *map]``, with at most
  :data:`~attention_visual.storage.schema.limits.MAX_ENTRIES` entries and maps within the limits of
  :func:`~attention_visual.storage.schema.limits.check_map_shape` (a shape ``[1e5] * 4``, a negative or
  a string length, ``float64`` objects... are refused);
* its attributes agree with it: one ``steps`` (or ``videos``) entry and one ``overrides`` entry per
  array entry, the metadata's ``shape`` and ``dtype`` equal to the array's.

Anything else is one :class:`~attention_visual.errors.AttentionDataError` naming the file.

Example:
    >>> check_array({"shape": [2, 3, 4, 5], "data_type": "float16"}, Path("x/zarr.json"))
    PackedShape(shape=(2, 3, 4, 5), dtype=dtype('float16'))
    >>> check_array({"shape": [2, -3, 4, 5], "data_type": "float16"}, Path("x/zarr.json"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attention_visual.errors.AttentionDataError: x/zarr.json: shape [2, -3, 4, 5]: every length must be a ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError
from attention_visual.storage.durable.reading import read_json_object
from attention_visual.storage.schema.limits import (
    MAX_JSON_BYTES,
    MAX_MAP_AXES,
    check_entries,
    check_lengths,
    check_map_shape,
    readable_dtype,
)


@dataclass(frozen=True)
class PackedShape:
    """What a packed array's ``zarr.json`` declares, checked: ``[entry, *map]`` and the stored dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype


def read_document(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (a ``zarr.json``): a regular file, no link, at most ``MAX_JSON_BYTES``.

    Raises:
        AttentionDataError: A link, too large, not JSON or not an object.
        StorageError: It cannot be read (permission denied, I/O error).
    """
    return read_json_object(path, MAX_JSON_BYTES, "packed-store metadata")


def attributes_of(document: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``attributes`` object of a document (``{}`` when it has none)."""
    attrs = document.get("attributes", {})
    if not isinstance(attrs, dict):
        raise AttentionDataError(f"{path}: unreadable packed-store metadata (attributes are not an object)")
    return attrs


def check_array(document: dict[str, Any], path: Path) -> PackedShape:
    """The shape and dtype of a packed array's document, checked against the limits (errors name ``path``)."""
    try:
        shape = check_lengths(document.get("shape"), max_axes=MAX_MAP_AXES + 1)
        check_entries(shape[0], "entries (the shape's first length)")
        dtype = readable_dtype(document.get("data_type"))
        check_map_shape(list(shape[1:]), dtype)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc
    return PackedShape(shape, dtype)


_MAP_KEYS = frozenset({"shape", "dtype"})


def _same_map(meta: dict[str, Any], array: PackedShape) -> bool:
    """A metadata dict (``base`` or an override) whose ``shape`` and ``dtype``, where given, are the array's."""
    shape, dtype = meta.get("shape", list(array.shape[1:])), meta.get("dtype", array.dtype.name)
    return isinstance(shape, list) and shape == list(array.shape[1:]) and dtype == array.dtype.name


def check_attributes(attrs: dict[str, Any], array: PackedShape, path: Path) -> None:
    """A packed array's attributes against its shape: one ``steps`` or ``videos`` entry and one override
    per array entry; every entry's metadata of the array's map shape and dtype (errors name ``path``).
    """
    entries = array.shape[0]
    key = "steps" if "steps" in attrs else "videos"
    labels, overrides, base = attrs.get(key), attrs.get("overrides"), attrs.get("base")
    kind = int if key == "steps" else str
    problem = None
    if not isinstance(attrs.get("word"), str):
        problem = "no word"
    elif not isinstance(labels, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in labels):
        problem = f"'{key}' is not a list of {'step indices' if key == 'steps' else 'video ids'}"
    elif not isinstance(overrides, list) or not isinstance(base, dict):
        problem = "no 'base' and 'overrides' metadata"
    elif not len(labels) == len(overrides) == entries or len(set(labels)) != len(labels):
        problem = f"{len(labels)} {key} and {len(overrides)} metadata entries for an array of {entries}"
    elif not all(isinstance(o, dict) for o in overrides):
        problem = "'overrides' is not a list of objects"
    elif entries and not all(_same_map(m, array) for m in (base, *(o for o in overrides if _MAP_KEYS & o.keys()))):
        problem = f"metadata of another shape or dtype than the array's {list(array.shape[1:])} {array.dtype.name}"
    if problem is not None:
        raise AttentionDataError(f"{path}: inconsistent packed array ({problem})")


__all__ = [
    "PackedShape",
    "attributes_of",
    "check_array",
    "check_attributes",
    "read_document",
]

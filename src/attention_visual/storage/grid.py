"""Reduce a stored array to the token grid ``[frame, y, x]``: one rule for every reader.

A stored array is ``[*leading, frame, y, x]`` with ``leading`` a subset of ``(pass, block, head)``
(see :mod:`.metadata`). The grid keeps one guidance pass (``pass_name``) and averages the
``block`` and ``head`` axes, as the default capture does on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attention_visual.errors import NotFoundError


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "(none)"


def reduce_to_grid(
    array: np.ndarray, axes: Sequence[str], passes: Sequence[str], pass_name: str = "cond"
) -> np.ndarray:
    """``[*outer, frame, y, x]`` float32 from ``[*outer, *leading, frame, y, x]``.

    ``axes`` names the trailing ``len(axes)`` dimensions of ``array`` (the metadata's ``axes``); any
    dimensions before them (``outer``, e.g. a step axis of a stack) are kept.

    Raises:
        NotFoundError: ``pass_name`` is not among the stored ``passes``.

    >>> reduce_to_grid(np.ones((2, 3, 1, 2, 2)), ("block", "head", "frame", "y", "x"), ("cond",)).shape
    (1, 2, 2)
    """
    if pass_name not in passes:
        raise NotFoundError(f"pass {pass_name!r} not stored; available passes: {_listing(list(passes))}")
    arr = np.asarray(array)  # [*outer, *leading, frame, y, x]
    outer = arr.ndim - len(axes)
    names = list(axes)
    if "pass" in names:
        arr = np.take(arr, list(passes).index(pass_name), axis=outer + names.index("pass"))
        names.remove("pass")
    leading = tuple(range(outer, outer + len(names) - 3))
    if leading:
        return np.asarray(arr.mean(axis=leading, dtype=np.float32))
    return arr.astype(np.float32, copy=False)


__all__ = ["reduce_to_grid"]

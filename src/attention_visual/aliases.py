"""Older keyword names that keep working: in the public API a *word* is a marked target of the prompt and a
*token* a piece of the tokenizer; the seed API said ``token``/``token_word`` for the word.

Example:
    >>> @keyword_aliases(token_word="word")
    ... def show(video_id: str, word: str) -> str:
    ...     return f"{video_id}/{word}"
    >>> show("v1", token_word="kiss")
    'v1/kiss'
    >>> show("v1", word="kiss", token_word="kiss")
    Traceback (most recent call last):
    ...
    TypeError: show() got both 'word' and its older name 'token_word'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
R = TypeVar("R")


def keyword_aliases(**renames: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept the keyword ``old`` as ``new`` for each ``old="new"`` given (positional calls are unchanged)."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            named = cast(dict[str, Any], kwargs)
            for old, new in renames.items():
                if old in named:
                    if new in named:
                        raise TypeError(f"{func.__name__}() got both {new!r} and its older name {old!r}")
                    named[new] = named.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


__all__ = ["keyword_aliases"]

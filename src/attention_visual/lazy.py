"""Lazy package attributes: a package names what it exports and the module defining each is imported on first use.

Used by the packages whose exports pull in heavy modules (torch, pandas, matplotlib) that not every caller needs.

Example:
    >>> __getattr__ = lazy_exports("attention_visual", {"ConfigError": "attention_visual.errors"})
    >>> __getattr__("ConfigError").__name__
    'ConfigError'
    >>> __getattr__("NoSuchThing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'attention_visual' has no attribute 'NoSuchThing'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports ``exports[name]`` when ``name`` is first asked for.

    Args:
        package: The package's ``__name__`` (for the error message and relative module names).
        exports: ``{public name: module that defines it}``; a module name may be relative (``".batch"``).
    """

    def get_attribute(name: str) -> Any:
        if name in exports:
            return getattr(import_module(exports[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return get_attribute


__all__ = ["lazy_exports"]

"""Optional dependencies of the analysis tools and the packed store (the ``analysis`` extra), imported on first use."""

from __future__ import annotations

import importlib
from types import ModuleType

from attention_visual.errors import AttentionVisualError

EXTRA = "analysis"


class MissingDependencyError(AttentionVisualError, ImportError):
    """An optional dependency of the analysis tools is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise one line naming the extra that provides it.

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{top} is needed for the analysis tools: pip install 'attention_visual[{EXTRA}]'"
        ) from exc


__all__ = ["EXTRA", "MissingDependencyError", "require"]

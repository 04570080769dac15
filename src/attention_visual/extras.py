"""The optional dependency groups ("extras") of the package, and the one-line error when one is missing.

``pip install attention_visual`` installs what reading stores and rendering videos, plots and reports
needs; ``pip install "attention_visual[wan]"`` adds what generating and capturing needs. The modules
that need the ``wan`` extra (:mod:`attention_visual.capture`, :mod:`attention_visual.models`, the batch
runner in :mod:`attention_visual.pipeline`) call :func:`require_extra` before importing torch, so that a
light install fails with one line instead of a traceback ending in ``No module named 'torch'``.

Example:
    >>> EXTRAS["wan"]
    ('torch', 'diffusers', 'transformers')
    >>> require_extra("no-such-extra", "x")
    Traceback (most recent call last):
    ...
    KeyError: 'no-such-extra'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from attention_visual.errors import MissingExtraError

#: The extra that generation and capture need, for every model family (it was named when Wan was the only
#: one; the name stays so that existing installs and commands keep working).
GENERATION_EXTRA = "wan"

#: extra name -> the top-level modules it provides (the packages are declared in pyproject.toml).
EXTRAS: dict[str, tuple[str, ...]] = {
    GENERATION_EXTRA: ("torch", "diffusers", "transformers"),
    "analysis": ("pandas", "pyarrow", "xarray", "zarr", "dask"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when the extra is installed)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def has_extra(extra: str) -> bool:
    """Whether every module of ``extra`` is installed (nothing is imported)."""
    return not missing_modules(extra)


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` naming ``feature`` and the pip command if ``extra`` is missing.

    Args:
        extra: The extra's name, a key of :data:`EXTRAS`.
        feature: What needs it, e.g. ``"attention_visual.capture"``.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the {extra!r} extra ({', '.join(missing)} not installed): "
            f'pip install "attention_visual[{extra}]"'
        )


def import_from_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` (part of ``extra``), or raise :class:`MissingExtraError` with the pip command.

    >>> import_from_extra("numpy", "analysis").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module.split('.')[0]} is not installed; the {extra!r} extra provides it: "
            f'pip install "attention_visual[{extra}]"'
        ) from exc


__all__ = ["EXTRAS", "GENERATION_EXTRA", "has_extra", "import_from_extra", "missing_modules", "require_extra"]

"""Numbers from a batch's maps: tidy statistics tables, labelled arrays and the packed store.

Needs the ``analysis`` extra (pandas, pyarrow, xarray, zarr, dask); never imports torch, so it runs
on a laptop with the light install. Each name is imported on first use.

* :func:`batch_stats` / :func:`pair_stats` → pandas DataFrames; :func:`write_stats` streams them to
  Parquet/CSV (``attention-visual stats``).
* :func:`open_batch` → a lazy ``xarray.Dataset`` with dims ``(video, word, step, frame, y, x)``.
* :func:`pack_batch` / :func:`unpack_batch` → the Zarr v3 packed store and back
  (``attention-visual pack`` / ``unpack``).

Example:
    >>> from attention_visual.analysis import batch_stats                      # doctest: +SKIP
    >>> df = batch_stats("outputs/tiny_demo_20261129-060000")                   # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attention_visual.analysis.dataset import open_batch, word_averages
    from attention_visual.analysis.pack import PackResult, pack_batch, unpack_batch
    from attention_visual.analysis.table import (
        PAIR_COLUMNS,
        STATS_COLUMNS,
        StatsFiles,
        batch_stats,
        pair_stats,
        write_stats,
    )

_EXPORTS = {
    "PackResult": "attention_visual.analysis.pack",
    "open_batch": "attention_visual.analysis.dataset",
    "pack_batch": "attention_visual.analysis.pack",
    "unpack_batch": "attention_visual.analysis.pack",
    "word_averages": "attention_visual.analysis.dataset",
    "PAIR_COLUMNS": "attention_visual.analysis.table",
    "STATS_COLUMNS": "attention_visual.analysis.table",
    "StatsFiles": "attention_visual.analysis.table",
    "batch_stats": "attention_visual.analysis.table",
    "pair_stats": "attention_visual.analysis.table",
    "write_stats": "attention_visual.analysis.table",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'attention_visual.analysis' has no attribute {name!r}")


__all__ = [
    "PAIR_COLUMNS",
    "STATS_COLUMNS",
    "PackResult",
    "StatsFiles",
    "batch_stats",
    "open_batch",
    "pack_batch",
    "pair_stats",
    "unpack_batch",
    "word_averages",
    "write_stats",
]

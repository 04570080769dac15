"""Numbers from a batch's maps: tidy statistics tables, labelled arrays and the packed store.

Needs the ``analysis`` extra (pandas, pyarrow, xarray, zarr, dask); never imports torch, so it runs
on a laptop with the light install. Each name is imported on first use.

* :func:`batch_stats` / :func:`pair_stats` → pandas DataFrames; :func:`write_stats` streams them to
  Parquet/CSV (``attention-visual stats``).
* :func:`open_batch` → a lazy ``xarray.Dataset`` with dims ``(video, word, step, frame, y, x)``.
* :func:`word_seed_views` / :func:`batch_seed_views` → per prompt × word, the mean and standard-deviation
  maps over the seeds and their consistency score, and the same across prompts (numpy only);
  ``attention-visual seeds`` renders them as a grid video (:func:`write_seed_video`).
* :func:`pack_batch` / :func:`unpack_batch` → the Zarr v3 packed store and back
  (``attention-visual pack`` / ``unpack``).

Example:
    >>> from attention_visual.analysis import batch_stats                      # doctest: +SKIP
    >>> df = batch_stats("outputs/tiny_demo_20261129-060000")                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attention_visual.lazy import lazy_exports

if TYPE_CHECKING:
    from attention_visual.analysis.dataset import open_batch, word_averages
    from attention_visual.analysis.pack import PackResult, pack_batch, unpack_batch
    from attention_visual.analysis.seed_grid import write_seed_video
    from attention_visual.analysis.seeds import (
        SeedAccumulator,
        SeedView,
        WordSeedViews,
        batch_seed_views,
        consistency_score,
        pairwise_correlation,
        word_seed_views,
    )
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
    "SeedAccumulator": "attention_visual.analysis.seeds",
    "SeedView": "attention_visual.analysis.seeds",
    "WordSeedViews": "attention_visual.analysis.seeds",
    "batch_seed_views": "attention_visual.analysis.seeds",
    "consistency_score": "attention_visual.analysis.seeds",
    "pairwise_correlation": "attention_visual.analysis.seeds",
    "word_seed_views": "attention_visual.analysis.seeds",
    "write_seed_video": "attention_visual.analysis.seed_grid",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "PAIR_COLUMNS",
    "STATS_COLUMNS",
    "PackResult",
    "SeedAccumulator",
    "SeedView",
    "StatsFiles",
    "WordSeedViews",
    "batch_seed_views",
    "batch_stats",
    "consistency_score",
    "open_batch",
    "pack_batch",
    "pair_stats",
    "pairwise_correlation",
    "unpack_batch",
    "word_averages",
    "word_seed_views",
    "write_seed_video",
    "write_stats",
]

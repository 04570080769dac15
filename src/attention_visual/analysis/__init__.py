"""Numbers over a batch: cross-video (seed) views of each marked word.

Example:
    >>> from attention_visual.analysis import word_seed_views
    >>> word_seed_views("outputs/demo", "dog").by_prompt[2].consistency     # doctest: +SKIP
    0.83
"""

from attention_visual.analysis.seeds import (
    SeedAccumulator,
    SeedView,
    WordSeedViews,
    batch_seed_views,
    consistency_score,
    pairwise_correlation,
    word_seed_views,
)

__all__ = [
    "SeedAccumulator",
    "SeedView",
    "WordSeedViews",
    "batch_seed_views",
    "consistency_score",
    "pairwise_correlation",
    "word_seed_views",
]

"""Batch configuration: a YAML file validated once, at load, into frozen dataclasses.

Example:
    >>> from attention_visual.config import load_config, dump_config
    >>> cfg = load_config("configs/example_minimal.yaml", overrides=["generation.seed=7"])
    >>> cfg.generation.seed, cfg.attention_analysis.visualization_params.colormap
    (7, 'hot')
    >>> print(dump_config(cfg))  # doctest: +ELLIPSIS
    prompts:
    ...
      seed: 7
    ...
"""

from __future__ import annotations

from attention_visual.config.loader import config_from_dict, dump_config, load_config
from attention_visual.config.schema import (
    AttentionAnalysisConfig,
    Config,
    GenerationConfig,
    VisualizationParams,
)

__all__ = [
    "AttentionAnalysisConfig",
    "Config",
    "GenerationConfig",
    "VisualizationParams",
    "config_from_dict",
    "dump_config",
    "load_config",
]

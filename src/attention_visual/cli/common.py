"""Arguments shared by the subcommands that read a batch config (``config``, ``generate``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from attention_visual.config import Config, load_config


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``CONFIG`` file and the repeatable ``--set KEY=VALUE`` option.

    Read them back with :func:`config_from_args`.
    """
    parser.add_argument("config", type=Path, metavar="CONFIG", help="YAML config file")
    add_override_argument(parser)


def add_override_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--set KEY=VALUE`` (repeatable); the strings are collected in ``args.overrides``."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. generation.seed=7 or "
        "attention_analysis.visualization_params.figsize=[10,6] (the value is YAML; repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """Load and validate ``args.config`` with ``args.overrides`` applied (see :func:`add_config_arguments`).

    Raises:
        ConfigError: The config or an override is invalid.
    """
    return load_config(args.config, overrides=args.overrides)

"""``attention-visual config CONFIG [--set key=value ...]``: validate a config and print it resolved.

Besides the schema, it runs the same pre-flight checks as ``generate``
(:func:`~attention_visual.pipeline.validation.check_runnable`: marked words against the tokenizer,
blocks against the model's ``config.json``, the device), reading only local files.

The output is the config with every default filled in and the overrides applied, as YAML that
``attention-visual config`` (and :func:`attention_visual.config.load_config`) reads back unchanged.
"""

from __future__ import annotations

import argparse
import logging
import sys

from attention_visual.cli.common import add_config_arguments, config_from_args
from attention_visual.config import dump_config
from attention_visual.extras import GENERATION_EXTRA, has_extra

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``config`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "config",
        help="validate a config file and print it with defaults and overrides resolved",
        description="Load CONFIG, apply the --set overrides, validate everything `generate` checks before "
        "loading a model (prompts against the tokenizer, blocks, device) and print the resolved config as "
        "YAML. Exits with status 2 and a one-line message when it is invalid.",
    )
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the resolved config of ``args.config``; return the exit status (0)."""
    config = config_from_args(args)
    if has_extra(GENERATION_EXTRA):
        from attention_visual.pipeline.validation import check_runnable  # torch: load when used

        check_runnable(config)
    else:  # a light install: the schema is checked; tokenizer, blocks and device need the generation stack
        log.warning(
            "the 'wan' extra is not installed: the tokenizer, blocks and device checks of `generate` were "
            'skipped (pip install "attention_visual[wan]")'
        )
    log.debug("config %s is valid (%d prompt(s))", args.config, len(config.prompts))
    sys.stdout.write(dump_config(config))
    return 0

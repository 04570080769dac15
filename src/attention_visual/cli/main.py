"""Entry point of `attention-visual` / `python -m attention_visual`.

Each subcommand lives in its own module under ``attention_visual.cli`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``handler=`` to a function
``(args) -> int``. Errors derived from :class:`AttentionVisualError` are printed as one
line on stderr, with no traceback, and exit with their ``exit_status`` (2 for bad input, 1 for
a file that could not be written). An interruption (Ctrl-C, SIGTERM, SIGHUP: raised as an exception
by :func:`~attention_visual.pipeline.signals.interrupts_as_exceptions`, so every command's cleanup runs
and removes its temporary files) exits with 128 + its signal (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from attention_visual import __version__
from attention_visual.errors import AttentionVisualError
from attention_visual.logs import ShownOnce
from attention_visual.pipeline.signals import interrupts_as_exceptions

log = logging.getLogger("attention_visual")

#: Modules under attention_visual.cli that contribute a subcommand, in --help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "config_cmd",
    "generate_cmd",
    "video_cmd",
    "compare_cmd",
    "report_cmd",
    "stats_cmd",
    "pack_cmd",
    "seeds_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and a single line for usage errors (its default too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attention-visual",
        description="Capture, store and visualise the text→video attention of video diffusion models (Wan, LTX-Video).",
    )
    parser.add_argument("--version", action="version", version=f"attention-visual {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"attention_visual.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt as exc:  # also while the subcommands are imported, before any handler
        print(f"attention-visual: interrupted ({exc or 'SIGINT'})", file=sys.stderr)  # noqa: T201
        status = getattr(exc, "exit_status", 130)
        return status if isinstance(status, int) else 130


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    command = getattr(args, "handler", None)
    if command is None:
        parser.print_help()
        return 0
    filters = [(handler, ShownOnce()) for handler in logging.root.handlers]  # one each: a handler sees every record
    for handler, once in filters:
        handler.addFilter(once)
    try:
        with interrupts_as_exceptions():  # SIGTERM and SIGHUP too: cleanup runs, then exit 143, 129
            return int(command(args))
    except AttentionVisualError as exc:
        print(f"attention-visual: error: {exc}", file=sys.stderr)  # noqa: T201
        return exc.exit_status
    finally:
        for handler, once in filters:
            handler.removeFilter(once)

"""``attention-visual report``: write a batch's HTML report (``BATCH_DIR/report/index.html``).

Example::

    attention-visual report outputs/demo
    xdg-open outputs/demo/report/index.html
    attention-visual report /shared/readonly/batch --output ~/batch_report   # a read-only batch

A file that cannot be written (read-only folder, disk full) ends the command with one line and
exit status 1. A map file that cannot be read (damaged, truncated, a link out of the store): the page
is written and marks it, then the command ends with one line naming it and exit status 2.

Writing into the batch (the default ``BATCH_DIR/report``, or an ``--output`` inside it) changes the
batch: the command takes the batch lock, and exits 2 with one line naming the holder while another
command (``generate``, ``pack``…) changes it. An ``--output`` inside a map store or onto the batch's own
files is refused (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from attention_visual.errors import AttentionDataError, StorageError
from attention_visual.render.options import NORMALIZATIONS
from attention_visual.report.build import unreadable_maps, write_report
from attention_visual.storage.batch.layout import REPORT_DIR
from attention_visual.storage.batch.lock import BatchLock, lock_batch


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="write a batch's self-contained HTML report (BATCH_DIR/report/index.html)",
        description="Write BATCH_DIR/report/index.html: every prompt, video and marked word of a batch, with "
        "a step and frame slider over each word's map. It opens from file:// with no server or network. "
        "See docs/report.md.",
    )
    parser.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a batch folder (with manifest.json)")
    parser.add_argument("--colormap", default=None, help="colormap of the maps (default: the batch config's)")
    parser.add_argument(
        "--normalization",
        choices=NORMALIZATIONS,
        default=None,
        help="how map colours are scaled (default: the batch config's)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the report into DIR instead of BATCH_DIR/report (e.g. for a read-only batch); "
        "its links to the batch's videos are relative",
    )
    parser.add_argument(
        "--no-plots",
        dest="plots",
        action="store_false",
        help="leave out each video's curves of its words over steps and frames",
    )
    parser.add_argument(
        "--no-batch-view",
        dest="batch_view",
        action="store_false",
        help="skip the batch view (statistics table, seed grids, curves, centroid paths, atlas)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``attention-visual report``; print the page's path and return the exit status."""
    target = args.output if args.output is not None else args.batch_dir / REPORT_DIR
    into_batch = args.batch_dir.is_dir() and (  # by its name or where its links lead: a linked report/ is refused
        Path(os.path.normpath(target.absolute())).is_relative_to(os.path.normpath(args.batch_dir.absolute()))
        or target.resolve().is_relative_to(args.batch_dir.resolve())
    )
    with _lock(args.batch_dir) if into_batch else contextlib.nullcontext():
        index = write_report(
            args.batch_dir,
            colormap=args.colormap,
            normalization=args.normalization,
            comparison_plots=args.plots,
            batch_view=args.batch_view,
            output_dir=args.output,
        )
    sys.stdout.write(f"{index.absolute()}\n")
    problems = unreadable_maps(args.batch_dir, args.output)
    if problems:  # the page is written and marks them; the exit status says the batch holds bad files
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise AttentionDataError(f"{problems[0]}{more}; the report {index} marks the unreadable maps")
    return 0


def _lock(batch_dir: Path) -> BatchLock:
    """The batch lock for writing the report into the batch (a read-only batch: the hint to write elsewhere)."""
    try:
        return lock_batch(batch_dir, "report")
    except StorageError as exc:
        raise StorageError(f"{exc}; to browse a read-only batch, write its report elsewhere with --output DIR") from exc


__all__ = ["register", "run"]

"""``attention-visual stats``: a batch's statistics table (and word-pair table) as Parquet or CSV.

Example::

    attention-visual stats outputs/demo                                  # outputs/demo/analysis/stats.parquet
    attention-visual stats outputs/demo --output stats.csv --pairs pairs.parquet
    attention-visual stats outputs/compare --model tiny --model tiny-ltx --output two.parquet   # a comparison
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stats`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "stats",
        help="write a batch's statistics table: one row per video × word × step × latent frame",
        description="Write the tidy statistics table of a batch (mass, peak, entropy, centroid, spread, mask "
        "area of every map; step -1 is the step average), streaming video by video. Reads the files layout "
        "and the packed store alike. See docs/analysis.md.",
    )
    parser.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a batch folder")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="the table file, .parquet or .csv (default: BATCH_DIR/analysis/stats.parquet)",
    )
    parser.add_argument("--pairs", type=Path, default=None, help="also write the word-pair table (.parquet or .csv)")
    parser.add_argument("--pass", dest="pass_name", default="cond", help="guidance pass when both were stored")
    parser.add_argument(
        "--include-incomplete", action="store_true", help="also read videos whose capture did not finish"
    )
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        default=[],
        metavar="NAME",
        help="only the videos of this model (the table's model column; repeat for several)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``attention-visual stats``; print the written files' paths."""
    from attention_visual.analysis.table import check_table_path, write_stats

    for path in (args.output, args.pairs):
        if path is not None:
            check_table_path(path)  # before reading any map
    written = write_stats(
        args.batch_dir,
        output=args.output,
        pairs=args.pairs,
        pass_name=args.pass_name,
        include_incomplete=args.include_incomplete,
        models=tuple(args.models),
    )
    sys.stdout.write(f"{written.stats.absolute()}\n")
    if written.pairs is not None:
        sys.stdout.write(f"{written.pairs.absolute()}\n")
    return 0


__all__ = ["register", "run"]

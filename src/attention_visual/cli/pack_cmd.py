"""``attention-visual pack`` / ``unpack``: a batch's maps into one Zarr store and back.

Example::

    attention-visual pack outputs/demo        # outputs/demo/attention_maps/ → outputs/demo/attention_maps.zarr
    attention-visual unpack outputs/demo      # and back, with the same arrays and metadata

Each is a transaction under the batch lock (docs/analysis.md, "The packed store"): a kill at any moment
leaves the batch readable, and running the command again finishes or rolls back what it finds. Exit
status: 0 done (or nothing to do); 2 bad input (no maps, files that are not maps in the store, the batch
in use by another command); 1 disk full or read-only (the batch unchanged); 128 + the signal when
interrupted (the batch as it was, or packed when the interruption came after the new layout was verified).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pack`` and ``unpack`` subcommands to the ``attention-visual`` parser."""
    pack = subparsers.add_parser(
        "pack",
        help="pack a batch's maps into one Zarr store (BATCH_DIR/attention_maps.zarr)",
        description="Write every map of BATCH_DIR/attention_maps/ into BATCH_DIR/attention_maps.zarr (Zarr v3: "
        "one shard file per video × word, one chunk per step, metadata as attributes), check it against "
        "attention_maps/ value by value, then remove attention_maps/. Every command reads packed batches as "
        "before. Files in attention_maps/ that are not maps are refused (listed), never deleted. See "
        "docs/analysis.md.",
    )
    pack.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a batch folder")
    pack.add_argument("--keep", action="store_true", help="keep attention_maps/ as attention_maps.kept/ (unread)")
    pack.set_defaults(handler=run_pack)
    unpack = subparsers.add_parser(
        "unpack",
        help="restore a packed batch's attention_maps/ folder (the files layout)",
        description="Write BATCH_DIR/attention_maps/ back from BATCH_DIR/attention_maps.zarr: the same arrays, "
        "metadata and completion marks, each map in its original .npz/.pt format; check it against the store "
        "value by value, then remove the Zarr store.",
    )
    unpack.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a packed batch folder")
    unpack.add_argument(
        "--keep", action="store_true", help="keep attention_maps.zarr as attention_maps.zarr.kept (unread)"
    )
    unpack.set_defaults(handler=run_unpack)


def run_pack(args: argparse.Namespace) -> int:
    """Handle ``attention-visual pack``; print the store's path."""
    from attention_visual.analysis.pack import pack_batch

    result = pack_batch(args.batch_dir, keep_seed=args.keep)  # a signal rolls back (or finishes): cli.main
    sys.stdout.write(f"{result.path.absolute()}\n")
    return 0


def run_unpack(args: argparse.Namespace) -> int:
    """Handle ``attention-visual unpack``; print the restored folder's path."""
    from attention_visual.analysis.pack import unpack_batch

    result = unpack_batch(args.batch_dir, keep_packed=args.keep)
    sys.stdout.write(f"{result.path.absolute()}\n")
    return 0


__all__ = ["register", "run_pack", "run_unpack"]

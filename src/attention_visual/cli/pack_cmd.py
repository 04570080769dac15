"""``attention-visual pack`` / ``unpack``: a batch's maps into one Zarr store and back.

Example::

    attention-visual pack outputs/demo        # outputs/demo/attention_maps/ → outputs/demo/attention_maps.zarr
    attention-visual unpack outputs/demo      # and back, with the same arrays and metadata
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
        "one shard file per video × word, one chunk per step, metadata as attributes), then remove "
        "attention_maps/. Every command reads packed batches as before. See docs/analysis.md.",
    )
    pack.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a batch folder")
    pack.add_argument("--keep", action="store_true", help="keep attention_maps/ after packing")
    pack.set_defaults(handler=run_pack)
    unpack = subparsers.add_parser(
        "unpack",
        help="restore a packed batch's attention_maps/ folder (the files layout)",
        description="Write BATCH_DIR/attention_maps/ back from BATCH_DIR/attention_maps.zarr: the same arrays, "
        "metadata and completion marks, each map in its original .npz/.pt format; then remove the Zarr store.",
    )
    unpack.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a packed batch folder")
    unpack.add_argument("--keep", action="store_true", help="keep attention_maps.zarr after unpacking")
    unpack.set_defaults(handler=run_unpack)


def run_pack(args: argparse.Namespace) -> int:
    """Handle ``attention-visual pack``; print the store's path."""
    from attention_visual.analysis.pack import pack_batch

    result = pack_batch(args.batch_dir, keep_seed=args.keep)
    sys.stdout.write(f"{result.path.absolute()}\n")
    return 0


def run_unpack(args: argparse.Namespace) -> int:
    """Handle ``attention-visual unpack``; print the restored folder's path."""
    from attention_visual.analysis.pack import unpack_batch

    result = unpack_batch(args.batch_dir, keep_packed=args.keep)
    sys.stdout.write(f"{result.path.absolute()}\n")
    return 0


__all__ = ["register", "run_pack", "run_unpack"]

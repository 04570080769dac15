"""``attention-visual compare``: the temporal comparison figure of several words of one video.

Example::

    attention-visual compare --attention-dir outputs/b/attention_maps --video-id prompt_001_vid_001 \\
        --words kiss flowers --output temporal.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attention_visual.cli.video_cmd import add_source_arguments, build_visualizer, check_output, positive_int
from attention_visual.errors import RenderError
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "compare",
        help="compare words of one video across denoising steps and video frames (PNG)",
        description="Plot attention mass, peak and entropy of several words across denoising steps and "
        "video frames, with a grid of each word's map at a few steps. See docs/visualization.md.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--words", "--tokens", dest="words", nargs="+", required=True, metavar="WORD",
        help="the marked words to compare (--tokens: the older name)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, required=True, help="output image (.png, .pdf, .svg, ...)")
    parser.add_argument("--snapshots", type=positive_int, default=4, help="steps shown per word (default 4)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``attention-visual compare``; return the exit status."""
    if args.video_id is None:
        raise RenderError("missing --video-id")
    analyzer = AttentionAnalyzer(args.attention_dir)
    check_output(args.output, analyzer)
    visualizer = build_visualizer(analyzer, args)
    visualizer.generate_temporal_comparison(args.video_id, args.words, args.output, snapshots=args.snapshots)
    sys.stdout.write(f"{Path(args.output).absolute()}\n")
    return 0


__all__ = ["register", "run"]

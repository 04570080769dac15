"""``attention-visual video``: render a word's attention video (also ``scripts/generate_attention_video.py``).

Examples::

    attention-visual video --attention-dir outputs/b/attention_maps --list-available
    attention-visual video --attention-dir outputs/b/attention_maps --video-id prompt_001_vid_001 \\
        --word kiss --output kiss.mp4 --interpolation-steps 2 --include-timestamp
    attention-visual video ... --original-video outputs/b/videos/prompt_001_vid_001.mp4 --overlay-alpha 0.5

Bad input (unknown video or word, alpha outside [0, 1], fps <= 0, malformed figsize, unwritable
output, an output inside a map store or onto a file of the batch such as one of its generated videos,
corrupted map) ends with one line on stderr and exit status 2; no existing file is touched.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from attention_visual.errors import RenderError
from attention_visual.render.options import NORMALIZATIONS, VIDEO_FORMATS, RenderOptions
from attention_visual.render.sources import LAYOUTS
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch.layout import output_conflict
from attention_visual.storage.files.layout import AGGREGATED_DIR
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.attention_visualizer import AttentionVisualizer

log = logging.getLogger(__name__)

#: CLI options that override a ``visualization_params`` key of the same name.
PARAM_OPTIONS = (
    "figsize", "colormap", "overlay_alpha", "static_duration", "fps", "interpolation_steps",
    "include_colorbar", "video_format", "normalization",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``video`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "video",
        help="render a word's attention as a video (steps, overlay on the generated video, step average)",
        description="Render the stored attention of one word of one video. Without --original-video: "
        "a step video; with it: the generated video with the attention overlaid. See docs/visualization.md.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every option of the ``video`` command to ``parser``."""
    add_source_arguments(parser)
    parser.add_argument(
        "--word", "--token", dest="word", help="the marked word, as written in the prompt (--token: the older name)"
    )
    parser.add_argument("--output", type=Path, help="output video (.mp4, .avi or .gif)")
    parser.add_argument("--list-available", action="store_true", help="list videos, words and steps, then exit")
    parser.add_argument("--original-video", type=Path, help="the generated video: overlay the attention on it")
    parser.add_argument("--overlay-alpha", type=unit_interval, help="heatmap opacity over the video, in [0, 1]")
    parser.add_argument("--use-aggregated", action="store_true", help="the step average instead of the steps")
    parser.add_argument(
        "--step", type=int, help="overlay this stored step (0-based: 0 is the first) instead of the step average"
    )
    parser.add_argument(
        "--frame", type=frame_mode, default="mean", help="step videos: mean (default), tile, or a latent frame index"
    )
    parser.add_argument("--layout", choices=LAYOUTS, default="overlay", help="overlay layout (default overlay)")
    parser.add_argument("--include-timestamp", action="store_true", help="show step / denoising progress or time")
    parser.add_argument("--static-duration", type=positive_float, help="seconds the step average is shown")
    add_video_look_arguments(parser)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``compare``: where the maps are and how they look."""
    parser.add_argument(
        "--attention-dir",
        type=Path,
        required=True,
        help="the batch's maps: its attention_maps/ or attention_maps.zarr path (either reads the layout the "
        "batch has), or the batch folder",
    )
    parser.add_argument("--video-id", help="the video, e.g. prompt_001_vid_001")
    add_look_arguments(parser)
    parser.add_argument("--config", type=Path, help="take visualization_params from this config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value (with --config; repeatable)")  # fmt: skip


def add_look_arguments(parser: argparse.ArgumentParser, *, batch_defaults: bool = False) -> None:
    """Add --colormap, --fps, --figsize, --normalization and --dpi: how the maps look.

    Shared by ``video``, ``compare`` and ``seeds``. The help names the default: :class:`RenderOptions`'
    or, with ``batch_defaults``, the batch config's.
    """
    base = RenderOptions()
    size = ",".join(f"{side:g}" for side in base.figsize)

    def default(value: object) -> str:
        return "default: the batch config's" if batch_defaults else f"default {value}"

    parser.add_argument("--colormap", help=f"any matplotlib colormap ({default(base.colormap)})")
    parser.add_argument(
        "--fps", type=positive_float, help=f"frames per second of step videos, > 0 ({default(f'{base.fps:g}')})"
    )
    parser.add_argument("--figsize", type=figsize, help=f'frame size in inches, "width,height" ({default(size)})')
    normalization = f"how map colours are scaled ({default(base.normalization)})"
    parser.add_argument("--normalization", choices=NORMALIZATIONS, help=normalization)
    parser.add_argument("--dpi", type=positive_int, help=f"pixels per inch (default {base.dpi})")  # not a config key


def add_video_look_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --interpolation-steps, --video-format and --no-colorbar (``video``, ``seeds``)."""
    parser.add_argument("--interpolation-steps", type=non_negative_int, help="blended frames between steps")
    parser.add_argument(
        "--video-format",
        choices=VIDEO_FORMATS,
        help="container and codec (default: --output's suffix, else the config's)",
    )
    parser.add_argument(
        "--no-colorbar", dest="include_colorbar", action="store_const", const=False, help="draw no colorbar"
    )


def given_options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """``{name: value}`` of the options among ``names`` that the command line sets (not None)."""
    return {name: value for name in names if (value := getattr(args, name, None)) is not None}


def run(args: argparse.Namespace) -> int:
    """Handle ``attention-visual video``; return the exit status."""
    analyzer = AttentionAnalyzer(args.attention_dir)
    if args.list_available:
        sys.stdout.write(listing(analyzer, args.video_id))
        return 0
    missing = [f"--{name}" for name in ("video_id", "word", "output") if getattr(args, name) is None]
    if missing:
        raise RenderError(f"missing {', '.join(m.replace('_', '-') for m in missing)} (or use --list-available)")
    check_output(args.output, analyzer)
    visualizer = build_visualizer(analyzer, args)
    path = visualizer.generate_attention_video(
        args.video_id,
        args.word,
        args.output,
        original_video_path=args.original_video,
        overlay_alpha=args.overlay_alpha,
        interpolation_steps=args.interpolation_steps,
        include_timestamp=args.include_timestamp,
        use_aggregated=args.use_aggregated,
        step=args.step,
        frame=args.frame,
        layout=args.layout,
        video_format=args.video_format,
    )
    sys.stdout.write(f"{path}\n")
    return 0


def check_output(output: Path, analyzer: AttentionAnalyzer) -> None:
    """Refuse an ``--output`` inside a map store or onto a file of the batch whose maps are read.

    Raises:
        RenderError: It is (exit status 2; nothing is written).
    """
    conflict = output_conflict(output, analyzer.maps.batch_dir)
    if conflict is not None:
        raise RenderError(f"--output {output}: {conflict}; write it outside the batch's own folders")


def build_visualizer(analyzer: AttentionAnalyzer, args: argparse.Namespace) -> AttentionVisualizer:
    """A visualizer from ``--config`` (if given) with the command-line options applied on top."""
    params: dict[str, Any] = {}
    if args.config is not None:
        from attention_visual.config import load_config

        params = load_config(args.config, overrides=args.overrides).attention_analysis.visualization_params.to_dict()
    elif args.overrides:
        raise RenderError("--set needs --config")
    return AttentionVisualizer.from_params(analyzer, {**params, **given_options(args, (*PARAM_OPTIONS, "dpi"))})


def listing(analyzer: AttentionAnalyzer, video_id: str | None = None) -> str:
    """Text listing of the stored videos, their words and each word's steps."""
    videos = [video_id] if video_id else analyzer.get_available_videos()
    lines = [f"attention maps in {analyzer.attention_dir}:"]
    if not videos:
        lines.append("  (no videos)")
    for video in videos:
        state = "" if analyzer.is_complete(video) else " (incomplete)"
        lines.append(f"  {video}{state}")
        damaged = analyzer.damaged_files(video)  # truncated or missing files (sizes against the mark)
        for word in analyzer.get_available_words(video):
            folder = word_dir_name(word)
            aggregated = {f"{AGGREGATED_DIR}/{folder}_aggregated", f"{AGGREGATED_DIR}/{folder}_aggregated_metadata"}
            bad = [
                problem
                for rel, problem in damaged.items()
                if rel.split("/")[0] == folder or rel.rsplit(".", 1)[0] in aggregated
            ]
            if bad:
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                lines.append(f"    {word!r}: DAMAGED: {bad[0]}{more}; rerun the batch to redo this video")
                continue
            steps = analyzer.get_available_steps(video, word)
            lines.append(f"    {word!r}: {len(steps)} step(s) {compact(steps)}")
    return "\n".join(lines) + "\n"


def compact(values: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``"0–2, 5"``."""
    parts: list[str] = []
    for v in values:
        if parts and parts[-1].split("–")[-1] == str(v - 1):
            parts[-1] = f"{parts[-1].split('–')[0]}–{v}"
        else:
            parts.append(str(v))
    return ", ".join(parts) if parts else "(none)"


# -- argument types (argparse reports their errors as one line, exit 2) -----------------------------
def figsize(text: str) -> tuple[float, float]:
    """``"12,8"`` → ``(12.0, 8.0)``."""
    try:
        w, h = (float(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected "width,height" in inches such as 12,8, got {text!r}') from None
    if not (w > 0 and h > 0) or w == float("inf") or h == float("inf"):
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return w, h


def unit_interval(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def frame_mode(text: str) -> str | int:
    if text in ("mean", "tile"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected mean, tile or a latent frame index, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


__all__ = [
    "add_arguments",
    "add_look_arguments",
    "add_source_arguments",
    "add_video_look_arguments",
    "build_visualizer",
    "check_output",
    "given_options",
    "listing",
    "register",
    "run",
]

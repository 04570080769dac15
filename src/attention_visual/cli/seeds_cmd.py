"""``attention-visual seeds``: render a word's seed grid video (one tile per seed, plus mean and std tiles).

Example::

    attention-visual seeds outputs/demo --word dog
    attention-visual seeds outputs/demo --word dog --prompt 2 --output dog_seeds.mp4 --frame 3
    attention-visual seeds outputs/compare --word dog --model tiny-ltx   # a batch comparing models

Bad input (not a batch folder, a word no prompt marks, a latent frame that does not exist, an
unwritable output) ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from attention_visual.analysis.seed_grid import SEEDS_PER_PAGE, write_seed_video
from attention_visual.cli.video_cmd import (
    add_look_arguments,
    add_video_look_arguments,
    frame_mode,
    given_options,
    positive_int,
)
from attention_visual.config import load_config
from attention_visual.errors import ConfigError, RenderError
from attention_visual.render.options import RenderOptions
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch.layout import CONFIG_FILE

log = logging.getLogger(__name__)

#: Command-line options that override the batch config's ``visualization_params`` key of the same name.
PARAM_OPTIONS = ("figsize", "colormap", "fps", "interpolation_steps", "include_colorbar", "normalization", "dpi")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``seeds`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "seeds",
        help="render a word's seed grid video: one tile per seed, plus the mean and std tiles",
        description="Render the stored maps of one marked word over the seeds of its prompt as a grid video: one "
        "tile per seed (labelled with its seed and mean correlation with the other seeds), the mean and the "
        "standard deviation, one frame per denoising step, then the step average; the title gives the seeds' "
        "consistency score. See docs/analysis.md, section 'Cross-seed views'.",
    )
    parser.add_argument("batch_dir", type=Path, metavar="BATCH_DIR", help="a batch folder (with manifest.json)")
    parser.add_argument("--word", required=True, help="the marked word (as written in the prompt)")
    parser.add_argument("--prompt", type=positive_int, help="the prompt number (default: every prompt with the word)")
    parser.add_argument("--model", help="the model, in a batch comparing several (models:): the table's model column")
    parser.add_argument("--output", type=Path, help="output video (default BATCH_DIR/seed_videos/<word>.mp4)")
    parser.add_argument("--frame", type=frame_mode, default="mean", help="mean (default) or a latent frame index")
    parser.add_argument(
        "--page",
        type=positive_int,
        default=1,
        help=f"with more than {SEEDS_PER_PAGE} seeds, which page of {SEEDS_PER_PAGE} to show (default 1; the mean "
        "and std tiles cover every seed)",
    )
    add_look_arguments(parser, batch_defaults=True)
    add_video_look_arguments(parser)
    parser.set_defaults(handler=run)


def batch_render_params(batch_dir: Path) -> dict[str, Any]:
    """The batch config's ``visualization_params`` (``{}`` without a readable ``config.yaml``)."""
    config_path = batch_dir / CONFIG_FILE
    if not config_path.is_file():
        return {}
    try:
        return load_config(config_path).attention_analysis.visualization_params.to_dict()
    except ConfigError as exc:
        log.warning("cannot read %s (%s): using the default look", config_path, exc)
        return {}


def run(args: argparse.Namespace) -> int:
    """Handle ``attention-visual seeds``; print the video's path and return the exit status."""
    if args.frame == "tile":
        raise RenderError("--frame tile is not available for the seed grid (its tiles are seeds); use mean or k")
    params = {**batch_render_params(args.batch_dir), **given_options(args, (*PARAM_OPTIONS, "video_format"))}
    options = RenderOptions.from_mapping(params)
    output = args.output
    if output is None:
        model = f"_{word_dir_name(args.model)}" if args.model is not None else ""
        prompt = f"_prompt_{args.prompt:03d}" if args.prompt is not None else ""
        page = f"_page_{args.page:03d}" if args.page != 1 else ""
        name = f"{word_dir_name(args.word)}{model}{prompt}{page}.{options.video_format}"
        output = args.batch_dir / "seed_videos" / name
    path = write_seed_video(
        args.batch_dir, args.word, output, prompt=args.prompt, options=options, frame=args.frame, page=args.page,
        model=args.model,
    )  # fmt: skip
    sys.stdout.write(f"{path}\n")
    return 0


__all__ = ["batch_render_params", "register", "run"]

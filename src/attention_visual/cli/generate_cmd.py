"""``attention-visual generate CONFIG [--set key=value ...] [--overwrite]``: the batch job.

Generates every video of the config with Wan, captures and stores the marked words' attention,
renders the attention videos the config asks for, and prints a summary. Rerunning the same command
resumes an interrupted batch. Under ``torchrun`` the videos are split across the processes.

Exit status: 0 all done; 1 some videos or renders failed (listed in the summary), or a file could
not be written (disk full, read-only: one line names it); 2 bad input (before anything runs) or the
batch is in use by another run; 130 interrupted by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (the video
in flight is abandoned, the manifest and summary written). In a multi-process run only rank 0
reports the batch's status; the other ranks exit 0 unless they fail outright, so that ``torchrun``
does not stop rank 0 while it merges the manifest.
"""

from __future__ import annotations

import argparse
import logging
import sys

from attention_visual.cli.common import add_config_arguments, config_from_args
from attention_visual.pipeline.signals import interrupts_as_exceptions
from attention_visual.pipeline.summary import EXIT_OK, format_summary, resume_hint

log = logging.getLogger(__name__)

#: Loggers that report every file they write at INFO; ``-v`` shows them.
_QUIET_LOGGERS = ("attention_visual.render", "attention_visual.visualization")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``generate`` subcommand to the ``attention-visual`` parser."""
    parser = subparsers.add_parser(
        "generate",
        help="generate a batch of videos with attention capture (resumable; torchrun for several GPUs)",
        description="Generate every video of CONFIG, store the marked words' attention maps and render "
        "the attention videos it asks for, into OUTPUT_DIR/BATCH_NAME. Running the same command again "
        "resumes an interrupted batch, skipping finished videos. Under `torchrun --nproc-per-node N -m "
        "attention_visual generate CONFIG` the videos are split across the N processes.",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the batch folder's previous contents and start over (instead of resuming)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch of ``args.config``; print the summary; return the exit status."""
    if not getattr(args, "verbose", False):
        # One line per rendered file is too much in a batch log: keep the renderer's warnings only.
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    from attention_visual.pipeline.batch import BatchOptions, run_batch  # torch and diffusers: load when used

    config = config_from_args(args)
    options = BatchOptions(overwrite=args.overwrite, progress=False if args.no_progress else None)
    with interrupts_as_exceptions():  # SIGTERM, SIGHUP and Ctrl-C: clean up, then exit 143, 129, 130
        try:
            result = run_batch(config, args.config, options)
            if result.rank == 0:
                sys.stdout.write(format_summary(result))
                sys.stdout.flush()
        except KeyboardInterrupt:  # before the batch folder was set up, after the batch ended, or in the summary
            print(resume_hint(None), file=sys.stderr)  # noqa: T201
            raise
        if result.interrupted:
            print(resume_hint(result.batch_dir), file=sys.stderr)  # noqa: T201
            return result.exit_code
    return result.exit_code if result.rank == 0 else EXIT_OK

"""The outcome of a batch run, its exit status and the summary printed at the end.

Exit statuses: 0 every video and render done; 1 some video, render or the report failed (the
summary lists them); 3 the run ended with videos neither done nor failed (``pending`` or ``interrupted``:
their files went missing while it ran, or another rank did not finish them; rerun to complete them);
128 + the signal's number when interrupted: 130 (Ctrl-C, SIGINT), 143 (SIGTERM), 129 (SIGHUP) (rerun
the same command to resume). Bad input (status 2) never gets this far: it is raised before anything runs.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from attention_visual.storage.batch.manifest import Manifest

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_NOT_DONE = 3
"""The run ended with videos not done (neither done nor failed): the batch is incomplete, a rerun completes it."""
_LISTED = 10  # failures listed one per line in the summary; the rest are counted
_WAIT_NOTED_S, _WAIT_NOTED_SHARE = 5.0, 0.05  # the summary mentions a wait for the renders from this long


@dataclass(frozen=True)
class BatchResult:
    """What one process did in a batch run.

    Attributes:
        batch_dir: The batch folder.
        rank: This process's rank (0 in a plain run).
        generated: Videos generated successfully by this process in this run.
        skipped: Videos found finished and skipped (this process's share).
        failed: ``(video_id, one-line error)`` of this run's failed videos (every rank's, on rank 0).
        render_failures: ``(path, one-line error)`` of failed renders (every rank's, on rank 0).
        report_error: One line when the report hook failed, else None.
        files_written: Video, map and attention-video files written by this process in this run.
        seconds: Wall time of the run.
        interrupted: Stopped by Ctrl-C, SIGTERM or SIGHUP.
        signal_number: The signal that stopped it (SIGINT for Ctrl-C); meaningful when ``interrupted``.
        render_wait_s: Seconds the generation waited for the render workers (their queue was full).
        manifest: The merged manifest (rank 0 only, else None).
    """

    batch_dir: Path
    rank: int = 0
    generated: int = 0
    skipped: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    render_failures: tuple[tuple[str, str], ...] = ()
    report_error: str | None = None
    files_written: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    manifest: Manifest | None = field(default=None, compare=False)
    signal_number: int = int(signal.SIGINT)
    render_wait_s: float = 0.0

    @property
    def not_done(self) -> int:
        """Videos of the merged manifest neither done nor failed (0 without a manifest: ranks other than 0)."""
        if self.manifest is None:
            return 0
        counts = self.manifest.counts()
        return counts["interrupted"] + counts["pending"]

    @property
    def exit_code(self) -> int:
        """128 + the signal when interrupted (130 for Ctrl-C), 1 when anything failed, 3 when videos are not
        done, else 0."""
        if self.interrupted:
            return 128 + self.signal_number
        if self.failed or self.render_failures or self.report_error:
            return EXIT_FAILURES
        if self.not_done:
            return EXIT_NOT_DONE
        return EXIT_OK


def resume_hint(batch_dir: Path | None) -> str:
    """The line printed on Ctrl-C (``batch_dir`` None: the signal came before or after the batch reported it)."""
    where = f"batch {batch_dir}" if batch_dir is not None else "the batch"
    return f"interrupted: run the same command again to resume {where}"


def format_summary(result: BatchResult) -> str:
    """A few lines: videos done/failed/skipped, words, files, time, where to look, what failed.

    After Ctrl-C the caller adds :func:`resume_hint` (the CLI prints it on stderr, last).
    """
    lines: list[str] = []
    manifest = result.manifest
    if manifest is not None:
        counts = manifest.counts()
        words = sorted({w for v in manifest.videos for w in v.words})
        word_videos = sum(len(v.words) for v in manifest.videos if v.status == "done")
        not_done = result.not_done
        lines.append(
            f"batch {manifest.batch_name}: {counts['done']} of {len(manifest.videos)} videos done "
            f"({result.generated} generated now, {result.skipped} skipped as finished, {counts['failed']} failed"
            + (f", {not_done} not done)" if not_done else ")")
        )
        lines.append(f"words: {len(words)} marked ({', '.join(words) or 'none'}), {word_videos} word maps stored")
    else:
        lines.append(f"rank {result.rank}: {result.generated} videos generated, {result.skipped} skipped")
    lines.append(f"files written: {result.files_written} in {result.seconds:.1f} s")
    if result.render_wait_s >= max(_WAIT_NOTED_S, _WAIT_NOTED_SHARE * result.seconds):
        lines.append(
            f"the generation waited {result.render_wait_s:.1f} s for the attention videos: more render workers "
            "(attention_analysis.render_workers) would keep it busy"
        )
    lines.append(f"outputs: {result.batch_dir}")
    if manifest is not None:
        lines.append(f"  videos:          {result.batch_dir / 'videos'}")
        lines.append(f"  attention maps:  {result.batch_dir / 'attention_maps'}")
        lines.append(f"  manifest:        {result.batch_dir / 'manifest.json'}")
    for title, items in (("failed videos", result.failed), ("failed renders", result.render_failures)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {name}: {error}" for name, error in items[:_LISTED])
            if len(items) > _LISTED:
                lines.append(f"  ... and {len(items) - _LISTED} more (see manifest.json)")
    if result.report_error:
        lines.append(f"report failed: {result.report_error}")
    if result.failed and not result.interrupted:
        lines.append("rerun the same command to retry the failed videos (finished ones are skipped)")
    elif result.not_done and not result.interrupted:
        lines.append(f"{result.not_done} videos are not done: rerun the same command to complete the batch")
    return "\n".join(lines) + "\n"


__all__ = ["EXIT_FAILURES", "EXIT_NOT_DONE", "EXIT_OK", "BatchResult", "format_summary", "resume_hint"]

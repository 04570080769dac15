"""What the batch's render workers do: one video's attention videos and report assets; the batch refresh.

Both task functions run in a worker process (:mod:`.workers`), so they take and return plain picklable
data, import no torch, and write only files that no other process writes at the same time: a video's
attention videos and report assets are made by the one task of that video, and the refresh (the
manifest and the report page) runs at most once at a time, while the batch process leaves both alone.
Status files stay the batch process's: it records what a task returns.

Example:
    >>> work = VideoWork(batch_dir, config, job, "per_video", render=True, assets=True)  # doctest: +SKIP
    >>> done = make_video_files(work)  # doctest: +SKIP
    >>> [r.status for r in done.renders]  # doctest: +SKIP
    ['done', 'done']
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from attention_visual.config import Config
from attention_visual.errors import StorageError
from attention_visual.pipeline.merge import build_manifest, merged_records
from attention_visual.pipeline.plan import RENDER_KINDS, VideoJob
from attention_visual.pipeline.rendering import make_visualizer, render_video
from attention_visual.report import assemble, build_video_assets
from attention_visual.report.collect import MAPS_DIR, REPORT_DIR
from attention_visual.report.video_assets import ASSETS_FILE
from attention_visual.storage.batch.manifest import RenderRecord, VideoRecord, one_line
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.storage.durable.integrity import FileDigest, digest_file

log = logging.getLogger(__name__)


def assets_path(video_id: str) -> str:
    """The file that says a video's report assets are made (relative to the batch folder), as listed in
    :attr:`VideoRecord.queued`: ``report/maps/<video_id>/assets.json``."""
    return f"{REPORT_DIR}/{MAPS_DIR}/{video_id}/{ASSETS_FILE}"


@dataclass(frozen=True)
class VideoWork:
    """One video's work for a render worker.

    Attributes:
        batch_dir: The batch folder.
        config: The batch config (visualization parameters, video format).
        job: The video (finished: its file and maps exist).
        stage: ``"per_video"`` or ``"batch_end"``: which attention videos.
        render: Render its attention videos of ``stage`` (existing ones are kept).
        assets: Make its report assets (after the renders).
        record: Its record, which the report assets read instead of its status file.
        covered: Attention videos whose digests its status file lists already (not read again).
    """

    batch_dir: Path
    config: Config
    job: VideoJob
    stage: str
    render: bool
    assets: bool
    record: VideoRecord | None = None
    covered: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VideoWorkDone:
    """What :func:`make_video_files` made.

    Attributes:
        video_id: The video.
        stage: The stage of ``renders``.
        renders: One record per word and kind (empty when it rendered nothing).
        digests: Size and SHA-256 of each ``per_video`` attention video done and not ``covered``.
        seconds: Time spent rendering.
        files_written: Attention videos written.
        assets: The report assets were made (False when not asked or when they failed).
        storage_error: A file could not be written for a storage reason (disk full, read-only folder):
            the batch stops with this message.
    """

    video_id: str
    stage: str
    renders: tuple[RenderRecord, ...] = ()
    digests: tuple[FileDigest, ...] = ()
    seconds: float = 0.0
    files_written: int = 0
    assets: bool = False
    storage_error: str | None = None


def make_video_files(work: VideoWork) -> VideoWorkDone:
    """Render ``work``'s attention videos, digest them, then make its report assets.

    A failed render is recorded (as :func:`~attention_visual.pipeline.rendering.render_video` does) and
    failed report assets are logged (the report makes them again at the end); only a storage fault is
    returned as such (``storage_error``), for the batch to stop.
    """
    job, batch_dir = work.job, work.batch_dir
    done = VideoWorkDone(job.video_id, work.stage)
    try:
        if work.render:
            video_format = work.config.attention_analysis.visualization_params.video_format
            outcome = render_video(make_visualizer(work.config, batch_dir), job, batch_dir, work.stage, video_format)
            rels = [r.path for r in outcome.records if r.status == "done" and r.stage == "per_video"]
            done = VideoWorkDone(
                job.video_id,
                work.stage,
                outcome.records,
                tuple(digest_file(batch_dir, rel) for rel in rels if rel not in work.covered),
                outcome.seconds,
                outcome.files_written,
            )
        if work.assets:
            done = dataclasses.replace(done, assets=_make_assets(work))
    except StorageError as exc:
        return VideoWorkDone(job.video_id, work.stage, storage_error=str(exc))
    except OSError as exc:  # a digest that cannot be read back
        fault = storage_fault(exc, batch_dir / job.video_path, any_os_error=True)
        return VideoWorkDone(job.video_id, work.stage, storage_error=str(fault or one_line(exc)))
    return done


def failed_work(work: VideoWork, error: str) -> VideoWorkDone:
    """What :func:`make_video_files` would return had every render of ``work`` failed with ``error``
    (its task failed as a whole: its worker process died)."""
    job, fmt = work.job, work.config.attention_analysis.visualization_params.video_format
    renders = tuple(
        RenderRecord(w, k, work.stage, job.attention_video_path(w, k, fmt, work.stage), "failed", error)
        for w in job.words
        for k in RENDER_KINDS
    )
    return VideoWorkDone(job.video_id, work.stage, renders if work.render else ())


def _make_assets(work: VideoWork) -> bool:
    """Make the report assets of ``work``'s video; False (logged) when that failed, unless the disk did."""
    try:
        build_video_assets(work.batch_dir, work.job.video_id, record=work.record)
    except Exception as exc:  # the report is an extra: the batch goes on, `report` makes them again
        fault = storage_fault(exc, work.batch_dir / REPORT_DIR)
        if fault is not None:
            raise fault from exc
        log.error("%s: making its report assets failed: %s", work.job.video_id, one_line(exc))
        log.debug("report assets failure details", exc_info=True)
        return False
    return True


@dataclass(frozen=True)
class RefreshWork:
    """A refresh of a running batch's ``manifest.json`` (from the status files) and report page.

    Attributes:
        batch_dir: The batch folder.
        config: The batch config.
        config_path: The config file the run was started with.
        jobs: Every planned video.
        world_size: Processes of the run.
        created: The batch's creation time (an existing manifest's is kept).
        report: Also put the report page together from the assets made so far.
    """

    batch_dir: Path
    config: Config
    config_path: Path
    jobs: list[VideoJob]
    world_size: int
    created: str
    report: bool


def refresh_batch(work: RefreshWork) -> float:
    """Rewrite the manifest from the status files as they are now (no file checked), then assemble the
    report page when asked; return the seconds it took. A failure is logged, never raised."""
    started = time.perf_counter()
    try:
        records = merged_records(work.batch_dir, work.jobs, {}, work.config, check_files=False)
        build_manifest(
            work.batch_dir,
            work.config,
            work.config_path,
            work.jobs,
            records,
            work.world_size,
            work.created,
            finished=False,
        )
        if work.report:
            assemble(work.batch_dir)
    except Exception as exc:  # a view of a running batch: the next refresh, or the batch's end, redoes it
        log.warning("refreshing the manifest and the report page failed: %s", one_line(exc))
        log.debug("refresh failure details", exc_info=True)
    return time.perf_counter() - started


__all__ = [
    "RefreshWork",
    "VideoWork",
    "VideoWorkDone",
    "assets_path",
    "failed_work",
    "make_video_files",
    "refresh_batch",
]

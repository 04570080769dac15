"""The batch loop behind ``attention-visual generate CONFIG``.

:func:`run_batch` validates everything (prompts against the tokenizer included) before any model
loads, picks the batch folder (new, resumed or overwritten; see :mod:`.resume`), generates this
process's share of the videos one pipeline call each, renders their attention videos, writes a
status file per video and keeps ``manifest.json`` current; at the end rank 0 merges the manifest,
renders the batch-end attention videos and calls the report hook. docs/batch.md is the user's guide.

Example:
    >>> from attention_visual.config import load_config
    >>> result = run_batch(load_config("configs/tiny_demo.yaml"), Path("configs/tiny_demo.yaml"))  # doctest: +SKIP
    >>> result.exit_code, result.batch_dir  # doctest: +SKIP
    (0, PosixPath('outputs/tiny_demo_20250131-120000'))
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import torch
except ModuleNotFoundError:
    from attention_visual.extras import GENERATION_EXTRA, require_extra

    require_extra(
        GENERATION_EXTRA, __name__
    )  # one line naming the extra when torch, diffusers or transformers is missing
    raise
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from attention_visual.config import Config
from attention_visual.errors import AttentionVisualError, BatchBusyError, ConfigError, StorageError
from attention_visual.models import is_tiny_model_id, load_pipeline, resolve_device
from attention_visual.pipeline.background import Background, render_workers
from attention_visual.pipeline.distributed import RankContext
from attention_visual.pipeline.generation import GenerationOutcome, copy_inputs, generate_video, release_memory
from attention_visual.pipeline.merge import build_manifest, merged_records, planned_record
from attention_visual.pipeline.plan import MANIFEST_FILE, RENDER_KINDS, VideoJob, jobs_for_rank, plan_batch
from attention_visual.pipeline.render_tasks import RefreshWork, VideoWork, VideoWorkDone, assets_path
from attention_visual.pipeline.resume import (
    BatchChoice,
    batch_maps,
    captures_maps,
    choose_batch_dir,
    is_video_finished,
    prepare_batch_dir,
    remove_leftovers,
    remove_temporaries,
    video_problem,
)
from attention_visual.pipeline.signals import raise_if_swallowed, signal_name, signal_of
from attention_visual.pipeline.summary import BatchResult
from attention_visual.pipeline.validation import capture_settings, validate_batch
from attention_visual.report import assemble
from attention_visual.storage.backend import PACKED, MapBackend
from attention_visual.storage.backend.transaction import repair_layout
from attention_visual.storage.batch.lock import BatchLock
from attention_visual.storage.batch.manifest import (
    Manifest,
    RenderRecord,
    VideoRecord,
    now_iso,
    one_line,
    read_status,
    write_status,
)
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.storage.durable.integrity import FileDigest, check_file, digest_file
from attention_visual.storage.packed.averages import consolidate_averages

log = logging.getLogger(__name__)


VideoGenerator = Callable[[VideoJob, Path, MapBackend], GenerationOutcome]
"""``(job, batch_dir, maps) -> outcome``: makes one video's file and its maps in ``maps``, as
:func:`~attention_visual.pipeline.generation.generate_video` does (a stand-in for benchmarks and tests)."""


@dataclass(frozen=True)
class BatchOptions:
    """How :func:`run_batch` runs.

    Attributes:
        overwrite: Delete the batch folder's previous contents and start over (``--overwrite``).
        progress: Show the batch and denoising progress bars; None: when stderr is a terminal.
    """

    overwrite: bool = False
    progress: bool | None = None


def run_batch(
    config: Config,
    config_path: Path,
    options: BatchOptions | None = None,
    *,
    pipe: Any | None = None,
    rank_context: RankContext | None = None,
    generator: VideoGenerator | None = None,
) -> BatchResult:
    """Run (or resume) the batch ``config`` describes; see the module docstring.

    Args:
        config: The resolved config.
        config_path: The config file (its stem names default batch folders; recorded in the manifest).
        options: Overwrite and progress-bar options.
        pipe: A ready pipeline to use instead of loading ``generation.model_id`` (tests); its
            progress-bar settings are changed.
        rank_context: This process's rank (default: from the ``torchrun`` environment).
        generator: Makes each video instead of the pipeline call under the capture (a stand-in for
            benchmarks and tests; no pipeline is loaded).

    Returns:
        What this process did; ``exit_code`` is the command's exit status.

    Raises:
        ConfigError: The config cannot run here (device, options, batch folder).
        BatchBusyError: Another process holds the batch folder's lock (see :mod:`attention_visual.storage.batch.lock`).
        PromptError: A marked word cannot be found in a prompt's tokens (names the prompt).
        StorageError: A file could not be written (disk full, read-only folder...); what was
            finished stays, a rerun completes the batch.
        KeyboardInterrupt: Only when interrupted before the batch folder was set up; later, an
            interruption is reported in the result (``interrupted``, ``signal_number``).
    """
    options = options or BatchOptions()
    ctx = rank_context or RankContext.from_env()
    started = time.perf_counter()
    jobs = plan_batch(config)
    device_name = ctx.device(config.generation.device)
    validate_batch(config, jobs, device_name)  # before any model loads, on every rank
    device = resolve_device(device_name)
    ctx.init(str(device))
    locks: list[BatchLock] = []  # rank 0's lock on the batch folder, held for the whole run
    try:
        batch_dir = _setup_batch_dir(ctx, config, config_path, jobs, options.overwrite, locks)
        runner = _Runner(config, config_path, jobs, batch_dir, ctx, device, options, pipe, started, generator)
        return runner.run()
    finally:
        for lock in locks:
            lock.release()
        ctx.close()


def _lock_batch_dir(
    config: Config, config_path: Path, jobs: list[VideoJob], overwrite: bool
) -> tuple[BatchChoice, BatchLock]:
    """Choose the batch folder and take its lock; a default-named folder in use is passed over.

    Raises:
        BatchBusyError: An explicit ``batch_name`` (or ``--overwrite``'s folder) is in use.
        StorageError: The folder or its lock file cannot be created.
    """
    skip: set[Path] = set()
    while True:
        choice = choose_batch_dir(config, config_path, jobs, overwrite=overwrite, skip=frozenset(skip))
        try:
            return choice, BatchLock.acquire(choice.path)
        except BatchBusyError as busy:
            if config.batch_name is None and not overwrite and choice.path not in skip:
                log.info("%s: starting a separate batch", busy)
                skip.add(choice.path)
                continue
            how = "--overwrite cannot clear a batch in use; " if overwrite else ""
            raise BatchBusyError(
                f"{busy}: {how}wait for it to end, or start a separate batch with --set batch_name=NEW_NAME"
            ) from None
        except OSError as exc:
            fault = storage_fault(exc, choice.path, any_os_error=True)
            if fault is None:
                raise
            raise fault from exc


def _setup_batch_dir(
    ctx: RankContext,
    config: Config,
    config_path: Path,
    jobs: list[VideoJob],
    overwrite: bool,
    locks: list[BatchLock],
) -> Path:
    """Rank 0 locks, chooses and prepares the folder; every rank gets its path (or rank 0's error).

    Rank 0's lock is appended to ``locks`` (the caller releases it when the run ends).
    """
    shared: tuple[str, str]
    if ctx.is_main:
        try:
            choice, lock = _lock_batch_dir(config, config_path, jobs, overwrite)
            locks.append(lock)
            try:
                repair_layout(choice.path)  # a pack or unpack killed half-way: finished or rolled back
                remove_temporaries(choice.path)  # leftovers of a killed run: safe, the folder is ours now
            except OSError as exc:
                raise _storage_error(exc, choice.path) from exc
            prepare_batch_dir(choice, config)
            _create_packed_store(choice.path, config)  # before any rank writes into it
            shared = ("ok", str(choice.path))
            done = sum(is_video_finished(choice.path, job, config, checksums=False) for job in jobs)
            if choice.mode == "resume":
                log.info("resuming batch %s: %d of %d videos done", choice.path.name, done, len(jobs))
            else:
                log.info(
                    "%s batch %s: %d videos",
                    "starting over:" if choice.mode == "overwrite" else "new",
                    choice.path,
                    len(jobs),
                )
        except Exception as exc:  # tell the other ranks, or they would wait for the path until the timeout
            ctx.share(("error", str(exc) if isinstance(exc, AttentionVisualError) else one_line(exc)))
            raise
    else:
        shared = ("", "")
    status, value = ctx.share(shared)
    if status != "ok":
        raise ConfigError(value)
    return Path(value)


def _create_packed_store(batch_dir: Path, config: Config) -> None:
    """Create the batch's packed store when its maps go there (see :func:`batch_maps`)."""
    if config.attention_analysis.store_attention:
        maps = batch_maps(batch_dir, config)
        try:
            maps.create()
        except OSError as exc:
            raise _storage_error(exc, maps.root) from exc


class _Runner:
    """State of one process's run: the loop, the per-video steps, the background work and the batch end."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        jobs: list[VideoJob],
        batch_dir: Path,
        ctx: RankContext,
        device: torch.device,
        options: BatchOptions,
        pipe: Any | None,
        started: float,
        generator: VideoGenerator | None = None,
    ) -> None:
        self.config, self.config_path, self.jobs, self.batch_dir = config, config_path, jobs, batch_dir
        self.ctx, self.device, self.pipe, self.started = ctx, device, pipe, started
        self.generator = generator
        self.video_format = config.attention_analysis.visualization_params.video_format
        self.show = (sys.stderr.isatty() if options.progress is None else options.progress) and ctx.is_main
        self.settings = capture_settings(config)
        self.maps = batch_maps(batch_dir, config)  # chosen once: the layout the batch has, else the config's
        self.created = now_iso()
        self._pipe_model: str | None = jobs[0].model if jobs else None  # whose pipeline self.pipe is
        self.records: dict[str, VideoRecord] = {}  # this run's records, by video id
        self.files_written = 0
        workers = render_workers(config.attention_analysis.render_workers, ctx)
        self.background = Background(workers, show=self.show, record=self._record_work)
        self._batch_end: dict[str, VideoRecord] = {}  # records with their batch-end renders, by video id
        self._assets_made: set[str] = set()  # videos whose report assets the workers made in this run

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> BatchResult:
        mine = jobs_for_rank(self.jobs, self.ctx.rank, self.ctx.world_size)
        for job in mine:  # the prompts' input files, beside the videos made from them
            self.files_written += copy_inputs(self.batch_dir, job)
        finished: list[VideoJob] = []
        todo: list[VideoJob] = []
        for job in mine:  # verify what earlier runs finished: sizes and checksums of every covered file
            problem = video_problem(self.batch_dir, job, self.config)
            (finished if problem is None else todo).append(job)
            if problem is not None and _said_done(problem):
                log.warning("%s: %s: this video is redone", job.video_id, problem)
        if self.ctx.is_main:
            self._write_manifest(finished=False)  # the batch's plan, for whoever watches it run
        generated, interrupt = 0, None
        current: VideoJob | None = None  # the job in flight, for an interruption
        bar = tqdm(total=len(mine), initial=len(finished), unit="video", desc="videos", disable=not self.show)
        try:
            try:
                with logging_redirect_tqdm():
                    for job in finished:
                        self._complete_renders(job)
                    for job in todo:
                        current = job
                        record = self._process(job)
                        current = None
                        generated += record.status == "done"
                        bar.update(1)
                        self.background.collect()
                        if self.ctx.is_main:
                            self.background.refresh(self._refresh_work)
                        raise_if_swallowed()  # a signal dropped inside a __del__ stops the run here
                    self.background.drain()  # this process's videos are finished when their renders are
            except KeyboardInterrupt as exc:
                interrupt = signal_of(exc)
                if current is not None:
                    self._mark_interrupted(current, interrupt)
                self.background.stop()  # what the workers finished is recorded; the rest stays queued
            except StorageError:
                self.background.stop()
                previous = self.records.get(current.video_id) if current is not None else None
                if current is not None and (previous is None or previous.status != "done"):
                    self._abandon(current)  # frees what it took; a finished video (failed renders) stays
                self._try_write_manifest()
                raise
            finally:
                bar.close()
            if interrupt is None:
                self.ctx.barrier()
            return self._finish(generated, len(finished), interrupt)
        finally:
            self.background.close()

    def _process(self, job: VideoJob) -> VideoRecord:
        """Generate one video, store it, write its status; hand its attention videos to the workers."""
        try:  # the run's start removed every temporary file (remove_temporaries): none to look for here
            remove_leftovers(self.batch_dir, job, self.video_format, temporaries=False)
        except OSError as exc:  # a read-only folder refuses even to delete
            raise _storage_error(exc, self.batch_dir / job.status_path) from exc
        config = self.config.for_model(job.model)  # a comparison: this model's generation settings
        base = planned_record(job, config, status="pending", rank=self.ctx.rank)
        base = dataclasses.replace(base, started=now_iso())
        try:
            outcome = self._generate(job, config)
        except StorageError:  # disk full, read-only...: every later video would fail the same way
            raise
        except Exception as exc:  # one video's failure (e.g. out of memory) must not stop the batch
            log.error("%s failed: %s", job.video_id, one_line(exc))
            log.debug("failure details", exc_info=True)
            remove_leftovers(self.batch_dir, job, self.video_format)
            return self._record(job, dataclasses.replace(base, status="failed", error=one_line(exc)))
        self.files_written += outcome.files_written
        work = self._work(job, render=True)
        queued = self._queued(work)
        # The completion mark: after the video file and the maps; it lists what the workers will make.
        record = self._record(job, dataclasses.replace(base, status="done", timings=outcome.timings, queued=queued))
        log.info(
            "%s done (rank %d, seed %d): generated in %.1f s",
            job.video_id,
            self.ctx.rank,
            job.seed,
            outcome.timings.generation_s or 0.0,
        )
        if work is not None and queued:
            self.background.submit(dataclasses.replace(work, record=record))
        return record

    def _generate(self, job: VideoJob, config: Config) -> GenerationOutcome:
        """Generate ``job``'s video with its model (``config``: :meth:`Config.for_model` of its model)."""
        if self.generator is not None:
            return self.generator(job, self.batch_dir, self.maps)
        pipe = self._pipeline(job.model, config)
        return generate_video(pipe, job, config, self.batch_dir, self.device, self.settings, self.maps)

    def _work(self, job: VideoJob, *, render: bool, stage: str = "per_video") -> VideoWork | None:
        """The background work the config asks for ``job`` (a finished video), or None when there is none."""
        a = self.config.attention_analysis
        render = render and captures_maps(self.config, job) and (a.auto_generate_per_video or stage == "batch_end")
        assets = a.generate_report and stage == "per_video"
        if not (render or assets):
            return None
        return VideoWork(self.batch_dir, self.config, job, stage, render=render, assets=assets)

    def _queued(self, work: VideoWork | None) -> tuple[str, ...]:
        """The files ``work`` will make, as its video's status file lists them until they are made."""
        if work is None:
            return ()
        job = work.job
        rels = [job.attention_video_path(w, k, self.video_format) for w in job.words for k in RENDER_KINDS]
        return (*(rels if work.render else []), *([assets_path(job.video_id)] if work.assets else []))

    def _record_work(self, work: VideoWork, done: VideoWorkDone) -> None:
        """Record what the workers made for a video (its status file; the batch-end renders in memory)."""
        if done.storage_error is not None:
            raise StorageError(done.storage_error)
        self.files_written += done.files_written
        if done.assets:
            self._assets_made.add(work.job.video_id)
        if work.stage == "batch_end":
            record = self._batch_end.get(work.job.video_id)
            if record is not None:
                self._batch_end[work.job.video_id] = _with_renders(record, done.renders, done.seconds)
            return
        current = self.records.get(work.job.video_id) or work.record
        if current is None:
            return
        made = {r.path for r in done.renders} | ({assets_path(work.job.video_id)} if work.assets else set())
        record = _with_renders(current, done.renders, done.seconds) if done.renders else current
        record = dataclasses.replace(record, queued=tuple(q for q in record.queued if q not in made))
        if record != current:
            self._record(work.job, record, done.digests)

    def _refresh_work(self) -> RefreshWork:
        a = self.config.attention_analysis
        return RefreshWork(
            self.batch_dir,
            self.config,
            self.config_path,
            self.jobs,
            self.ctx.world_size,
            self.created,
            report=a.generate_report,
        )

    def _mark_interrupted(self, job: VideoJob, signum: int) -> None:
        """Record an interruption of ``job``: its partial files go, unless its video was already finished.

        A finished video stays ``done``; its missing attention videos are rendered on resume.
        """
        previous = self.records.get(job.video_id)
        if previous is not None and previous.status == "done":
            return
        if previous is None and is_video_finished(self.batch_dir, job, self.config, checksums=False):
            return  # the signal came just after its status file said done (written by this run: see _process)
        self._abandon(job)
        name = signal_name(signum)
        error = "interrupted by the user (Ctrl-C)" if name == "SIGINT" else f"interrupted by {name}"
        record = planned_record(job, self.config, status="interrupted", rank=self.ctx.rank, error=error)
        try:
            self._record(job, record)
        except StorageError as exc:  # nothing left to lose: the video is redone on resume anyway
            log.error("%s", exc)

    def _abandon(self, job: VideoJob) -> None:
        """Remove the partial files of a video that will not be finished in this run (best effort)."""
        try:
            remove_leftovers(self.batch_dir, job, self.video_format)
        except OSError as exc:
            log.warning("%s: could not remove its partial files (%s); a rerun removes them", job.video_id, exc)

    def _complete_renders(self, job: VideoJob) -> None:
        """For a finished video, hand to the workers what an earlier run left to make: its queued files,
        and its per-video attention videos that are missing or damaged."""
        record = read_status(self.batch_dir / job.status_path)
        work = self._work(job, render=True)
        if record is None or work is None:
            return
        listed = {f.path: f for f in record.files}
        rels = [job.attention_video_path(w, k, self.video_format) for w in job.words for k in RENDER_KINDS]
        rels = rels if work.render else []
        for rel in rels:
            problem = check_file(self.batch_dir, listed[rel]) if rel in listed else None
            if problem is not None:
                log.warning("%s: %s: rendering it again", job.video_id, problem)
                (self.batch_dir / rel).unlink(missing_ok=True)
        missing = [rel for rel in rels if rel not in listed or not (self.batch_dir / rel).is_file()]
        if not missing and not record.queued:
            return
        log.info("%s is finished but misses attention videos or report assets: making them", job.video_id)
        work = dataclasses.replace(work, render=bool(missing))
        assets = [assets_path(job.video_id)] if work.assets else []
        queued = tuple(dict.fromkeys((*record.queued, *missing, *assets)))
        record = self._record(job, dataclasses.replace(record, queued=queued))
        covered = frozenset(rel for rel in rels if rel in listed and rel not in missing)
        self.background.submit(dataclasses.replace(work, record=record, covered=covered))

    def _record(self, job: VideoJob, record: VideoRecord, digests: tuple[FileDigest, ...] = ()) -> VideoRecord:
        """Write ``record`` as ``job``'s status file; a ``done`` one lists its files' sizes and checksums
        (``digests``: of attention videos a worker made)."""
        path = self.batch_dir / job.status_path
        try:
            files = self._digests(job, record, digests) if record.status == "done" else ()
            record = dataclasses.replace(record, finished=now_iso(), files=files)
            write_status(path, record)
        except OSError as exc:
            raise _storage_error(exc, path) from exc
        self.records[job.video_id] = record
        return record

    def _digests(self, job: VideoJob, record: VideoRecord, new: tuple[FileDigest, ...]) -> tuple[FileDigest, ...]:
        """The files a ``done`` status vouches for: video, store mark, per-video attention videos."""
        rels = [job.video_path]
        if captures_maps(self.config, job):
            rels.append(self.maps.completion_mark(job.video_id))
        rels += [r.path for r in record.renders if r.stage == "per_video" and r.status == "done"]
        known = {f.path: f for f in (*record.files, *new)}
        # A file digested earlier (here or by a worker) is not read again (renders only add files).
        return tuple(known[rel] if rel in known else digest_file(self.batch_dir, rel) for rel in rels)

    # -- the end ---------------------------------------------------------------------------------
    def _finish(self, generated: int, skipped: int, interrupt: int | None) -> BatchResult:
        """Rank 0: batch-end renders, the report, then the manifest (``finished`` only after all of them)."""
        result = BatchResult(
            self.batch_dir,
            self.ctx.rank,
            generated,
            skipped,
            interrupted=interrupt is not None,
            render_wait_s=self.background.waited_s,
        )
        if not self.ctx.is_main:
            own_failed = tuple((r.video_id, r.error or "") for r in self.records.values() if r.status == "failed")
            return dataclasses.replace(
                result, failed=own_failed, files_written=self.files_written, seconds=time.perf_counter() - self.started
            )
        report_error = None
        manifest: Manifest | None = None
        a = self.config.attention_analysis
        try:
            if interrupt is None:
                raise_if_swallowed()
                self._consolidate_averages()
                records = merged_records(self.batch_dir, self.jobs, self.records, self.config)
                if a.auto_generate_videos:
                    records = self._batch_end_renders(records)
                if a.generate_report:
                    if a.auto_generate_videos:  # batch-end renders are recorded in the manifest alone
                        self._write_manifest(finished=False, records=records)
                    self._make_missing_assets(records)
                    report_error = _write_report(self.batch_dir)
                raise_if_swallowed()  # "finished" only when no signal was dropped on the way
                manifest = self._write_manifest(finished=report_error is None, records=records)
        except KeyboardInterrupt as exc:  # the videos stand; the rest is made on resume
            interrupt = signal_of(exc)
            self.background.stop()
        except StorageError:
            self.background.stop()
            self._try_write_manifest()
            raise
        if manifest is None:
            manifest = self._write_manifest(finished=False)
        if interrupt is not None:
            result = dataclasses.replace(result, interrupted=True, signal_number=interrupt)
        return dataclasses.replace(
            result,
            failed=tuple((r.video_id, r.error or "") for r in manifest.videos if r.status == "failed"),
            render_failures=tuple((f.path, f.error or "") for r in manifest.videos for f in r.render_failures),
            report_error=report_error,
            files_written=self.files_written,
            seconds=time.perf_counter() - self.started,
            render_wait_s=self.background.waited_s,
            manifest=manifest,
        )

    def _consolidate_averages(self) -> None:
        """A packed batch: move the step averages its videos staged into ``_aggregated/`` (see packed_averages)."""
        if self.maps.layout != PACKED or not self.maps.exists():
            return
        try:
            consolidate_averages(self.maps.root)
        except OSError as exc:
            raise _storage_error(exc, self.maps.root) from exc

    def _batch_end_renders(self, records: list[VideoRecord]) -> list[VideoRecord]:
        """Render every finished video's batch-end attention videos in the workers; the records with them."""
        by_id = {job.video_id: job for job in self.jobs}
        self._batch_end = {}
        for record in records:
            job = by_id[record.video_id]
            work = self._work(job, render=True, stage="batch_end")
            if record.status == "done" and work is not None and work.render:
                self._batch_end[record.video_id] = record
                self.background.submit(work)
        self.background.drain()
        return [self._batch_end.get(r.video_id, r) for r in records]

    def _make_missing_assets(self, records: list[VideoRecord]) -> None:
        """Have the workers make (or check) the report assets of every video whose assets this run did not
        make: videos of earlier runs or other ranks (a check: made once, they are not made again), and
        those whose assets failed."""
        by_id = {job.video_id: job for job in self.jobs}
        for record in records:
            if record.video_id not in self._assets_made:
                job = by_id[record.video_id]
                self.background.submit(VideoWork(self.batch_dir, self.config, job, "per_video", False, True, record))
        self.background.drain()

    def _write_manifest(self, *, finished: bool, records: list[VideoRecord] | None = None) -> Manifest:
        if records is None:
            records = merged_records(self.batch_dir, self.jobs, self.records, self.config)
        try:
            return build_manifest(
                self.batch_dir,
                self.config,
                self.config_path,
                self.jobs,
                records,
                self.ctx.world_size,
                self.created,
                finished,
            )
        except OSError as exc:
            raise _storage_error(exc, self.batch_dir / MANIFEST_FILE) from exc

    def _try_write_manifest(self) -> None:
        """Write the manifest if the disk still allows it (after a storage fault)."""
        if not self.ctx.is_main:
            return
        try:
            self._write_manifest(finished=False)
        except StorageError as exc:
            log.debug("the manifest could not be updated either: %s", exc)

    # -- lazy resources ---------------------------------------------------------------------------
    def _pipeline(self, model: str | None, config: Config) -> Any:
        """The pipeline of ``model`` (loaded once; a comparison releases the previous model's first)."""
        if self.pipe is not None and model != self._pipe_model:  # one pipeline in memory at a time
            log.info("model %s done: releasing its pipeline", self._pipe_model)
            self.pipe = None
            release_memory(self.device)
        if self.pipe is None:
            self._pipe_model = model
            g = config.generation
            if is_tiny_model_id(g.model_id) and self.device.type == "cpu":
                # The tiny model is so small that thread hand-offs dominate: one thread is ~5x faster.
                torch.set_num_threads(1)
            self.pipe = load_pipeline(
                g.model_id,
                device=self.device,
                dtype=g.dtype,
                enable_model_cpu_offload=g.enable_model_cpu_offload,
                flow_shift=g.flow_shift,
                pipeline=g.pipeline,
            )
        self.pipe.set_progress_bar_config(disable=not self.show, leave=False, desc="denoising", unit="step")
        return self.pipe


def _said_done(problem: str) -> bool:
    """Whether :func:`video_problem`'s ``problem`` is about the files of a video marked done."""
    return problem != "no status file" and not problem.startswith("its status is")


def _storage_error(exc: OSError, path: Path) -> StorageError:
    fault = storage_fault(exc, path, any_os_error=True)
    return fault if fault is not None else StorageError(f"cannot write {path}: {one_line(exc)}")


def _with_renders(record: VideoRecord, renders: tuple[RenderRecord, ...], seconds: float) -> VideoRecord:
    """``record`` with ``renders`` added (replacing earlier ones of the same file) and the time added."""
    paths = {r.path for r in renders}
    kept = tuple(r for r in record.renders if r.path not in paths) + renders
    done = tuple(r.path for r in kept if r.status == "done")
    render_s = (record.timings.render_s or 0.0) + seconds
    return dataclasses.replace(
        record,
        renders=kept,
        paths=dataclasses.replace(record.paths, attention_videos=done),
        timings=dataclasses.replace(record.timings, render_s=render_s),
    )


def _write_report(batch_dir: Path) -> str | None:
    """The report hook: the page put together (:func:`attention_visual.report.assemble`) from the videos'
    assets, which the render workers made.

    Returns:
        None on success; the one-line error when it failed (the report is an extra: the batch stands).
    """
    try:
        written = assemble(batch_dir)
    except Exception as exc:  # the report is an extra: its failure is reported, the batch stands
        fault = storage_fault(exc)
        if fault is not None:  # unless the disk is full or read-only: then the command ends
            raise fault from exc
        log.error("writing the report failed: %s", one_line(exc))
        return one_line(exc)
    log.info("report written: %s", written)
    return None


__all__ = ["BatchOptions", "VideoGenerator", "run_batch"]

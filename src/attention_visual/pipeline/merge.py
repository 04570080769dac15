"""Merging the per-video status files into ``manifest.json``.

Every process writes only its own status files; the merged view is built from them (and from
the records of the current run, which are the same data, already in memory). A planned video
without a status file is ``pending``; one whose status says ``done`` but whose files are gone or
truncated (sizes are compared; the rerun compares checksums too) is ``pending`` again (it will be
redone), so the manifest never claims a video that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from attention_visual.config import Config
from attention_visual.errors import AttentionDataError
from attention_visual.pipeline.plan import VideoJob
from attention_visual.pipeline.resume import captures_maps, is_video_finished
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch.layout import CONFIG_FILE, MANIFEST_FILE
from attention_visual.storage.batch.manifest import (
    Manifest,
    PromptRecord,
    VideoPaths,
    VideoRecord,
    now_iso,
    package_versions,
    read_manifest,
    read_status,
    write_manifest,
)

log = logging.getLogger(__name__)


def planned_record(
    job: VideoJob, config: Config, *, status: str = "pending", rank: int | None = None, error: str | None = None
) -> VideoRecord:
    """The record of ``job`` before (or without) a status file: identity, seed and planned paths."""
    return VideoRecord(
        video_id=job.video_id,
        index=job.index,
        prompt_index=job.prompt_index,
        video_index=job.video_index,
        marked_prompt=job.prompt.marked,
        clean_prompt=job.prompt.clean,
        words=job.words,
        seed=job.seed,
        word_dirs={w: word_dir_name(w) for w in job.words},
        status=status,
        error=error,
        rank=rank,
        paths=VideoPaths(
            video=job.video_path,
            attention_maps=job.attention_maps_path if captures_maps(config, job) else None,
        ),
        model=job.model,
        model_id=job.model_id or None,
    )


def merged_records(
    batch_dir: Path,
    jobs: list[VideoJob],
    known: Mapping[str, VideoRecord],
    config: Config,
    *,
    check_files: bool = True,
) -> list[VideoRecord]:
    """One record per planned video, in batch order: this run's, else its status file's, else pending.

    ``check_files=False`` trusts the status files (no file is looked at: the view of a running batch).
    """
    records = []
    for job in jobs:
        record = known.get(job.video_id) or read_status(batch_dir / job.status_path)
        if record is None:
            record = planned_record(job, config)
        elif check_files and record.status == "done" and not is_video_finished(batch_dir, job, config, checksums=False):
            log.warning("%s: its status says done but its files are missing: it will be redone", job.video_id)
            record = planned_record(job, config, error="files missing after an earlier run")
        records.append(record)
    return records


def prompt_records(jobs: list[VideoJob]) -> tuple[PromptRecord, ...]:
    """One record per prompt, with its video ids, in prompt order."""
    prompts: dict[int, PromptRecord] = {}
    for job in jobs:
        previous = prompts.get(job.prompt_index)
        ids = (*previous.video_ids, job.video_id) if previous is not None else (job.video_id,)
        prompt = job.prompt  # its record lists the marked words only (no <image>): they highlight its text
        prompts[job.prompt_index] = PromptRecord(job.prompt_index, prompt.marked, prompt.clean, prompt.words, ids)
    return tuple(prompts[i] for i in sorted(prompts))


def build_manifest(
    batch_dir: Path,
    config: Config,
    config_path: Path,
    jobs: list[VideoJob],
    records: list[VideoRecord],
    world_size: int,
    created: str,
    finished: bool,
) -> Manifest:
    """Build the manifest from merged records and write it atomically to ``batch_dir/manifest.json``.

    Args:
        batch_dir: The batch folder.
        config: The resolved config.
        config_path: The config file the run was started with.
        jobs: Every planned video.
        records: :func:`merged_records` of ``jobs``.
        world_size: Processes of this run.
        created: The creation time to use when there is no earlier manifest (an earlier one's is kept).
        finished: The run completed the batch's end (batch-end renders and report); ``finished`` is
            set when, moreover, every video is done.

    Returns:
        The manifest written.
    """
    path = batch_dir / MANIFEST_FILE
    if path.is_file():
        try:
            created = read_manifest(path).created
        except AttentionDataError as exc:
            log.warning("rewriting unreadable manifest %s (%s)", path, exc)
    all_done = finished and all(r.status == "done" and not r.render_failures and not r.queued for r in records)
    manifest = Manifest(
        batch_name=batch_dir.name,
        created=created,
        updated=now_iso(),
        config_path=str(Path(config_path).absolute()),
        config_file=CONFIG_FILE,
        model_id=", ".join(dict.fromkeys(job.model_id for job in jobs))
        if config.models
        else config.generation.model_id,
        world_size=world_size,
        versions=package_versions(),
        prompts=prompt_records(jobs),
        videos=tuple(records),
        finished=now_iso() if all_done else None,
    )
    write_manifest(path, manifest)
    return manifest


__all__ = ["build_manifest", "merged_records", "planned_record", "prompt_records"]

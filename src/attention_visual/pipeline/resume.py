"""Which batch folder a run writes to, which videos are finished, and clearing an unfinished one.

Rules (docs/batch.md, "Resume"):

* An explicit ``batch_name``: its folder is resumed when its ``config.yaml`` equals the resolved
  config (but for the keys that only say how the batch runs, :data:`RUN_ONLY_KEYS`); a folder
  holding another config (or foreign files) is an error that suggests ``--overwrite`` or another name.
* No ``batch_name``: the folder is ``<config file stem>_<YYYYMMDD-HHMMSS>``. A rerun resumes the
  newest such folder whose ``config.yaml`` equals the resolved config, unless it is finished (its
  manifest says so: every video, attention video and the report done) or another run holds it
  (``skip``): then a new batch starts.
* ``--overwrite`` clears the folder that would have been resumed (for a default name: the newest
  matching one, finished or not) and starts over in it; nothing outside that folder is touched.
* A video is finished when its status file says ``done`` and every file it lists (the video, the
  store's completion mark, which lists the maps in turn) has the size and SHA-256 written there.
  Anything else is redone, after its leftovers are removed. The batch's maps are where
  :func:`~attention_visual.storage.backend.open_maps` says (one layout per batch): in a packed batch
  (``storage_format: zarr``, or packed by ``pack``) the mark is the video's group in
  ``attention_maps.zarr`` (its ``complete`` record lists the group's files), and redone videos go into
  the packed store too; a batch unpacked after its run gets ``.npz`` files.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from attention_visual.config import Config, dump_config
from attention_visual.errors import AttentionDataError, ConfigError, StorageError
from attention_visual.pipeline.plan import CONFIG_FILE, MANIFEST_FILE, RENDER_KINDS, VideoJob
from attention_visual.storage.backend import FILES, PACKED, MapBackend, open_maps
from attention_visual.storage.backend.maps import LAYOUT_FOLDERS
from attention_visual.storage.backend.placement import batch_store
from attention_visual.storage.batch.layout import LOCK_FILE, REPORT_INDEX
from attention_visual.storage.batch.manifest import read_manifest, read_status
from attention_visual.storage.durable.atomic import TMP_MARKER, atomic_write_text, is_temporary
from attention_visual.storage.durable.integrity import check_file

log = logging.getLogger(__name__)

_TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
_STAMP = r"(?P<stamp>\d{8}-\d{6})(?:-(?P<n>\d+))?"


def captures_maps(config: Config, job: VideoJob) -> bool:
    """Whether maps are stored for ``job``: ``store_attention`` is on and the prompt marks a word."""
    return config.attention_analysis.store_attention and bool(job.words)


def batch_maps(batch_dir: Path, config: Config) -> MapBackend:
    """The batch's maps (:func:`~attention_visual.storage.backend.open_maps`): the layout the batch has wins
    over the config's ``storage_format``, which picks it for a batch without maps yet."""
    return open_maps(batch_dir, storage_format=config.attention_analysis.storage_format)


def _relaid_marks(maps: MapBackend, video_id: str) -> set[str]:
    """The completion marks ``video_id`` had in the other layout (``pack``/``unpack`` after its status was written)."""
    other = PACKED if maps.layout == FILES else FILES
    return {MapBackend(other, maps.root.parent / LAYOUT_FOLDERS[other]).completion_mark(video_id)}


def video_problem(batch_dir: Path, job: VideoJob, config: Config, *, checksums: bool = True) -> str | None:
    """Why ``job`` is not finished (``"no status file"``, ``"… is truncated"``…), or None when it is.

    Finished: a status file saying ``done`` whose video file and store completion mark (when maps
    are captured) exist and match the sizes and SHA-256 it lists, and every map file the store's
    mark lists matches too. ``checksums=False`` compares sizes only (cheap: for listings and choices).
    A status file from before checksums were recorded is trusted when the files exist.
    """
    record = read_status(batch_dir / job.status_path)
    if record is None:
        return "no status file"
    if record.status != "done":
        return f"its status is {record.status}"
    maps = batch_maps(batch_dir, config)
    mark = maps.completion_mark(job.video_id)
    core = [job.video_path, mark] if captures_maps(config, job) else [job.video_path]
    listed = {f.path: f for f in record.files}
    # packed or unpacked after this status was written: it lists the other layout's mark, which this one replaced
    relaid = bool(_relaid_marks(maps, job.video_id) & set(listed))
    for rel in core:
        if rel in listed:
            problem = check_file(batch_dir, listed[rel], checksums=checksums)
            if problem is not None:
                return problem
        elif not (batch_dir / rel).is_file():
            return f"{rel} is missing"
        elif record.files and not (relaid and rel == mark):
            return f"{rel} is not covered by the status file"
    if not captures_maps(config, job):
        return None
    problems = maps.check_video(job.video_id, checksums=checksums)
    return f"{maps.root.name}/{job.video_id}/{problems[0][1]}" if problems else None  # paths within the video folder


def is_video_finished(batch_dir: Path, job: VideoJob, config: Config, *, checksums: bool = True) -> bool:
    """True when :func:`video_problem` finds nothing wrong with ``job``'s files."""
    return video_problem(batch_dir, job, config, checksums=checksums) is None


def expected_renders(job: VideoJob, config: Config) -> list[str]:
    """The attention videos the config asks for ``job`` (relative paths, both stages)."""
    a = config.attention_analysis
    if not captures_maps(config, job):
        return []
    video_format = a.visualization_params.video_format
    stages = [s for s, on in (("per_video", a.auto_generate_per_video), ("batch_end", a.auto_generate_videos)) if on]
    return [job.attention_video_path(w, k, video_format, s) for s in stages for w in job.words for k in RENDER_KINDS]


def is_batch_finished(batch_dir: Path, jobs: list[VideoJob], config: Config) -> bool:
    """True when the batch's last run completed it: the manifest says ``finished`` (written only after
    the batch-end attention videos and the report) and every file the config asks for is there.

    Every covered file is verified (sizes and checksums): a damaged file makes the batch resumed
    and repaired instead of passed over for a new one.
    """
    try:
        manifest = read_manifest(batch_dir / MANIFEST_FILE)
    except AttentionDataError:
        return False
    if manifest.finished is None:
        return False
    if config.attention_analysis.generate_report and not (batch_dir / REPORT_INDEX).is_file():
        return False
    return all(
        is_video_finished(batch_dir, job, config)
        and all((batch_dir / rel).is_file() for rel in expected_renders(job, config))
        for job in jobs
    )


def remove_leftovers(batch_dir: Path, job: VideoJob, video_format: str, *, temporaries: bool = True) -> None:
    """Delete everything an unfinished attempt at ``job`` may have left: maps, video, renders, status.

    Temporary files of interrupted atomic writes (``.<name>.tmp-*``) beside them go too, unless
    ``temporaries`` is False: finding them lists each folder (``status/`` holds a file per video of
    the batch), and a run that removed every temporary file at its start (:func:`remove_temporaries`)
    has none of an earlier attempt left.
    """
    maps = batch_store(batch_dir)
    if maps is not None:
        maps.remove_video(job.video_id)
    files = [job.status_path, job.video_path]
    for word in job.words:
        for kind in RENDER_KINDS:
            for stage in ("per_video", "batch_end"):
                files.append(job.attention_video_path(word, kind, video_format, stage))
    for rel in files:
        path = batch_dir / rel
        path.unlink(missing_ok=True)
        if temporaries and path.parent.is_dir():
            for tmp in path.parent.glob(f".{path.name}{TMP_MARKER}*"):
                tmp.unlink(missing_ok=True)


def remove_temporaries(batch_dir: Path) -> int:
    """Delete every temporary file (``.<name>.tmp-*``) under ``batch_dir``; return how many.

    Only safe while holding the batch's lock: they are then leftovers of a killed run (``kill -9``,
    a lost node), never files another process is writing.
    """
    removed = 0
    for path in sorted(batch_dir.rglob(f".*{TMP_MARKER}*")):
        if is_temporary(path) and (path.is_file() or path.is_symlink()):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", removed, batch_dir)
    return removed


@dataclass(frozen=True)
class BatchChoice:
    """The batch folder a run uses and how.

    Attributes:
        path: The batch folder.
        mode: ``"new"`` (created), ``"resume"`` (an earlier, unfinished run of the same config) or
            ``"overwrite"`` (cleared and started over).
    """

    path: Path
    mode: str


def default_prefix(config_path: Path) -> str:
    """The config file's stem as a folder-name prefix (``tiny_demo``); odd characters become ``_``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", config_path.stem).strip("._-")
    return stem or "batch"


def _stamp_key(prefix: str, name: str) -> tuple[str, int] | None:
    match = re.fullmatch(re.escape(prefix) + "_" + _STAMP, name)
    if match is None:
        return None
    return match["stamp"], int(match["n"] or 1)


#: Config keys that say how a batch runs, not what it makes: a batch is resumed whatever they say.
RUN_ONLY_KEYS = (("attention_analysis", "render_workers"),)


def _batch_identity(config_text: str) -> tuple[Any, list[str]] | None:
    """What a dumped config says about the batch it makes: its data without :data:`RUN_ONLY_KEYS`, and its
    comment lines (they list the prompts read from ``prompts_file``); None when it is not YAML."""
    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return None
    for section, key in RUN_ONLY_KEYS:
        if isinstance(data, dict) and isinstance(data.get(section), dict):
            data[section].pop(key, None)
    return data, [line for line in config_text.splitlines() if line.startswith("#")]


def same_batch_config(saved_text: str, config_text: str) -> bool:
    """Whether a batch folder's ``config.yaml`` (``saved_text``) makes the same batch as ``config_text``
    (:func:`~attention_visual.config.dump_config` of the config to run): equal but for :data:`RUN_ONLY_KEYS`.

    Example:
        >>> same_batch_config("attention_analysis: {render_workers: 2}", "attention_analysis: {}")
        True
        >>> same_batch_config("attention_analysis: {render_workers: 2, padding: exclude}", "attention_analysis: {}")
        False
    """
    if saved_text == config_text:
        return True
    saved = _batch_identity(saved_text)
    return saved is not None and saved == _batch_identity(config_text)


def _holds_config(folder: Path, config_text: str) -> bool:
    saved = folder / CONFIG_FILE
    try:
        return same_batch_config(saved.read_text(encoding="utf-8"), config_text)
    except (OSError, UnicodeDecodeError):
        return False


def _is_empty(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but a lock file and temporary files (a run that stopped at once)."""
    return all(child.name == LOCK_FILE or is_temporary(child) for child in folder.iterdir())


def _new_name(output_dir: Path, prefix: str, now: datetime) -> str:
    base = f"{prefix}_{now.strftime(_TIMESTAMP_FORMAT)}"
    name, n = base, 1
    while (output_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def choose_batch_dir(
    config: Config,
    config_path: Path,
    jobs: list[VideoJob],
    *,
    overwrite: bool = False,
    now: datetime | None = None,
    skip: frozenset[Path] = frozenset(),
) -> BatchChoice:
    """Decide which folder under ``config.output_dir`` the batch uses (nothing is written).

    Args:
        config: The resolved config.
        config_path: The config file given on the command line (its stem names default batches).
        jobs: The planned videos (to tell a finished batch from an unfinished one).
        overwrite: Start over in the folder that would have been resumed.
        now: The time for a new default name (default: now, local time).
        skip: Default-named folders not to resume (another process holds them): a new batch starts.

    Returns:
        The folder and whether it is new, resumed or to be overwritten.

    Raises:
        ConfigError: An explicit ``batch_name`` folder holds another config or foreign files, and
            ``overwrite`` is off.
    """
    output_dir = Path(config.output_dir)
    config_text = dump_config(config)
    if config.batch_name is not None:
        folder = output_dir / config.batch_name
        if overwrite:
            return BatchChoice(folder, "overwrite" if folder.exists() else "new")
        if not folder.exists() or (folder.is_dir() and _is_empty(folder)):
            return BatchChoice(folder, "new")
        if folder.is_dir() and _holds_config(folder, config_text):
            return BatchChoice(folder, "resume")
        what = "a different config" if (folder / CONFIG_FILE).is_file() else "files of something else"
        raise ConfigError(
            f"batch folder {folder} holds {what}: pass --overwrite to start this batch over there "
            f"(its contents are deleted), or choose another batch_name (--set batch_name=NAME)"
        )

    prefix = default_prefix(config_path)
    candidates: list[tuple[tuple[str, int], Path]] = []
    if output_dir.is_dir():
        for child in output_dir.iterdir():
            key = _stamp_key(prefix, child.name)
            if key is not None and child not in skip and child.is_dir() and _holds_config(child, config_text):
                candidates.append((key, child))
    if candidates:
        newest = max(candidates)[1]
        if overwrite:
            return BatchChoice(newest, "overwrite")
        if not is_batch_finished(newest, jobs, config):
            return BatchChoice(newest, "resume")
        log.info("the newest batch of this config, %s, is finished: starting a new batch", newest)
    return BatchChoice(output_dir / _new_name(output_dir, prefix, now or datetime.now()), "new")


def prepare_batch_dir(choice: BatchChoice, config: Config) -> None:
    """Create (or clear, for ``overwrite``) the batch folder and write its ``config.yaml``.

    Raises:
        StorageError: The folder cannot be created, cleared or written (exit status 1).
    """
    folder = choice.path
    try:
        if choice.mode == "overwrite" and folder.exists():
            log.info("--overwrite: deleting the previous contents of %s", folder)
            if folder.is_dir() and not folder.is_symlink():
                for child in folder.iterdir():
                    if child.name == LOCK_FILE:  # held by this run: deleting it would let another one in
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            else:
                folder.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        if choice.mode != "resume":
            atomic_write_text(folder / CONFIG_FILE, dump_config(config))
    except OSError as exc:
        raise StorageError(f"cannot prepare batch folder {exc.filename or folder}: {exc.strerror or exc}") from exc


__all__ = [
    "BatchChoice",
    "batch_maps",
    "captures_maps",
    "choose_batch_dir",
    "default_prefix",
    "expected_renders",
    "is_batch_finished",
    "is_video_finished",
    "prepare_batch_dir",
    "remove_leftovers",
    "remove_temporaries",
    "same_batch_config",
    "video_problem",
]

"""The batch manifest (``manifest.json``) and the per-video status files: one schema, one module.

``status/<video_id>.json`` holds one :class:`VideoRecord`; it is written (atomically) by the process
that generated the video, last, after the video file and the store's ``_complete.json``.
``manifest.json`` is the merged view of a batch: the :class:`Manifest` with one record per planned
video, written atomically by rank 0 when a run starts and ends (and refreshed from the status files
every few seconds while it runs); a status file is newer than its manifest entry (:func:`current_records`).
docs/batch.md documents every field; the HTML report reads exactly this.

Compatibility: readers check ``schema_version``; fields are only ever added (with defaults) within a
version, so ``from_dict`` ignores unknown keys and fills missing optional ones.

Example:
    >>> record = VideoRecord(video_id="prompt_001_vid_001", index=0, prompt_index=1, video_index=1,
    ...                      marked_prompt="a (cat)", clean_prompt="a cat", words=("cat",), seed=42)
    >>> VideoRecord.from_dict(record.to_dict()) == record
    True
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from attention_visual.errors import AttentionDataError, AttentionVisualError, NotFoundError
from attention_visual.storage.batch.layout import MANIFEST_FILE, model_label, status_file
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.storage.durable.integrity import FileDigest
from attention_visual.storage.durable.reading import read_fault, read_json_object, regular_file_exists
from attention_visual.storage.schema.limits import MAX_JSON_BYTES, MAX_RECORD_BYTES

log = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
"""Version of ``manifest.json`` and of the status files; bumped on any incompatible change."""

#: ``done``: video file, maps and status written. ``failed``: an error (see ``error``), the batch went on.
#: ``pending``: not attempted yet (or its rank has not reported). ``interrupted``: stopped by Ctrl-C,
#: SIGTERM or SIGHUP.
STATUSES = ("done", "failed", "pending", "interrupted")


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds, e.g. ``2025-01-31T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def one_line(error: BaseException | str) -> str:
    """An error as one line: ``TypeName: first line of the message`` (at most 500 characters)."""
    if isinstance(error, BaseException):
        text = str(error).strip().splitlines()
        line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    else:
        line = " ".join(error.split())
    return line[:500]


def _from_fields(cls: type[Any], data: dict[str, Any], convert: dict[str, Any] | None = None) -> Any:
    """Build the dataclass ``cls`` from ``data``, ignoring unknown keys and converting some fields."""
    if not isinstance(data, dict):
        raise AttentionDataError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key, fn in (convert or {}).items():
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = fn(kwargs[key])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise AttentionDataError(f"{cls.__name__}: {exc}") from exc


@dataclass(frozen=True)
class Timings:
    """Seconds spent on one video (rounded to milliseconds); None for a stage that did not run.

    Attributes:
        generation_s: The pipeline call (denoising, VAE decode) with the capture hooks on.
        capture_save_s: Writing the attention maps to the store.
        video_write_s: Encoding the generated video file.
        render_s: Rendering its attention videos (per video and at batch end, added up).
    """

    generation_s: float | None = None
    capture_save_s: float | None = None
    video_write_s: float | None = None
    render_s: float | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # milliseconds are plenty, and keep the JSON short
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, round(float(value), 3))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timings:
        return _from_fields(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RenderRecord:
    """One attention video of one word.

    Attributes:
        word: The marked word.
        kind: ``"attention"`` (the step video) or ``"overlay"`` (over the generated video).
        stage: ``"per_video"`` (``auto_generate_per_video``) or ``"batch_end"`` (``auto_generate_videos``).
        path: Relative to the batch folder.
        status: ``"done"`` or ``"failed"``.
        error: One line when it failed.
    """

    word: str
    kind: str
    stage: str
    path: str
    status: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderRecord:
        return _from_fields(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class VideoPaths:
    """Where a video's files are, relative to the batch folder.

    Attributes:
        video: The generated video, ``videos/prompt_001/video_001.mp4``.
        attention_maps: The store folder ``attention_maps/prompt_001_vid_001``, or None when nothing is
            captured (no marked word, or ``store_attention: false``).
        attention_videos: The attention videos rendered successfully (both stages).
    """

    video: str
    attention_maps: str | None = None
    attention_videos: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "attention_maps": self.attention_maps,
            "attention_videos": list(self.attention_videos),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoPaths:
        return _from_fields(cls, data, {"attention_videos": tuple})  # type: ignore[no-any-return]


#: A :class:`VideoRecord` field stored under another JSON key (the first version's name; docs/glossary.md).
_STORED_KEYS = {"word_dirs": "token_dirs"}
_FIELDS_OF_STORED_KEYS = {key: name for name, key in _STORED_KEYS.items()}


@dataclass(frozen=True)
class VideoRecord:
    """Everything about one video of the batch (a status file, or an entry of ``manifest.videos``).

    Attributes:
        video_id: ``prompt_001_vid_001``.
        index: 0-based position in batch order.
        prompt_index: 1-based prompt number.
        video_index: 1-based video number within its prompt.
        marked_prompt: The prompt as written, with ``(markers)``.
        clean_prompt: The text the model saw.
        words: The marked words (maps are stored and rendered for each).
        word_dirs: ``{word: folder name}`` in the store and in attention video file names (stored under
            the key ``token_dirs``).
        seed: The generator seed of this video.
        status: One of :data:`STATUSES`.
        error: One line when ``failed``/``interrupted``, else None.
        rank: The process that generated it (0 in single-process runs), None while pending.
        started: ISO time the generation started, None while pending.
        finished: ISO time the status was written.
        timings: Seconds per stage.
        paths: Files of this video.
        renders: Every attention video attempted, failed ones included.
        files: Size and SHA-256 of the files a ``done`` status vouches for: the video, the store's
            completion mark (which covers the maps in turn) and the per-video attention videos;
            a rerun skips the video only if they verify.
        model: Its model's name in a comparison batch (``models:``), else None.
        model_id: The model that makes it (``generation.model_id``, or its ``models:`` entry's).
        queued: Files of this video handed to the batch's render workers and not made yet (relative
            paths): its per-video attention videos and its report assets
            (``report/maps/<video_id>/assets.json``). Empty once they are made; a run stopped before
            that leaves them listed, and the rerun makes them.
    """

    video_id: str
    index: int
    prompt_index: int
    video_index: int
    marked_prompt: str
    clean_prompt: str
    words: tuple[str, ...]
    seed: int
    word_dirs: dict[str, str] = field(default_factory=dict)
    status: str = "pending"
    error: str | None = None
    rank: int | None = None
    started: str | None = None
    finished: str | None = None
    timings: Timings = field(default_factory=Timings)
    paths: VideoPaths = field(default_factory=lambda: VideoPaths(video=""))
    renders: tuple[RenderRecord, ...] = ()
    files: tuple[FileDigest, ...] = ()
    model: str | None = None
    model_id: str | None = None
    queued: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise AttentionDataError(f"video {self.video_id}: status must be one of {STATUSES}, got {self.status!r}")

    @property
    def render_failures(self) -> tuple[RenderRecord, ...]:
        """The renders that failed."""
        return tuple(r for r in self.renders if r.status == "failed")

    @property
    def model_name(self) -> str | None:
        """Its model's name: the comparison's ``model``, else its model id's :func:`.layout.model_label`
        (``tiny``, ``LTX-Video``); None in manifests older than the field."""
        if self.model is not None:
            return self.model
        return model_label(self.model_id) if self.model_id else None

    def to_dict(self) -> dict[str, Any]:
        data = {_STORED_KEYS.get(f.name, f.name): getattr(self, f.name) for f in dataclasses.fields(self)}
        data["words"] = list(self.words)
        data["token_dirs"] = dict(self.word_dirs)
        data["timings"] = self.timings.to_dict()
        data["paths"] = self.paths.to_dict()
        data["renders"] = [r.to_dict() for r in self.renders]
        data["files"] = [f.to_dict() for f in self.files]
        data["queued"] = list(self.queued)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoRecord:
        if isinstance(data, dict):
            data = {_FIELDS_OF_STORED_KEYS.get(k, k): v for k, v in data.items()}
        return _from_fields(  # type: ignore[no-any-return]
            cls,
            data,
            {
                "words": tuple,
                "timings": Timings.from_dict,
                "paths": VideoPaths.from_dict,
                "renders": lambda items: tuple(RenderRecord.from_dict(r) for r in items),
                "files": lambda items: tuple(FileDigest.from_dict(f) for f in items),
                "queued": tuple,
            },
        )


@dataclass(frozen=True)
class PromptRecord:
    """One prompt of the batch and the ids of its videos."""

    prompt_index: int
    marked_prompt: str
    clean_prompt: str
    words: tuple[str, ...]
    video_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "words": list(self.words), "video_ids": list(self.video_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptRecord:
        return _from_fields(cls, data, {"words": tuple, "video_ids": tuple})  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Manifest:
    """The merged view of a batch (``manifest.json``).

    Attributes:
        batch_name: The batch folder's name.
        created: ISO time the batch folder was created.
        updated: ISO time this manifest was written.
        finished: ISO time the last run completed the batch (every video done, then the batch-end
            attention videos and the report written), else None.
        config_path: The config file the batch was run from (absolute), as given on the command line.
        config_file: The resolved config as run, relative to the batch folder (``config.yaml``).
        model_id: ``generation.model_id``; a comparison's model ids, joined by ``", "``.
        world_size: Processes of the run that wrote this manifest.
        versions: ``{"attention_visual", "torch", "diffusers", "transformers", "python": version}``.
        prompts: One entry per prompt, in order.
        videos: One entry per planned video, in batch order.
        schema_version: :data:`MANIFEST_SCHEMA_VERSION`.
    """

    batch_name: str
    created: str
    updated: str
    config_path: str
    model_id: str
    world_size: int
    versions: dict[str, str]
    prompts: tuple[PromptRecord, ...]
    videos: tuple[VideoRecord, ...]
    finished: str | None = None
    config_file: str = "config.yaml"
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def counts(self) -> dict[str, int]:
        """``{status: number of videos}`` for every status, plus ``render_failures``."""
        counts = {s: sum(1 for v in self.videos if v.status == s) for s in STATUSES}
        counts["render_failures"] = sum(len(v.render_failures) for v in self.videos)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "batch_name": self.batch_name,
            "created": self.created,
            "updated": self.updated,
            "finished": self.finished,
            "config_path": self.config_path,
            "config_file": self.config_file,
            "model_id": self.model_id,
            "world_size": self.world_size,
            "versions": dict(self.versions),
            "counts": self.counts(),
            "prompts": [p.to_dict() for p in self.prompts],
            "videos": [v.to_dict() for v in self.videos],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != MANIFEST_SCHEMA_VERSION:
            raise AttentionDataError(
                f"manifest schema version {version!r} is not supported (this package reads {MANIFEST_SCHEMA_VERSION})"
            )
        return _from_fields(  # type: ignore[no-any-return]
            cls,
            data,
            {
                "prompts": lambda items: tuple(PromptRecord.from_dict(p) for p in items),
                "videos": lambda items: tuple(VideoRecord.from_dict(v) for v in items),
            },
        )


def package_versions() -> dict[str, str]:
    """Versions of this package, torch, diffusers, transformers and Python."""
    versions = {"python": platform.python_version()}
    for name in ("attention_visual", "torch", "diffusers", "transformers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically."""
    write_json(path, manifest.to_dict())


def read_manifest(path: Path) -> Manifest:
    """Read a ``manifest.json``.

    Raises:
        AttentionDataError: The file is missing, not JSON, or of another schema version.
    """
    data = read_json_object(path, MAX_JSON_BYTES, "manifest")  # no link, size-limited
    try:
        return Manifest.from_dict(data)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc


def find_manifest(batch_dir: Path) -> Manifest | None:
    """The ``manifest.json`` of the batch folder ``batch_dir``, None when it has none.

    Raises:
        AttentionDataError: The manifest is a link, not a regular file, unreadable or of another schema version.
    """
    path = batch_dir / MANIFEST_FILE
    try:
        found = regular_file_exists(path)  # a link or a FIFO is refused, naming it
    except OSError as exc:
        raise read_fault(exc, path) from exc
    return read_manifest(path) if found else None


def read_batch_manifest(batch_dir: Path) -> Manifest:
    """Read the ``manifest.json`` of the batch folder ``batch_dir``.

    Raises:
        NotFoundError: ``batch_dir`` is not a folder or has no ``manifest.json``.
        AttentionDataError: The manifest is unreadable or of another schema version.
    """
    if not batch_dir.is_dir():
        raise NotFoundError(f"batch folder {batch_dir} does not exist")
    manifest = find_manifest(batch_dir)
    if manifest is None:
        raise NotFoundError(
            f"{batch_dir} has no {MANIFEST_FILE}: give a batch folder written by `attention-visual generate` "
            "(outputs/<batch>)"
        )
    return manifest


def write_status(path: Path, record: VideoRecord) -> None:
    """Write a video's status file atomically (``{"schema_version": 1, "video": {...}}``)."""
    write_json(path, {"schema_version": MANIFEST_SCHEMA_VERSION, "video": record.to_dict()})


def read_status(path: Path) -> VideoRecord | None:
    """Read a status file; None when it is missing, and (with a warning) when it is unreadable."""
    try:
        if not regular_file_exists(path):
            return None
        data = read_json_object(path, MAX_RECORD_BYTES, "status file")  # no link, size-limited
        if data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
            raise AttentionDataError(f"schema version {data.get('schema_version')!r}")
        return VideoRecord.from_dict(data["video"])
    except (OSError, AttentionVisualError, KeyError, AttributeError) as exc:
        log.warning("ignoring unreadable status file %s (%s): the video will be redone", path, one_line(exc))
        return None


def current_records(batch_dir: Path, manifest: Manifest | None = None) -> list[VideoRecord]:
    """The manifest's video records in batch order, each replaced by its status file when one exists.

    A video's status file (``status/<video_id>.json``) is newer than its manifest entry: multi-process
    runs merge the manifest only at the end.

    Args:
        batch_dir: The batch folder.
        manifest: Its manifest when already read (default: read it).

    Raises:
        NotFoundError: ``batch_dir`` is not a folder or has no ``manifest.json`` (when reading it).
        AttentionDataError: The manifest is unreadable or of another schema version.
    """
    manifest = read_batch_manifest(batch_dir) if manifest is None else manifest
    records = []
    for record in manifest.videos:
        newer = read_status(batch_dir / status_file(record.video_id))
        records.append(newer if newer is not None and newer.video_id == record.video_id else record)
    return records


__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "STATUSES",
    "Manifest",
    "PromptRecord",
    "RenderRecord",
    "Timings",
    "VideoPaths",
    "VideoRecord",
    "current_records",
    "find_manifest",
    "now_iso",
    "one_line",
    "package_versions",
    "read_manifest",
    "read_status",
    "write_json",
    "write_manifest",
    "write_status",
]

"""Read a batch folder (manifest, status files, stored maps) into the plain data model of the report.

Nothing here draws or writes: :func:`collect_batch` resolves which files exist and how the page
links them (paths relative to the ``report/`` folder, URL-quoted); each video's images and curves
are its assets (:mod:`.video_assets`). The manifest's schema is
:mod:`attention_visual.storage.batch.manifest`; a video's status file, when present, is newer than
its manifest entry (multi-process runs merge the manifest at the end), so it wins.

Example:
    >>> view = collect_batch(Path("outputs/batch"))
    >>> [(v.record.video_id, v.record.status) for p in view.prompts for v in p.videos]
    [('prompt_001_vid_001', 'done')]
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from attention_visual.errors import NotFoundError, PromptError
from attention_visual.families import FAMILIES
from attention_visual.prompts.parsing import parse_prompt
from attention_visual.storage import word_dir_name
from attention_visual.storage.backend import find_maps
from attention_visual.storage.batch.layout import INPUTS_DIR, REPORT_INDEX_FILE, prompt_dir, status_file
from attention_visual.storage.batch.layout import REPORT_DIR as BATCH_REPORT_DIR
from attention_visual.storage.batch.manifest import (
    Manifest,
    PromptRecord,
    VideoRecord,
    current_records,
    read_batch_manifest,
    read_status,
)

log = logging.getLogger(__name__)

REPORT_DIR = BATCH_REPORT_DIR
"""The report's folder inside the batch folder (``attention-visual report --output`` puts it elsewhere)."""
INDEX_FILE = REPORT_INDEX_FILE
MAPS_DIR = "maps"


@dataclass(frozen=True)
class Segment:
    """A piece of the clean prompt: plain text (``word_index`` None) or a marked word's occurrence."""

    text: str
    word_index: int | None = None


@dataclass
class WordView:
    """One marked word of one video.

    Attributes:
        word: The word (original text).
        index: Its position among the prompt's words (decides its highlight colour).
        word_dir: Its folder name in the store and in attention video names.
        overlay: Link to its overlay video, or None.
        step_video: Link to its step video, or None.
        render_errors: One line per failed attention video.
    """

    word: str
    index: int
    word_dir: str
    overlay: str | None = None
    step_video: str | None = None
    render_errors: list[str] = field(default_factory=list)


@dataclass
class VideoView:
    """One video of the batch: its record and the links the page shows.

    Attributes:
        record: Its manifest entry (or newer status file).
        video: Link to the generated video, or None when the file does not exist.
        maps_dir: The folder of its maps in the batch's store (``attention_maps/<video_id>``, or its group in
            ``attention_maps.zarr``), or None when nothing was captured.
        words: One entry per marked word.
    """

    record: VideoRecord
    video: str | None
    maps_dir: Path | None
    words: list[WordView]


@dataclass
class PromptView:
    """One prompt: the record, the clean prompt cut into highlighted segments, its videos.

    ``inputs`` lists the prompt's input files copied into the batch (``inputs/prompt_001/image.png``)
    as ``(name, link)``, e.g. ``("image", "../inputs/prompt_001/image.png")``; empty for text-to-video.
    """

    record: PromptRecord
    segments: list[Segment]
    videos: list[VideoView]
    inputs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReportView:
    """The whole page: the manifest and one :class:`PromptView` per prompt, in order."""

    batch_dir: Path
    manifest: Manifest
    prompts: list[PromptView]

    @property
    def videos(self) -> list[VideoView]:
        """Every video, in batch order."""
        return [v for p in self.prompts for v in p.videos]


def batch_prefix(batch_dir: Path, report_dir: Path | None = None) -> str:
    """How the page reaches the batch folder: ``../`` from ``BATCH/report``, a relative path from elsewhere."""
    if report_dir is None:
        return "../"
    relative = os.path.relpath(Path(batch_dir).absolute(), Path(report_dir).absolute())
    return "" if relative == "." else quote(Path(relative).as_posix(), safe="/") + "/"


def link(batch_dir: Path, relative: str | None, prefix: str = "../") -> str | None:
    """The page's URL of a batch-relative file (``../videos/...``), or None when it does not exist.

    ``prefix`` is :func:`batch_prefix` of the page's folder (``../`` for ``BATCH/report``).
    """
    if not relative:
        return None
    normalized = posixpath.normpath(relative.replace("\\", "/"))
    if normalized.startswith(("../", "/")) or normalized == "..":
        log.warning("ignoring a path outside the batch folder: %s", relative)
        return None
    if not (batch_dir / normalized).is_file():
        return None
    return prefix + quote(normalized, safe="/")


def highlight(marked_prompt: str, clean_prompt: str, words: tuple[str, ...]) -> list[Segment]:
    """Cut the clean prompt into segments, marking each occurrence of a marked word.

    The marked prompt is parsed with the cleaning of the model family that reproduces ``clean_prompt``
    (the families clean prompts differently; none: the default family's). Falls back to the whole clean
    prompt unmarked when the marked prompt cannot be parsed.
    """
    try:
        candidates = [parse_prompt(marked_prompt, c) for c in dict.fromkeys(f.text.cleaning for f in FAMILIES)]
    except PromptError as exc:
        log.warning("cannot highlight the prompt %r: %s", marked_prompt, exc)
        return [Segment(clean_prompt)]
    # the family whose cleaning gives the stored clean prompt; else the default family's
    parsed = next((p for p in candidates if p.clean == clean_prompt), candidates[0])
    order = {w: i for i, w in enumerate(words)}
    spans = sorted((start, end, order.get(t.word, i)) for i, t in enumerate(parsed.targets) for start, end in t.spans)
    segments: list[Segment] = []
    pos = 0
    for start, end, index in spans:
        if start > pos:
            segments.append(Segment(parsed.clean[pos:start]))
        segments.append(Segment(parsed.clean[start:end], index))
        pos = end
    if pos < len(parsed.clean):
        segments.append(Segment(parsed.clean[pos:]))
    return segments


def _word_views(batch_dir: Path, record: VideoRecord, words: tuple[str, ...], prefix: str) -> list[WordView]:
    views = []
    for i, word in enumerate(words):
        view = WordView(word=word, index=i, word_dir=record.word_dirs.get(word) or word_dir_name(word))
        # Per-video renders first, so a batch-end render of the same kind (listed later) replaces nothing.
        for render in sorted(record.renders, key=lambda r: r.stage != "per_video"):
            if render.word != word:
                continue
            if render.status != "done":
                view.render_errors.append(f"{render.kind} video failed: {render.error or 'unknown error'}")
                continue
            href = link(batch_dir, render.path, prefix)
            if render.kind == "overlay" and view.overlay is None:
                view.overlay = href
            elif render.kind == "attention" and view.step_video is None:
                view.step_video = href
        views.append(view)
    return views


def find_record(batch_dir: Path, video_id: str) -> VideoRecord:
    """One video's record: its status file when there is one (no other file is read), else its manifest entry.

    Raises:
        NotFoundError: Not a batch folder, or no such video.
        AttentionDataError: The manifest is unreadable.
    """
    newer = read_status(batch_dir / status_file(video_id))
    if newer is not None and newer.video_id == video_id:
        return newer
    for record in read_batch_manifest(batch_dir).videos:
        if record.video_id == video_id:
            return record
    raise NotFoundError(f"no video {video_id!r} in the manifest of {batch_dir}")


def _input_links(batch_dir: Path, prompt_index: int, prefix: str = "../") -> list[tuple[str, str]]:
    """``(name, link)`` of the prompt's copied input files, in name order."""
    folder = f"{INPUTS_DIR}/{prompt_dir(prompt_index)}"
    if not (batch_dir / folder).is_dir():
        return []
    out = []
    for path in sorted((batch_dir / folder).iterdir()):
        target = link(batch_dir, f"{folder}/{path.name}", prefix)
        if path.is_file() and target is not None:
            out.append((path.stem, target))
    return out


def collect_batch(batch_dir: Path, report_dir: Path | None = None) -> ReportView:
    """Read ``batch_dir``'s manifest and files into a :class:`ReportView` (no images yet).

    Links to the batch's files are relative to ``report_dir`` (default: ``BATCH/report``).

    Raises:
        NotFoundError: ``batch_dir`` is not a folder or has no ``manifest.json``.
        AttentionDataError: The manifest is unreadable or of another schema version.
    """
    batch_dir = Path(batch_dir)
    manifest = read_batch_manifest(batch_dir)
    prefix = batch_prefix(batch_dir, report_dir)
    store = find_maps(batch_dir)  # the batch's one layout, by the rule every command applies
    by_prompt: dict[int, list[VideoView]] = {}
    for record in current_records(batch_dir, manifest):
        has_maps = bool(record.paths.attention_maps) and store is not None and store.has_video(record.video_id)
        view = VideoView(
            record=record,
            video=link(batch_dir, record.paths.video, prefix),
            maps_dir=store.root / record.video_id if has_maps and store is not None else None,
            words=_word_views(batch_dir, record, record.words, prefix),
        )
        by_prompt.setdefault(record.prompt_index, []).append(view)
    prompts = [
        PromptView(
            record=p,
            segments=highlight(p.marked_prompt, p.clean_prompt, p.words),
            videos=sorted(by_prompt.get(p.prompt_index, []), key=lambda v: v.record.video_index),
            inputs=_input_links(batch_dir, p.prompt_index, prefix),
        )
        for p in manifest.prompts
    ]
    return ReportView(batch_dir=batch_dir, manifest=manifest, prompts=prompts)


__all__ = [
    "INDEX_FILE",
    "MAPS_DIR",
    "REPORT_DIR",
    "PromptView",
    "ReportView",
    "Segment",
    "VideoView",
    "WordView",
    "batch_prefix",
    "collect_batch",
    "find_record",
    "highlight",
    "link",
]

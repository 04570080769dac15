"""Reading a store back: the index of videos, words and steps, and the maps themselves.

:class:`AttentionStoreReader` reads the folder layout that :class:`~attention_visual.storage.AttentionStore`
writes (see :mod:`.layout`): one schema, one package. It is a
:class:`~attention_visual.storage.backend.protocols.BulkMapReader`, as the packed store's reader is.

Words are looked up by their original text (``"red car"``), whatever folder name the store gave them.
Asking for a video, word or step that does not exist raises :class:`NotFoundError` listing what is there.

Example:
    >>> reader = AttentionStoreReader("outputs/batch/attention_maps")  # doctest: +SKIP
    >>> reader.list_words("prompt_001_vid_001")                        # doctest: +SKIP
    ['flowers', 'kiss']
    >>> reader.read_step("prompt_001_vid_001", "kiss", 0).attention_map.shape  # [frame, y, x]  # doctest: +SKIP
    (21, 30, 52)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.logs import ONCE
from attention_visual.storage.durable.atomic import is_temporary
from attention_visual.storage.files.layout import (
    AGGREGATED_DIR,
    COMPLETE_MARK,
    EXTENSIONS,
    METADATA_SUFFIX,
    STEP_PREFIX,
    check_video_id,
    parse_step_index,
)
from attention_visual.storage.files.store import (
    AttentionInfo,
    read_array,
    read_map,
    read_metadata,
    read_metadata_series,
)
from attention_visual.storage.schema.metadata import MapMetadata

log = logging.getLogger(__name__)

_AGG_META_SUFFIX = f"_aggregated{METADATA_SUFFIX}"


@dataclass
class _WordFiles:
    """Where one word's maps of one video live."""

    steps: dict[int, tuple[Path, Path]] = field(default_factory=dict)  # step -> (data, metadata)
    aggregated: tuple[Path, Path] | None = None


def _data_file(meta_path: Path, stem: str) -> Path | None:
    for ext in EXTENSIONS.values():
        candidate = meta_path.with_name(f"{stem}{ext}")
        if candidate.is_file():
            return candidate
    return None


def _holds_steps(folder: Path) -> bool:
    """Whether a folder looks like an unfinished video: a word folder with a step's metadata in it."""
    return any(sub.is_dir() and next(sub.glob(f"{STEP_PREFIX}*{METADATA_SUFFIX}"), None) for sub in folder.iterdir())


def listing(items: list[str] | list[int]) -> str:
    """``a, b, c`` or ``(none)``: what is available, for a :class:`NotFoundError` message."""
    return ", ".join(str(i) for i in items) if items else "(none)"


class AttentionStoreReader:
    """Reads an ``attention_maps/`` folder in the layout of :mod:`.layout` (a ``BulkMapReader``).

    The index of a finished video (its completion mark exists) is built once and kept; an unfinished
    one is re-read on every call, since its capture may still be writing. A folder is a video when it
    has a completion mark or a word folder with a step's metadata: other folders (someone's notes, a
    report written there) are not listed.

    Args:
        root: The ``attention_maps/`` folder of a batch (or any store root).

    Raises:
        NotFoundError: ``root`` is not a folder.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotFoundError(f"attention directory {self.root} does not exist")
        self._words: dict[str, dict[str, _WordFiles]] = {}

    def list_videos(self, include_incomplete: bool = True) -> list[str]:
        videos = []
        for child in sorted(self.root.iterdir()):
            if not child.is_dir() or child.name.startswith((".", "_")):
                continue
            if (child / COMPLETE_MARK).is_file() or (include_incomplete and _holds_steps(child)):
                videos.append(child.name)
        return videos

    def is_complete(self, video_id: str) -> bool:
        return (self.root / check_video_id(video_id) / COMPLETE_MARK).is_file()

    def list_words(self, video_id: str) -> list[str]:
        return sorted(self._word_index(video_id))

    def list_steps(self, video_id: str, word: str) -> list[int]:
        return sorted(self._word_files(video_id, word).steps)

    def read_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        files = self._word_files(video_id, word)
        if step not in files.steps:
            raise NotFoundError(
                f"no step {step} for word {word!r} of video {video_id!r}; "
                f"available steps: {listing(sorted(files.steps))}"
            )
        return read_map(*files.steps[step])

    def read_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        files = self._word_files(video_id, word)
        if files.aggregated is None:
            raise NotFoundError(
                f"no step average for word {word!r} of video {video_id!r} "
                "(store_aggregated_attention was off, or the capture was interrupted)"
            )
        return read_map(*files.aggregated)

    def read_steps(self, video_id: str, word: str) -> tuple[np.ndarray, list[MapMetadata]]:
        files = self._word_files(video_id, word)
        paths = [files.steps[s] for s in sorted(files.steps)]
        if not paths:
            raise NotFoundError(f"word {word!r} of video {video_id!r} has no stored steps")
        metas = read_metadata_series([meta for _, meta in paths])
        stack: np.ndarray | None = None  # [step, *leading, frame, y, x], filled file by file
        for i, ((data, _), meta) in enumerate(zip(paths, metas, strict=True)):
            array = read_array(data)
            if tuple(array.shape) != tuple(meta.shape):
                raise AttentionDataError(
                    f"{data}: array shape {tuple(array.shape)} does not match its metadata {meta.shape}"
                )
            if stack is None:
                stack = np.empty((len(paths), *array.shape), dtype=array.dtype)
            elif array.shape != stack.shape[1:] or array.dtype != stack.dtype:  # steps that differ: as np.stack
                arrays = [stack[j] for j in range(i)] + [array]
                arrays += [read_map(*p).attention_map for p in paths[i + 1 :]]
                return np.stack(arrays), metas
            stack[i] = array
        assert stack is not None
        return stack, metas

    def list_step_metadata(self, video_id: str, word: str) -> list[MapMetadata]:
        files = self._word_files(video_id, word)
        return read_metadata_series([files.steps[s][1] for s in sorted(files.steps)])

    def video_folder(self, video_id: str) -> Path:
        return self.root / check_video_id(video_id)

    def video_files(self, video_id: str) -> set[Path]:
        """Every file this reader reads of a video: its maps, their metadata and its completion mark."""
        files = {p for word in self._word_index(video_id).values() for pair in word.steps.values() for p in pair}
        files |= {p for word in self._word_index(video_id).values() if word.aggregated for p in word.aggregated}
        mark = self.root / video_id / COMPLETE_MARK
        return files | {mark} if mark.is_file() else files

    def release(self, video_id: str) -> None:
        self._words.pop(video_id, None)

    def _video_dir(self, video_id: str) -> Path:
        folder = self.root / check_video_id(video_id)
        if not folder.is_dir():
            raise NotFoundError(
                f"no video {video_id!r} in {self.root}; available videos: {listing(self.list_videos())}"
            )
        return folder

    def _word_files(self, video_id: str, word: str) -> _WordFiles:
        index = self._word_index(video_id)
        if word not in index:
            raise NotFoundError(f"no word {word!r} in video {video_id!r}; available words: {listing(sorted(index))}")
        return index[word]

    def _word_index(self, video_id: str) -> dict[str, _WordFiles]:
        if video_id in self._words:
            return self._words[video_id]
        folder = self._video_dir(video_id)
        complete = self.is_complete(video_id)  # checked before listing: files written later are not missed
        index: dict[str, _WordFiles] = {}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != AGGREGATED_DIR):
            word: str | None = None
            for meta in sorted(sub.glob(f"*{METADATA_SUFFIX}")):
                step = parse_step_index(meta)
                data = _data_file(meta, meta.name[: -len(METADATA_SUFFIX)])
                if step is None or data is None or is_temporary(meta):
                    continue
                word = word if word is not None else read_metadata(meta).word
                index.setdefault(word, _WordFiles()).steps[step] = (data, meta)
        agg = folder / AGGREGATED_DIR
        if agg.is_dir():
            for meta in sorted(agg.glob(f"*{_AGG_META_SUFFIX}")):
                data = _data_file(meta, meta.name[: -len(METADATA_SUFFIX)])
                if data is None or is_temporary(meta):
                    continue
                word = read_metadata(meta).word
                index.setdefault(word, _WordFiles()).aggregated = (data, meta)
        if complete:
            self._words[video_id] = index  # cache only finished videos: an unfinished one may still be written to
        else:
            log.warning(
                "video %s is incomplete: its capture did not finish, maps may be missing", video_id, extra={ONCE: True}
            )
        return index


__all__ = ["AttentionStoreReader", "listing"]

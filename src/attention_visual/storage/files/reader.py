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
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.logs import ONCE
from attention_visual.storage.durable.reading import check_no_links, read_fault, regular_file_exists, scan_folder
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
    expected_array,
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


_DATA_EXTENSIONS = tuple(EXTENSIONS.values())
_AGG_STEM = _AGG_META_SUFFIX[: -len(METADATA_SUFFIX)]


def _hidden(name: str) -> bool:
    """Entries a reader never looks at: hidden files, ``_complete.json`` and other ``_`` names, temporaries."""
    return name.startswith((".", "_"))


def _scan(folder: Path, ignore: Callable[[str], bool] | None = None) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` a reader looks at (:func:`scan_folder`: a symbolic link among them is refused)."""
    try:
        return scan_folder(folder, ignore)
    except OSError as exc:
        raise read_fault(exc, folder) from exc


def _map_files(folder: Path) -> dict[str, tuple[Path, Path]]:
    """``{stem: (data file, metadata file)}`` of the maps in one word folder (or ``aggregated/``), by stem.

    One listing, no ``stat`` per file; a map counts once its metadata and its data file both exist
    (the metadata is written second). Links are refused; leftovers of interrupted writes are ignored.
    """
    metas: dict[str, Path] = {}
    datas: dict[str, Path] = {}
    for entry in _scan(folder, _hidden):
        name = entry.name
        if name.endswith(METADATA_SUFFIX):
            metas[name[: -len(METADATA_SUFFIX)]] = Path(entry.path)
        else:
            stem, dot, ext = name.rpartition(".")
            if dot and f".{ext}" in _DATA_EXTENSIONS:
                datas.setdefault(stem, Path(entry.path))  # .npz first: the order of EXTENSIONS
    return {stem: (datas[stem], meta) for stem, meta in sorted(metas.items()) if stem in datas}


def _holds_steps(folder: Path) -> bool:
    """Whether a folder looks like an unfinished video: a word folder with a step's metadata in it.

    Links are not followed here, nor refused: reading the video refuses them (:func:`_scan`), naming the link.
    """
    try:
        with os.scandir(folder) as subs:
            for sub in subs:
                if not _hidden(sub.name) and sub.is_dir(follow_symlinks=False):
                    with os.scandir(sub.path) as entries:
                        if any(e.name.startswith(STEP_PREFIX) and e.name.endswith(METADATA_SUFFIX) for e in entries):
                            return True
    except OSError as exc:
        raise read_fault(exc, folder) from exc
    return False


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
        for child in _scan(self.root, _hidden):
            if not child.is_dir():
                continue
            if self.is_complete(child.name) or (include_incomplete and _holds_steps(Path(child.path))):
                videos.append(child.name)
        return videos

    def is_complete(self, video_id: str) -> bool:
        mark = self.video_folder(video_id) / COMPLETE_MARK
        try:
            return regular_file_exists(mark)
        except OSError as exc:
            raise read_fault(exc, mark) from exc

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
            array = read_array(data, expected_array(meta))
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
        folder = self.root / check_video_id(video_id)
        check_no_links(self.root, folder)
        return folder

    def video_files(self, video_id: str) -> set[Path]:
        """Every file this reader reads of a video: its maps, their metadata and its completion mark."""
        files = {p for word in self._word_index(video_id).values() for pair in word.steps.values() for p in pair}
        files |= {p for word in self._word_index(video_id).values() if word.aggregated for p in word.aggregated}
        mark = self.root / video_id / COMPLETE_MARK
        return files | {mark} if self.is_complete(video_id) else files

    def release(self, video_id: str) -> None:
        self._words.pop(video_id, None)

    def _video_dir(self, video_id: str) -> Path:
        folder = self.video_folder(video_id)
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
        aggregated: list[tuple[Path, Path]] = []
        for sub in _scan(folder, _hidden):
            if not sub.is_dir():
                continue
            pairs = _map_files(Path(sub.path))
            if sub.name == AGGREGATED_DIR:
                aggregated = [(data, meta) for stem, (data, meta) in pairs.items() if stem.endswith(_AGG_STEM)]
                continue
            word: str | None = None
            for data, meta in pairs.values():
                step = parse_step_index(meta)
                if step is None:
                    continue
                word = word if word is not None else read_metadata(meta).word
                index.setdefault(word, _WordFiles()).steps[step] = (data, meta)
        for data, meta in aggregated:
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

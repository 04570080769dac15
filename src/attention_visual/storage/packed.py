"""The packed store: every map of a batch in one Zarr v3 store, ``attention_maps.zarr``.

Layout (one shard file per video × word, one chunk per step)::

    attention_maps.zarr/zarr.json                     root group; attrs: {"attention_visual_packed": 1}
    attention_maps.zarr/<video_id>/zarr.json          group; attrs: {"complete": <_complete.json content> | null}
    attention_maps.zarr/<video_id>/<token_dir>/       array [entry, *leading, frame, y, x], dims named
                                                      (entry, pass?, block?, head?, frame, y, x)
    attention_maps.zarr/<video_id>/<token_dir>/c.0.0.0.0   its one shard file
    attrs of a word's array: {"word": original text, "steps": [0, 1, …, null], "base": metadata dict,
                              "overrides": [{key: value that differs from base}, …], "source": {...}}

``entry`` runs over the stored steps in order, then the step-averaged map (``steps[-1] == null``) when
one was stored. Each entry's metadata is ``base`` updated with its ``overrides``: exactly the
:class:`MapMetadata` the seed layout holds in its ``*_metadata.json``. ``source`` records how the seed
layout stored the files (``npz_compressed``), so unpacking restores them as they were.

Needs zarr (the ``analysis`` extra); imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.layout import check_video_id, token_dir_name
from attention_visual.storage.metadata import MapMetadata
from attention_visual.storage.optional import require
from attention_visual.storage.store import AttentionInfo

PACKED_STORE = "attention_maps.zarr"
"""Folder name of the packed store inside a batch folder (instead of ``attention_maps/``)."""
PACKED_KEY = "attention_visual_packed"
PACKED_VERSION = 1
ZARR_JSON = "zarr.json"


def _zarr() -> Any:
    return require("zarr")


def _listing(items: Sequence[object]) -> str:
    return ", ".join(str(i) for i in items) if items else "(none)"


def is_packed_store(path: Path) -> bool:
    """True when ``path`` is a packed store (a Zarr group marked ``attention_visual_packed``)."""
    meta = Path(path) / ZARR_JSON
    if not meta.is_file():
        return False
    try:
        attrs = json.loads(meta.read_text(encoding="utf-8")).get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(attrs, dict) and attrs.get(PACKED_KEY) == PACKED_VERSION


def packed_store_for(attention_dir: Path) -> Path | None:
    """The packed store that stands for ``attention_dir``, or None to read the seed layout.

    ``attention_dir`` itself when it is a packed store; the batch's ``attention_maps.zarr`` when the
    seed folder ``attention_dir`` does not exist (the batch was packed).
    """
    path = Path(attention_dir)
    if is_packed_store(path):
        return path
    sibling = path.parent / PACKED_STORE
    if not path.exists() and is_packed_store(sibling):
        return sibling
    return None


def video_maps_exist(video_dir: Path) -> bool:
    """True when a video's maps exist: ``attention_maps/<video_id>/``, or that video in the packed store."""
    if video_dir.is_dir():
        return True
    packed = packed_store_for(video_dir.parent)
    return packed is not None and (packed / video_dir.name / ZARR_JSON).is_file()


def _json_normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists; the store's ``default=str`` for the rest)."""
    return json.loads(json.dumps(value, default=str))


def _split_metadata(metas: Sequence[MapMetadata]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the first entry's metadata, per entry the keys whose values differ from it)."""
    dicts = [_json_normal(m.to_dict()) for m in metas]
    base = dicts[0]
    return base, [{k: v for k, v in d.items() if base.get(k) != v or k not in base} for d in dicts]


@dataclass(frozen=True)
class PackedEntry:
    """One map of a packed word: its entry index along the array's first axis and its metadata."""

    index: int
    metadata: MapMetadata


class PackedWord:
    """One video × word of a packed store: the Zarr array and its per-entry metadata."""

    def __init__(self, array: Any, path: Path) -> None:
        self.array = array
        self.path = path
        attrs = dict(array.attrs)
        self.word: str = attrs["word"]
        self.source: dict[str, Any] = dict(attrs.get("source", {}))
        base: dict[str, Any] = attrs["base"]
        steps: list[int | None] = attrs["steps"]
        overrides: list[dict[str, Any]] = attrs["overrides"]
        self.entries: list[PackedEntry] = [
            PackedEntry(i, MapMetadata.from_dict({**base, **over})) for i, over in enumerate(overrides)
        ]
        self.step_entries = {int(s): e for s, e in zip(steps, self.entries, strict=True) if s is not None}
        self.aggregated = next((e for s, e in zip(steps, self.entries, strict=True) if s is None), None)

    def read(self, entry: PackedEntry) -> AttentionInfo:
        """One entry's map (``[*leading, frame, y, x]`` as stored) with its metadata."""
        array = np.asarray(self.array[entry.index])
        return AttentionInfo(attention_map=array, metadata=entry.metadata, path=self.path)

    def read_steps(self) -> tuple[np.ndarray, list[MapMetadata]]:
        """Every stored step in step order: ``([step, *leading, frame, y, x], metadata per step)``, one read."""
        order = sorted(self.step_entries)
        entries = [self.step_entries[s] for s in order]
        if not entries:
            return np.zeros((0, *self.array.shape[1:]), dtype=self.array.dtype), []
        stop = entries[-1].index + 1
        block = np.asarray(self.array[:stop])  # steps are stored first, in order
        return block[[e.index for e in entries]], [e.metadata for e in entries]


class PackedReader:
    """Reads a packed store: videos, words, steps, maps; the same answers as the seed layout.

    Args:
        path: the ``attention_maps.zarr`` folder.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not is_packed_store(self.path):
            raise NotFoundError(f"{self.path} is not a packed attention store")
        self._store = _zarr().storage.LocalStore(str(self.path), read_only=True)
        self._words: dict[str, dict[str, PackedWord]] = {}

    def videos(self, include_incomplete: bool = True) -> list[str]:
        """Video ids, sorted; incomplete ones only with ``include_incomplete``."""
        out = []
        for child in sorted(self.path.iterdir()):
            if child.name.startswith((".", "_")) or not (child / ZARR_JSON).is_file():
                continue
            if include_incomplete or self.is_complete(child.name):
                out.append(child.name)
        return out

    def complete_summary(self, video_id: str) -> dict[str, Any] | None:
        """The video's completion record (the seed layout's ``_complete.json``), None while unfinished."""
        group = self._group(video_id)
        summary = group.attrs.get("complete")
        return dict(summary) if isinstance(summary, dict) else None

    def is_complete(self, video_id: str) -> bool:
        if not (self.path / check_video_id(video_id) / ZARR_JSON).is_file():
            return False
        return self.complete_summary(video_id) is not None

    def words(self, video_id: str) -> dict[str, PackedWord]:
        """``{word: PackedWord}`` of a video (cached once the video is complete)."""
        if video_id in self._words:
            return self._words[video_id]
        self._group(video_id)
        folder = self.path / video_id
        index: dict[str, PackedWord] = {}
        for child in sorted(folder.iterdir()):
            if child.is_dir() and (child / ZARR_JSON).is_file():
                array = _zarr().open_array(self._store, path=f"{video_id}/{child.name}", mode="r")
                word = PackedWord(array, child)
                index[word.word] = word
        if self.is_complete(video_id):
            self._words[video_id] = index
        return index

    def word(self, video_id: str, word: str) -> PackedWord:
        index = self.words(video_id)
        if word not in index:
            raise NotFoundError(f"no word {word!r} in video {video_id!r}; available words: {_listing(sorted(index))}")
        return index[word]

    def _group(self, video_id: str) -> Any:
        if not (self.path / check_video_id(video_id) / ZARR_JSON).is_file():
            raise NotFoundError(f"no video {video_id!r} in {self.path}; available videos: {_listing(self.videos())}")
        return _zarr().open_group(self._store, path=video_id, mode="r")


class PackedWriter:
    """Writes videos into a packed store (created when missing).

    Example:
        >>> writer = PackedWriter(Path("batch/attention_maps.zarr"))                  # doctest: +SKIP
        >>> writer.write_word("prompt_001_vid_001", steps, aggregated)                # doctest: +SKIP
        >>> writer.mark_complete("prompt_001_vid_001", {"words": ["kiss"]})           # doctest: +SKIP
    """

    def __init__(self, path: Path | str, compressor: dict[str, Any] | None = None) -> None:
        zarr = _zarr()
        self.path = Path(path)
        self._store = zarr.storage.LocalStore(str(self.path))
        if is_packed_store(self.path):
            self._root = zarr.open_group(self._store, mode="r+")
        else:
            self._root = zarr.open_group(self._store, mode="w-", zarr_format=3, attributes={PACKED_KEY: PACKED_VERSION})
        self._compressor = compressor or {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}

    def begin_video(self, video_id: str) -> None:
        """Create (or clear) the video's group; it stays incomplete until :meth:`mark_complete`."""
        self._root.create_group(check_video_id(video_id), overwrite=True, attributes={"complete": None})

    def write_word(
        self,
        video_id: str,
        steps: Sequence[tuple[MapMetadata, np.ndarray]],
        aggregated: tuple[MapMetadata, np.ndarray] | None,
        source: dict[str, Any] | None = None,
    ) -> Path:
        """Write one word's steps (in step order) and step average as one sharded array; return its folder."""
        items = [*steps, *((aggregated,) if aggregated is not None else ())]
        if not items:
            raise AttentionDataError(f"{video_id}: nothing to pack for a word without maps")
        metas = [m for m, _ in items]
        words = {m.token_word for m in metas}
        first = items[0][1]
        if len(words) != 1 or any(a.shape != first.shape or a.dtype != first.dtype for _, a in items):
            raise AttentionDataError(
                f"{video_id}: the maps of word(s) {sorted(words)} differ in word, shape or dtype; cannot pack them"
            )
        word = metas[0].token_word
        data = np.stack([a for _, a in items])  # [entry, *leading, frame, y, x]
        base, overrides = _split_metadata(metas)
        codecs = _zarr().codecs
        group = self._root[check_video_id(video_id)]
        array = group.create_array(
            name=token_dir_name(word),
            shape=data.shape,
            dtype=data.dtype,
            chunks=(1, *data.shape[1:]),
            shards=data.shape,
            compressors=codecs.BloscCodec(typesize=data.dtype.itemsize, **self._compressor),
            dimension_names=("entry", *metas[0].axes),
            chunk_key_encoding={"name": "default", "separator": "."},  # the shard is one file: c.0.0.0.0
            attributes={
                "word": word,
                "steps": [*(m.step_index for m, _ in steps), *((None,) if aggregated is not None else ())],
                "base": base,
                "overrides": overrides,
                "source": dict(source or {}),
            },
            overwrite=True,
        )
        array[...] = data
        return self.path / video_id / token_dir_name(word)

    def mark_complete(self, video_id: str, summary: dict[str, Any]) -> None:
        """Record the video as finished (call last, after every word is written)."""
        self._root[check_video_id(video_id)].attrs.update({"complete": _json_normal(summary)})


__all__ = [
    "PACKED_STORE",
    "PackedEntry",
    "PackedReader",
    "PackedWord",
    "PackedWriter",
    "is_packed_store",
    "packed_store_for",
    "video_maps_exist",
]

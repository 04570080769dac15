"""The packed store: every map of a batch in one Zarr v3 store, ``attention_maps.zarr``.

Layout (one shard file per video × word, one chunk per step)::

    attention_maps.zarr/zarr.json                   root group; attrs {"attention_visual_packed": 1}
    attention_maps.zarr/<video_id>/zarr.json        group; attrs {"complete": <_complete.json content> | null}
                                                    (plus "packed_files": the group's files, sizes, SHA-256)
    attention_maps.zarr/<video_id>/<word_dir>/     array [step, *leading, frame, y, x]: the stored steps
                                    zarr.json       dims named (step, pass?, block?, head?, frame, y, x)
                                    c.0.0.0.0       its one shard file
    attention_maps.zarr/_aggregated/<word_dir>/    array [video, *leading, frame, y, x]: the word's step
                                                    averages of every video that has one (64 per shard file)
    attention_maps.zarr/_staged/<video_id>/<word_dir>/  the same for one video: written during generation
                                                    (``storage_format: zarr``), moved into _aggregated at the end

Attributes of an array: ``word`` (original text), ``steps`` (per entry) or ``videos`` (per entry),
``base`` (the first entry's metadata) and ``overrides`` (per entry, the keys whose values differ from
``base``): base updated with an entry's overrides is exactly the :class:`MapMetadata` of the seed
layout's ``*_metadata.json``. ``source`` records how the files layout stored the files
(``npz_compressed``), so unpacking restores them as they were. The step averages live apart, one
array per word over the batch, so that reading one word's averages for every video is one file.

Writing: :mod:`attention_visual.storage.packed.writer`. Needs zarr (the ``analysis`` extra); imported on
first use.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_visual.errors import AttentionDataError, AttentionVisualError, NotFoundError
from attention_visual.extras import import_from_extra
from attention_visual.storage.durable.reading import (
    check_no_links,
    check_tree,
    open_regular,
    read_fault,
    read_limited,
    regular_file_exists,
    scan_folder,
)
from attention_visual.storage.files.layout import check_video_id, word_dir_name
from attention_visual.storage.files.reader import listing
from attention_visual.storage.files.store import AttentionInfo
from attention_visual.storage.packed.documents import (
    attributes_of,
    check_array,
    check_attributes,
    read_document,
)
from attention_visual.storage.schema.limits import MAX_ENTRIES, map_nbytes
from attention_visual.storage.schema.metadata import MapMetadata

PACKED_KEY = "attention_visual_packed"
PACKED_VERSION = 1
ZARR_JSON = "zarr.json"
AGGREGATES_GROUP = "_aggregated"
"""Group of the step-averaged maps: one array per word over the videos (video ids never start with ``_``)."""
AGGREGATE_SHARD = 64
"""Videos per shard file of a word's step averages."""
STAGED_GROUP = "_staged"
"""Group of step averages written while a batch runs: ``_staged/<video_id>/<word_dir>``, one video each,
moved into ``_aggregated/`` at the batch's end (:mod:`attention_visual.storage.packed.averages`)."""


def _zarr() -> Any:
    return import_from_extra("zarr", "analysis")


def is_packed_store(path: Path) -> bool:
    """True when ``path`` is a packed store (a Zarr group marked ``attention_visual_packed``)."""
    meta = Path(path) / ZARR_JSON
    if not meta.is_file():
        return False
    try:
        attrs = attributes_of(read_document(meta), meta)
    except AttentionVisualError:
        return False
    return attrs.get(PACKED_KEY) == PACKED_VERSION


def _json_normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists; the store's ``default=str`` for the rest)."""
    return json.loads(json.dumps(value, default=str))


def _split_metadata(metas: Sequence[MapMetadata]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the first entry's metadata, per entry the keys whose values differ from it)."""
    dicts = [_json_normal(m.to_dict()) for m in metas]
    base = dicts[0]
    return base, [{k: v for k, v in d.items() if base.get(k) != v or k not in base} for d in dicts]


_NO_CHUNK = 2**64 - 1  # a shard index entry of a chunk that was never written


@dataclass(frozen=True)
class _Shards:
    """Where the entries of a packed array this module wrote lie in its shard files."""

    folder: Path
    shape: tuple[int, ...]  # [entry, ...]
    dtype: np.dtype  # little-endian, as stored
    shard_len: int  # entries per shard file
    separator: str
    fill_value: Any

    def shard_file(self, shard: int) -> Path:
        return self.folder / self.separator.join(["c", str(shard), *("0" for _ in self.shape[1:])])


def _shards(folder: Path) -> _Shards | None:
    """The shard layout of the array in ``folder``, or None when its codec chain is not the one written here.

    The arrays this module writes have a known codec chain (shards of whole entries; inner chunks of one
    entry; ``bytes`` little-endian + Blosc; the shard index at the end), so they can be decoded straight
    from their shard files without Zarr's per-chunk machinery (several times faster).

    Raises:
        AttentionDataError: The ``zarr.json`` is unreadable, declares a shape or dtype outside the
            limits (:mod:`.documents`), or chunk and shard sizes that do not fit its shape.
    """
    path = folder / ZARR_JSON
    meta = read_document(path)
    array = check_array(meta, path)
    shape = array.shape
    try:
        (sharding,) = meta["codecs"]
        conf = sharding["configuration"]
        names = [c["name"] for c in conf["codecs"]]
        grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
        ours = (
            sharding["name"] == "sharding_indexed"
            and names == ["bytes", "blosc"]
            and conf["codecs"][0]["configuration"]["endian"] == "little"
            and [c["name"] for c in conf["index_codecs"]] == ["bytes", "crc32c"]
            and conf.get("index_location", "end") == "end"
        )
        inner = conf["chunk_shape"]
        separator = meta["chunk_key_encoding"]["configuration"]["separator"]
    except (KeyError, ValueError, TypeError):
        return None
    if not ours:
        return None
    if (
        not isinstance(grid, list)
        or not isinstance(inner, list)
        or inner != [1, *shape[1:]]
        or grid[1:] != list(shape[1:])
        or not isinstance(grid[0], int)
        or not 1 <= grid[0] <= MAX_ENTRIES
        or separator not in (".", "/")
    ):
        raise AttentionDataError(
            f"{path}: chunk and shard sizes (shards {grid}, chunks {inner}) do not fit the array's shape {list(shape)}"
        )
    return _Shards(folder, shape, array.dtype.newbyteorder("<"), grid[0], separator, meta.get("fill_value"))


def _shard_index(index: bytes | memoryview, shard_len: int, path: Path) -> np.ndarray:
    """``[2 * shard_len]`` uint64 ``(offset, nbytes)`` pairs from a shard index with its CRC-32C (as Zarr checks it).

    Raises:
        AttentionDataError: The index is truncated or its checksum does not match (the shard is damaged).
    """
    if len(index) != 16 * shard_len + 4:
        raise AttentionDataError(f"{path}: damaged packed shard (truncated index)")
    crc32c = import_from_extra("google_crc32c", "analysis")
    body = bytes(index[:-4])
    if int(crc32c.value(body)).to_bytes(4, "little") != bytes(index[-4:]):
        raise AttentionDataError(f"{path}: damaged packed shard (index checksum mismatch)")
    return np.frombuffer(body, "<u8")


@contextlib.contextmanager
def _damage_named(path: Path) -> Iterator[None]:
    """A shard that is missing or does not decode: one :class:`AttentionDataError` naming it.

    A fault of the file system other than a missing file (permission denied, I/O error) is a
    :class:`~attention_visual.errors.StorageError` (exit 1).
    """
    try:
        yield
    except AttentionVisualError:
        raise
    except FileNotFoundError as exc:
        raise AttentionDataError(f"{path}: unreadable packed shard (missing)") from exc
    except OSError as exc:
        raise read_fault(exc, path) from exc
    except (ValueError, RuntimeError, TypeError, IndexError, KeyError, MemoryError) as exc:
        raise AttentionDataError(f"{path}: unreadable packed shard ({type(exc).__name__}: {exc})") from exc


def _through_zarr(array: Any, folder: Path, entry: Any = ...) -> np.ndarray:
    """An array of another codec chain, read through Zarr (shape and dtype checked by :func:`_shards`)."""
    check_tree(folder)  # Zarr follows links: refuse them first
    with _damage_named(folder):
        return np.asarray((array() if callable(array) else array)[entry])


def _shard_limit(shards: _Shards) -> int:
    """The largest a shard file of ``shards`` can be: every chunk stored raw (plus Blosc's header), and the index."""
    return shards.shard_len * (map_nbytes(shards.shape[1:], shards.dtype) + 64 + 16) + 4


def _decode(shards: _Shards, chunk: bytes | None) -> np.ndarray:
    """One entry (``[...]``, native byte order) from its Blosc chunk, or the fill value for a chunk never written.

    The chunk is decompressed into an array of the entry's size: a chunk that declares another size fails.
    """
    if chunk is None:
        return np.full(shards.shape[1:], shards.fill_value, dtype=shards.dtype.newbyteorder("="))
    out = np.empty(shards.shape[1:], dtype=shards.dtype)  # [...], as stored
    import_from_extra("numcodecs.blosc", "analysis").decompress(chunk, out)
    return out.astype(shards.dtype.newbyteorder("="), copy=False)


def read_whole(array: Any, folder: Path) -> np.ndarray:
    """All of a packed array (``[entry, ...]``), decoded straight from its shard files (see :func:`_shards`).

    One file read per shard, one Blosc call per entry. ``array`` (the Zarr array, or a callable
    returning it) is only used for arrays of another codec chain, which are read through Zarr.
    """
    shards = _shards(folder)
    if shards is None:
        return _through_zarr(array, folder)
    blosc = import_from_extra("numcodecs.blosc", "analysis")
    shape, dtype, shard_len = shards.shape, shards.dtype, shards.shard_len
    out = np.empty(shape, dtype=dtype)  # [entry, ...]
    for shard in range(-(-shape[0] // shard_len)):
        path = shards.shard_file(shard)
        with _damage_named(path):
            data = memoryview(read_limited(path, _shard_limit(shards), "a shard file"))
            index = _shard_index(data[max(len(data) - 16 * shard_len - 4, 0) :], shard_len, path)
            for j in range(min(shard_len, shape[0] - shard * shard_len)):
                offset, nbytes = int(index[2 * j]), int(index[2 * j + 1])
                if offset == _NO_CHUNK:
                    out[shard * shard_len + j] = shards.fill_value
                    continue
                if offset + nbytes > len(data):
                    raise AttentionDataError(f"{path}: damaged packed shard (a chunk past the end of the file)")
                entry = out[shard * shard_len + j]  # [...]: a contiguous view, decompressed into in place
                blosc.decompress(data[offset : offset + nbytes], entry)
    return out.astype(dtype.newbyteorder("="), copy=False)


def read_entry(array: Any, folder: Path, entry: int) -> np.ndarray:
    """Entry ``entry`` of a packed array (``[...]``): its shard's index and its chunk only, no Zarr.

    Falls back to Zarr (``array``, or a callable returning it) for arrays of another codec chain.
    """
    shards = _shards(folder)
    if shards is None or not 0 <= entry < shards.shape[0]:
        return _through_zarr(array, folder, entry)
    shard, j = divmod(entry, shards.shard_len)
    path = shards.shard_file(shard)
    with _damage_named(path), open_regular(path) as fh:
        index_bytes = 16 * shards.shard_len + 4
        fh.seek(max(os.fstat(fh.fileno()).st_size - index_bytes, 0))  # a shard shorter than its index: truncated
        index = _shard_index(fh.read(index_bytes), shards.shard_len, path)
        offset, nbytes = int(index[2 * j]), int(index[2 * j + 1])
        if offset == _NO_CHUNK:
            return _decode(shards, None)
        fh.seek(offset)
        chunk = fh.read(nbytes)
        if len(chunk) != nbytes:
            raise AttentionDataError(f"{path}: damaged packed shard (a chunk past the end of the file)")
        return _decode(shards, chunk)


@dataclass(frozen=True)
class PackedEntry:
    """One map of a packed array: its index along the array's first axis and its metadata."""

    index: int
    metadata: MapMetadata


def _entries(attrs: dict[str, Any]) -> list[PackedEntry]:
    overrides: list[dict[str, Any]] = attrs["overrides"]
    if not overrides:
        return []
    try:
        base = MapMetadata.from_dict(attrs["base"])  # decoded once; each map's metadata differs in a few fields
    except AttentionDataError:  # a base that is not itself a whole map's metadata: decode each in full
        return [PackedEntry(i, MapMetadata.from_dict({**attrs["base"], **o})) for i, o in enumerate(overrides)]
    return [PackedEntry(i, base.updated(over) if over else base) for i, over in enumerate(overrides)]


class _PackedArray:
    """A packed array and the attributes every one has: ``word`` and ``source`` (how the files layout stored it)."""

    def __init__(self, array: Any, path: Path, attrs: dict[str, Any] | None = None) -> None:
        """``array``: the Zarr array, or a callable opening it when first needed (then give its ``attrs``)."""
        self._array = array
        self.path = path
        self.attrs: dict[str, Any] = dict(array.attrs) if attrs is None else attrs
        self.word: str = self.attrs["word"]
        self.source: dict[str, Any] = dict(self.attrs.get("source", {}))

    @functools.cached_property
    def array(self) -> Any:
        """The Zarr array (opened on first use when a callable was given)."""
        return self._array() if callable(self._array) else self._array


class PackedWord(_PackedArray):
    """The stored steps of one video × word: a Zarr array ``[step, *leading, frame, y, x]`` and its metadata."""

    def __init__(self, array: Any, path: Path, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(array, path, attrs)
        attrs = self.attrs
        self.entries = _entries(attrs)
        self.step_entries = {int(s): e for s, e in zip(attrs["steps"], self.entries, strict=True)}

    @property
    def leading_axes(self) -> tuple[str, ...]:
        """The stored axes before ``frame, y, x`` (``pass``, ``block``, ``head``), empty for plain maps."""
        return tuple(self.entries[0].metadata.axes[:-3]) if self.entries else ()

    def read(self, entry: PackedEntry) -> AttentionInfo:
        """One step's map (``[*leading, frame, y, x]`` as stored) with its metadata."""
        array = read_entry(lambda: self.array, self.path, entry.index)
        return AttentionInfo(attention_map=array, metadata=entry.metadata, path=self.path)

    def read_steps(self) -> tuple[np.ndarray, list[MapMetadata]]:
        """Every stored step in step order: ``([step, *leading, frame, y, x], metadata per step)``, one read."""
        order = sorted(self.step_entries)
        entries = [self.step_entries[s] for s in order]
        if not entries:
            return np.zeros((0, *self.array.shape[1:]), dtype=self.array.dtype), []
        block = read_whole(lambda: self.array, self.path)  # [step, *leading, frame, y, x]
        order_of_entries = [e.index for e in entries]
        if order_of_entries != list(range(block.shape[0])):  # the usual case needs no copy
            block = block[order_of_entries]
        return block, [e.metadata for e in entries]


class PackedAggregates(_PackedArray):
    """The step-averaged maps of one word for every video that has it: ``[video, *leading, frame, y, x]``."""

    def __init__(self, array: Any, path: Path, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(array, path, attrs)
        attrs = self.attrs
        self._base: dict[str, Any] = attrs["base"]
        self._overrides: list[dict[str, Any]] = attrs["overrides"]
        self.videos: dict[str, int] = {v: i for i, v in enumerate(attrs["videos"])}

    def metadata(self, video_id: str) -> MapMetadata | None:
        """The metadata of the video's step average (built on demand), or None when it has none."""
        index = self.videos.get(video_id)
        return None if index is None else MapMetadata.from_dict({**self._base, **self._overrides[index]})

    def read_all(self) -> tuple[list[str], np.ndarray]:
        """Every video's step average in one read: ``(video ids, [video, *leading, frame, y, x])``."""
        return list(self.videos), read_whole(lambda: self.array, self.path)

    def read(self, video_id: str) -> AttentionInfo | None:
        """The video's step average, or None when it has none."""
        metadata = self.metadata(video_id)
        if metadata is None:
            return None
        array = read_entry(lambda: self.array, self.path, self.videos[video_id])  # [*leading, frame, y, x]
        return AttentionInfo(attention_map=array, metadata=metadata, path=self.path)


def _attributes(folder: Path) -> dict[str, Any]:
    """The attributes of the Zarr v3 array in ``folder``, straight from its ``zarr.json``, checked against
    its shape and dtype (:mod:`.documents`)."""
    meta = folder / ZARR_JSON
    document = read_document(meta)
    attrs = attributes_of(document, meta)
    check_attributes(attrs, check_array(document, meta), meta)
    return attrs


class PackedReader:
    """Reads a packed store: a ``BulkMapReader`` (:mod:`attention_visual.storage.backend.protocols`), answering as
    the files layout's reader does.

    Args:
        path: the ``attention_maps.zarr`` folder.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not is_packed_store(self.path):
            raise NotFoundError(f"{self.path} is not a packed attention store")
        self._words: dict[str, dict[str, PackedWord]] = {}
        self._aggregates: dict[str, PackedAggregates | None] = {}

    @functools.cached_property
    def _store(self) -> Any:
        """The Zarr store, opened (and zarr imported) only when an array must be read through Zarr."""
        return _zarr().storage.LocalStore(str(self.path), read_only=True)

    def _open_array(self, path: str) -> Any:
        return _zarr().open_array(self._store, path=path, mode="r")

    def list_videos(self, include_incomplete: bool = True) -> list[str]:
        """Video ids, sorted; incomplete ones only with ``include_incomplete``."""
        out = []
        for child in self._scan(self.path):
            if not (child.is_dir() and self._has_document(Path(child.path))):
                continue
            if include_incomplete or self.is_complete(child.name):
                out.append(child.name)
        return out

    def _scan(self, folder: Path) -> list[os.DirEntry[str]]:
        """The entries of a group a reader looks at (not ``.`` or ``_`` names); a link among them is refused."""
        try:
            return scan_folder(folder, lambda name: name.startswith((".", "_")))
        except OSError as exc:
            raise read_fault(exc, folder) from exc

    @staticmethod
    def _has_document(folder: Path) -> bool:
        """True when ``folder`` holds a ``zarr.json`` (a link or a special file there is refused)."""
        try:
            return regular_file_exists(folder / ZARR_JSON)
        except OSError as exc:
            raise read_fault(exc, folder / ZARR_JSON) from exc

    def _group(self, video_id: str) -> Path:
        """A video's group folder, which must not be a link (errors name it)."""
        folder = self.path / check_video_id(video_id)
        check_no_links(self.path, folder)
        return folder

    def complete_summary(self, video_id: str) -> dict[str, Any] | None:
        """The video's completion record (the files layout's ``_complete.json``), None while unfinished."""
        meta = self._group(video_id) / ZARR_JSON
        if not self._has_document(meta.parent):
            raise NotFoundError(
                f"no video {video_id!r} in {self.path}; available videos: {listing(self.list_videos())}"
            )
        # the group's own metadata document (Zarr v3): read directly, it is all we need
        summary = attributes_of(read_document(meta), meta).get("complete")
        return dict(summary) if isinstance(summary, dict) else None

    def is_complete(self, video_id: str) -> bool:
        if not self._has_document(self._group(video_id)):
            return False
        return self.complete_summary(video_id) is not None

    def words(self, video_id: str) -> dict[str, PackedWord]:
        """``{word: PackedWord}`` of a video (cached once the video is complete)."""
        if video_id in self._words:
            return self._words[video_id]
        complete = self.complete_summary(video_id) is not None  # raises NotFoundError for an unknown video
        index: dict[str, PackedWord] = {}
        for entry in self._scan(self.path / video_id):
            child = Path(entry.path)
            if entry.is_dir() and self._has_document(child):
                # The attributes straight from the array's zarr.json; Zarr opens the array only if needed
                opener = functools.partial(self._open_array, f"{video_id}/{child.name}")
                word = PackedWord(opener, child, _attributes(child))
                index[word.word] = word
        if complete:
            self._words[video_id] = index
        return index

    def release(self, video_id: str) -> None:
        """Forget the cached index of a video (one pass over a large batch keeps memory flat)."""
        self._words.pop(video_id, None)

    def word(self, video_id: str, word: str) -> PackedWord:
        index = self.words(video_id)
        if word not in index:
            raise NotFoundError(f"no word {word!r} in video {video_id!r}; available words: {listing(sorted(index))}")
        return index[word]

    def list_words(self, video_id: str) -> list[str]:
        return sorted(self.words(video_id))

    def list_steps(self, video_id: str, word: str) -> list[int]:
        return sorted(self.word(video_id, word).step_entries)

    def read_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        packed = self.word(video_id, word)
        if step not in packed.step_entries:
            raise NotFoundError(
                f"no step {step} for word {word!r} of video {video_id!r}; "
                f"available steps: {listing(sorted(packed.step_entries))}"
            )
        return packed.read(packed.step_entries[step])

    def read_steps(self, video_id: str, word: str) -> tuple[np.ndarray, list[MapMetadata]]:
        raw, metas = self.word(video_id, word).read_steps()
        if not metas:
            raise NotFoundError(f"word {word!r} of video {video_id!r} has no stored steps")
        return raw, metas

    def list_step_metadata(self, video_id: str, word: str) -> list[MapMetadata]:
        packed = self.word(video_id, word)
        return [packed.step_entries[s].metadata for s in sorted(packed.step_entries)]

    def read_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        found = self.find_aggregated(video_id, word)
        if found is None:
            self.word(video_id, word)  # an unknown video or word: say what is there
            raise NotFoundError(
                f"no step average for word {word!r} of video {video_id!r} "
                "(store_aggregated_attention was off, or the capture was interrupted)"
            )
        return found

    def video_folder(self, video_id: str) -> Path:
        return self.path / check_video_id(video_id)

    def aggregates(self, word: str) -> PackedAggregates | None:
        """The step averages of ``word`` across the batch, or None when none was stored."""
        key = word_dir_name(word)
        if key not in self._aggregates:
            folder = self.path / AGGREGATES_GROUP / key
            check_no_links(self.path, folder)
            found = None
            if self._has_document(folder):
                opener = functools.partial(self._open_array, f"{AGGREGATES_GROUP}/{key}")
                found = PackedAggregates(opener, folder, _attributes(folder))
            self._aggregates[key] = found
        return self._aggregates[key]

    def find_aggregated(self, video_id: str, word: str) -> AttentionInfo | None:
        """The step-averaged map of a video's word, or None when it was not stored.

        Found in ``_aggregated/``, else (a batch written with ``storage_format: zarr`` that has not reached
        its end yet) under ``_staged/<video_id>/``.
        """
        aggregates = self.aggregates(word)
        found = aggregates.read(video_id) if aggregates is not None else None
        staged = f"{STAGED_GROUP}/{check_video_id(video_id)}/{word_dir_name(word)}"
        folder = self.path / staged
        if found is None:
            check_no_links(self.path, folder)
        if found is None and self._has_document(folder):
            opener = functools.partial(self._open_array, staged)
            found = PackedAggregates(opener, folder, _attributes(folder)).read(video_id)
        return found


__all__ = [
    "AGGREGATES_GROUP",
    "STAGED_GROUP",
    "PackedAggregates",
    "PackedEntry",
    "PackedReader",
    "PackedWord",
    "is_packed_store",
    "read_entry",
    "read_whole",
]

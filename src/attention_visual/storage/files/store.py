"""Reading and writing attention maps in the documented layout (see :mod:`.layout`).

Writes are atomic: the array file first, then its metadata JSON (a step exists for readers
only once its metadata is there), and a video's ``_complete.json`` last, after every map. The
completion mark lists every file it covers with its size and SHA-256 (``"checksums"``), so a reader
can tell a truncated or changed file from a good one (:meth:`AttentionStore.check_video`).
Reads never unpickle (``.npz``: :mod:`.npz`, no object arrays; ``.pt``: ``torch.load(..., weights_only=True)``)
and trust nothing they read: no links, sizes and shapes checked against the limits of
:mod:`attention_visual.storage.schema.limits` and against the metadata before any allocation; a
truncated, corrupted or refused file raises one :class:`AttentionDataError` naming the file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from attention_visual.errors import AttentionDataError, AttentionVisualError
from attention_visual.extras import GENERATION_EXTRA, require_extra
from attention_visual.storage.durable.atomic import atomic_write_text, atomic_write_with, is_temporary
from attention_visual.storage.durable.integrity import FileDigest, check_file, digest_file
from attention_visual.storage.durable.reading import read_fault, read_json_object, read_limited, regular_file_exists
from attention_visual.storage.files.layout import (
    COMPLETE_MARK,
    EXTENSIONS,
    aggregated_paths,
    check_video_id,
    step_paths,
)
from attention_visual.storage.files.npz import Expected, read_npz
from attention_visual.storage.schema.frames import check_frame_mapping
from attention_visual.storage.schema.limits import (
    MAX_JSON_BYTES,
    MAX_MAP_FILE_BYTES,
    check_map_shape,
    readable_dtype,
)
from attention_visual.storage.schema.metadata import MapMetadata

ARRAY_KEY = "attention"
STORAGE_DTYPES = ("float32", "float16")
_MAX_PT_RECORDS = 16  # records of a torch.save archive of one tensor (data.pkl, the storage, version...)


@dataclass(frozen=True)
class AttentionInfo:
    """One stored map: the array (``[*leading, frame, y, x]``), its metadata and where it lives."""

    attention_map: np.ndarray
    metadata: MapMetadata
    path: Path


class AttentionStore:
    """Writes maps under an ``attention_maps/`` folder.

    Args:
        root: the ``attention_maps/`` folder (created on first write).
        storage_format: ``"numpy"`` (``.npz``) or ``"torch"`` (``.pt``) for per-step maps.
        compress: use ``np.savez_compressed`` for ``.npz`` files.
        dtype: ``"float32"`` or ``"float16"`` on disk.
        aggregated_format: file format of the step-averaged maps (defaults to ``storage_format``).

    Example:
        >>> from attention_visual.storage.schema.frames import FrameRule, latent_to_video_frame_ranges
        >>> from attention_visual.storage.schema.metadata import LatentGrid, VideoDimensions
        >>> metadata = MapMetadata(video_id="prompt_001_vid_001", token_word="kiss", shape=(3, 2, 5),
        ...     dtype="float32", axes=("frame", "y", "x"), num_steps=4, steps_used=(0,), step_index=0,
        ...     aggregation_method="per_step", video_dimensions=VideoDimensions(80, 32, 16.0, 9),
        ...     token_grid=LatentGrid(3, 2, 5), latent_to_video_frames=latent_to_video_frame_ranges(3, FrameRule(4)))
        >>> store = AttentionStore(Path("out/attention_maps"))
        >>> store.save_step(metadata, np.zeros((3, 2, 5), np.float32)).as_posix()  # [frame, y, x]
        'out/attention_maps/prompt_001_vid_001/kiss/step_000.npz'
        >>> store.mark_complete("prompt_001_vid_001", {"words": ["kiss"]}).name
        '_complete.json'
    """

    def __init__(
        self,
        root: Path | str,
        storage_format: str = "numpy",
        compress: bool = True,
        dtype: str = "float32",
        aggregated_format: str | None = None,
    ) -> None:
        check_store_options(dtype, storage_format=storage_format, aggregated_format=aggregated_format)
        self.root = Path(root)
        self.storage_format = storage_format
        self.aggregated_format = aggregated_format or storage_format
        self.compress = compress
        self.dtype = dtype

    def save_step(self, metadata: MapMetadata, array: np.ndarray) -> Path:
        """Store one step's map. ``metadata.step_index`` names the file."""
        if metadata.step_index is None:
            raise AttentionDataError("save_step needs metadata.step_index; use save_aggregated for averages")
        data_path, meta_path = step_paths(
            self.root, metadata.video_id, metadata.word, metadata.step_index, self.storage_format
        )
        return self._save(data_path, meta_path, metadata, array, self.storage_format)

    def save_aggregated(self, metadata: MapMetadata, array: np.ndarray) -> Path:
        """Store a word's step-averaged map."""
        data_path, meta_path = aggregated_paths(self.root, metadata.video_id, metadata.word, self.aggregated_format)
        return self._save(data_path, meta_path, metadata, array, self.aggregated_format)

    def mark_complete(self, video_id: str, summary: dict[str, Any]) -> Path:
        """Write ``<video_id>/_complete.json``: call last, after every map of the video is saved.

        ``summary`` is stored as given, plus ``"checksums"``: the size and SHA-256 of every file of
        the video's folder (paths relative to it), read back from the disk.
        """
        folder = self.root / check_video_id(video_id)
        covered = sorted(
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and p.name != COMPLETE_MARK and not is_temporary(p)
        )
        checksums = [digest_file(folder, rel).to_dict() for rel in covered]
        path = folder / COMPLETE_MARK
        atomic_write_text(
            path, json.dumps({**summary, "checksums": checksums}, indent=2, ensure_ascii=False, default=str)
        )
        return path

    def is_complete(self, video_id: str) -> bool:
        return (self.root / check_video_id(video_id) / COMPLETE_MARK).is_file()

    def completion_record(self, video_id: str) -> dict[str, Any] | None:
        """The content of the video's ``_complete.json``, or None when it has none (the video is unfinished).

        Raises:
            AttentionDataError: The mark is a link, too large, or not a JSON object.
            StorageError: It cannot be read.
        """
        mark = self.root / check_video_id(video_id) / COMPLETE_MARK
        try:
            if not regular_file_exists(mark):
                return None
        except OSError as exc:
            raise read_fault(exc, mark) from exc
        return read_json_object(mark, MAX_JSON_BYTES, "completion mark")

    def check_video(self, video_id: str, *, checksums: bool = True) -> list[tuple[str, str]]:
        """What is wrong with a complete video's files: ``[(path, problem)]``, empty when they verify.

        Paths are relative to the video's folder (``kiss/step_001.npz``). ``checksums=False`` checks
        sizes only (one ``stat`` per file). A mark written before checksums were recorded is trusted;
        an unreadable mark is itself a problem. Call on complete videos (see :meth:`is_complete`).
        """
        folder = self.root / check_video_id(video_id)
        try:
            data = self.completion_record(video_id)
            digests = [FileDigest.from_dict(d) for d in (data or {}).get("checksums", [])]
        except AttentionVisualError as exc:
            return [(COMPLETE_MARK, f"{COMPLETE_MARK} is unreadable ({type(exc.__cause__ or exc).__name__})")]
        if data is None:
            return [(COMPLETE_MARK, f"{COMPLETE_MARK} is missing")]
        problems = []
        for digest in digests:
            problem = check_file(folder, digest, checksums=checksums)
            if problem is not None:
                problems.append((digest.path, problem))
        return problems

    def remove_video(self, video_id: str) -> None:
        """Delete every stored file of ``video_id`` (used before redoing an unfinished video)."""
        folder = self.root / check_video_id(video_id)
        if folder.is_dir():
            shutil.rmtree(folder)

    def save_steps(self, metadata: Sequence[MapMetadata], stack: np.ndarray) -> list[Path]:
        """Store a word's steps: ``stack`` is ``[step, *leading, frame, y, x]``, one metadata per step."""
        return [self.save_step(meta, stack[i]) for i, meta in enumerate(metadata)]

    def _save(self, data_path: Path, meta_path: Path, metadata: MapMetadata, array: np.ndarray, fmt: str) -> Path:
        arr, meta = stored_map(metadata, array, self.dtype, fmt, data_path)
        if fmt == "numpy":
            atomic_write_with(data_path, lambda fh: _write_npz(fh, arr, self.compress))
        else:
            atomic_write_with(data_path, lambda fh: _write_pt(fh, arr))
        # The metadata is written second: a step without metadata does not exist for readers.
        atomic_write_text(meta_path, meta.to_json())
        return data_path


def check_store_options(dtype: str, **formats: str | None) -> None:
    """Raise :class:`AttentionDataError` unless ``dtype`` and every given file format (``name=value``) is known."""
    for name, value in formats.items():
        if value is not None and value not in EXTENSIONS:
            raise AttentionDataError(f"{name} must be one of {sorted(EXTENSIONS)}, got {value!r}")
    if dtype not in STORAGE_DTYPES:
        raise AttentionDataError(f"storage dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")


def stored_map(
    metadata: MapMetadata, array: np.ndarray, dtype: str, fmt: str, where: Path
) -> tuple[np.ndarray, MapMetadata]:
    """The array and metadata exactly as a store keeps them (every layout writes these).

    The array is cast to ``dtype`` (``[*leading, frame, y, x]``, C order); the metadata gets the array's
    shape and dtype, a storage time when it has none, and ``storage_format`` ``fmt`` (the file format of
    the files layout: ``numpy`` or ``torch``). Errors name ``where``.
    """
    try:  # a map the readers would refuse is never written
        check_map_shape(tuple(array.shape), dtype)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{where}: cannot store the map of {metadata.word!r}: {exc}") from exc
    arr = np.ascontiguousarray(array, dtype=np.dtype(dtype))  # [*leading, frame, y, x]
    if tuple(arr.shape) != tuple(metadata.shape):
        raise AttentionDataError(f"array shape {arr.shape} does not match metadata shape {metadata.shape}")
    _check_frames(metadata, where)
    meta = metadata.with_array(tuple(arr.shape), dtype)
    meta = meta.stamped() if not meta.storage_timestamp else meta
    return arr, dataclasses.replace(meta, storage_format=fmt)


def _write_npz(fh: IO[bytes], arr: np.ndarray, compress: bool) -> None:
    if compress:
        np.savez_compressed(fh, attention=arr)
    else:
        np.savez(fh, attention=arr)


def _torch(what: str) -> Any:
    """The torch module, which ``.pt`` maps need (a light install has none: one line naming the extra)."""
    try:
        import torch
    except ModuleNotFoundError:
        require_extra(GENERATION_EXTRA, what)
        raise
    return torch


def _write_pt(fh: IO[bytes], arr: np.ndarray) -> None:
    torch = _torch("storage_format 'torch' (.pt maps)")
    torch.save({ARRAY_KEY: torch.from_numpy(arr)}, fh)


def expected_array(metadata: MapMetadata) -> Expected:
    """The shape and dtype the map file of ``metadata`` must hold (checked before its data is read)."""
    return tuple(metadata.shape), np.dtype(metadata.dtype)


def read_array(path: Path, expected: Expected = None) -> np.ndarray:
    """Load the array of a ``.npz`` or ``.pt`` map file without unpickling anything, and without trusting it.

    Args:
        path: The map file (a symbolic link is refused, not followed).
        expected: The shape and dtype its metadata describes (:func:`expected_array`): a file that
            declares anything else is refused before its data is inflated.

    Raises:
        AttentionDataError: Missing, a link, larger than the limits, damaged, unsafe (Python objects),
            or not ``expected``: one line naming the file.
        StorageError: It cannot be read (permission denied, I/O error).
    """
    try:
        if path.suffix == ".npz":
            return read_npz(path, ARRAY_KEY, expected=expected)
        if path.suffix == ".pt":
            return _read_pt(path, expected)
    except AttentionDataError:
        raise
    except OSError as exc:
        raise read_fault(exc, path) from exc
    except (ValueError, EOFError, RuntimeError, zipfile.BadZipFile, KeyError) as exc:
        raise AttentionDataError(f"{path}: truncated or corrupted attention file ({type(exc).__name__})") from exc
    raise AttentionDataError(f"{path}: unknown attention file type {path.suffix!r}")


def _read_pt(path: Path, expected: Expected) -> np.ndarray:
    """A ``.pt`` map: a torch zip archive of stored (uncompressed) records, so memory is bounded by its size."""
    torch = _torch(f"reading {path}")
    blob = read_limited(path, MAX_MAP_FILE_BYTES, "a map file")
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:  # torch.save's format; refuse what it never writes
        records = archive.infolist()
        if len(records) > _MAX_PT_RECORDS or any(r.compress_type != zipfile.ZIP_STORED for r in records):
            raise AttentionDataError(f"{path}: not an attention map file (not a plain torch.save archive)")
    try:
        obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused it: not plain tensors
        raise AttentionDataError(f"{path}: corrupted or unsafe attention file (refused to unpickle)") from exc
    tensor = obj.get(ARRAY_KEY) if isinstance(obj, dict) else None
    if not isinstance(tensor, torch.Tensor):
        raise AttentionDataError(f"{path}: not an attention map file (no '{ARRAY_KEY}' tensor)")
    shape = tuple(tensor.shape)
    try:  # before anything is copied: a tensor may view a small storage through a huge shape
        dtype = readable_dtype(str(tensor.dtype).removeprefix("torch."))
        check_map_shape(shape, dtype)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc
    if expected is not None and (shape != expected[0] or dtype != expected[1]):
        raise AttentionDataError(
            f"{path}: array of shape {shape} and dtype {dtype} does not match its metadata "
            f"({expected[0]}, {expected[1]})"
        )
    return np.asarray(tensor.contiguous().numpy())


def _metadata_dict(path: Path) -> dict[str, Any]:
    """A metadata file's JSON object: a regular file (no link) of at most ``MAX_JSON_BYTES``."""
    return read_json_object(path, MAX_JSON_BYTES, "metadata")


def _metadata_of(data: dict[str, Any], path: Path) -> MapMetadata:
    """The :class:`MapMetadata` of the decoded file ``path`` (checked: limits, frame mapping)."""
    try:
        metadata = MapMetadata.from_dict(data)
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc
    _check_frames(metadata, path)
    return metadata


def read_metadata(path: Path) -> MapMetadata:
    """Load a ``*_metadata.json``; errors name the file."""
    return _metadata_of(_metadata_dict(path), path)


def _check_frames(metadata: MapMetadata, path: Path) -> None:
    """The frame mapping must fit the array's frame axis and the video (errors name ``path``)."""
    try:
        check_frame_mapping(
            metadata.latent_to_video_frames,
            metadata.shape[-3],
            metadata.video_dimensions.frames,
            metadata.conditioning_frames,
        )
    except AttentionDataError as exc:
        raise AttentionDataError(f"{path}: {exc}") from exc


_FRAME_FIELDS = frozenset({"shape", "latent_to_video_frames", "video_dimensions", "conditioning_frames"})


def read_metadata_series(paths: list[Path]) -> list[MapMetadata]:
    """``[read_metadata(p) for p in paths]`` for files that differ in a few fields (one word's steps), faster.

    The first file is decoded in full; each other one is compared with it as decoded JSON and only its
    changed fields are decoded (:meth:`MapMetadata.updated`), unless it lacks fields of the first or
    changes the shape or frame mapping: then it is read in full. Same results and errors as
    :func:`read_metadata`.
    """
    if not paths:
        return []
    first_dict = _metadata_dict(paths[0])
    first = _metadata_of(first_dict, paths[0])
    out = [first]
    for path in paths[1:]:
        data = _metadata_dict(path)
        changes = {k: v for k, v in data.items() if k not in first_dict or first_dict[k] != v}
        if not first_dict.keys() <= data.keys() or not _FRAME_FIELDS.isdisjoint(changes):
            out.append(read_metadata(path))  # fields of the first missing (defaults apply), or new frame facts
        else:
            try:
                out.append(first.updated(changes) if changes else first)
            except AttentionDataError as exc:
                raise AttentionDataError(f"{path}: {exc}") from exc
    return out


def read_map(data_path: Path, meta_path: Path) -> AttentionInfo:
    """Load one map and check it against its metadata."""
    metadata = read_metadata(meta_path)
    array = read_array(data_path, expected_array(metadata))
    if tuple(array.shape) != tuple(metadata.shape):
        raise AttentionDataError(
            f"{data_path}: array shape {tuple(array.shape)} does not match its metadata {metadata.shape}"
        )
    return AttentionInfo(attention_map=array, metadata=metadata, path=data_path)


__all__ = [
    "ARRAY_KEY",
    "AttentionInfo",
    "AttentionStore",
    "check_store_options",
    "expected_array",
    "read_array",
    "read_map",
    "read_metadata",
    "read_metadata_series",
    "stored_map",
]

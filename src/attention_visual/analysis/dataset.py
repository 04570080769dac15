"""A batch as one labelled, lazy array: ``open_batch(batch_dir) -> xarray.Dataset``.

Dimensions ``(video, word, step, [pass, block, head,] frame, y, x)``; nothing is read until a slice
is computed (one dask task per video × word), so a batch larger than memory can be sliced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attention_visual.analysis.measures import PixelGeometry
from attention_visual.analysis.source import batch_folder, video_labels
from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.extras import import_from_extra
from attention_visual.storage.backend import PACKED, MapBackend, open_maps
from attention_visual.storage.packed.reader import PackedReader
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    import xarray as xr


@dataclass
class _Scan:
    """What the batch holds, from its metadata alone."""

    videos: list[str] = field(default_factory=list)
    words: dict[str, list[str]] = field(default_factory=dict)  # video -> words
    steps: dict[str, dict[int, MapMetadata]] = field(default_factory=dict)  # video -> step -> metadata
    first: MapMetadata | None = None


def _scan(maps: MapBackend, include_incomplete: bool) -> _Scan:
    scan = _Scan()
    for video_id in AttentionAnalyzer(maps).get_available_videos(include_incomplete=include_incomplete):
        analyzer = AttentionAnalyzer(maps)
        words = analyzer.get_available_words(video_id)
        steps: dict[int, MapMetadata] = {}
        for word in words:
            for meta in analyzer.step_metadata(video_id, word):
                steps.setdefault(int(meta.step_index or 0), meta)
                if scan.first is None:
                    scan.first = meta
                elif (meta.axes, meta.shape, meta.video_dimensions) != (
                    scan.first.axes,
                    scan.first.shape,
                    scan.first.video_dimensions,
                ):
                    raise AttentionDataError(
                        f"{video_id}/{word!r}: maps of shape {meta.shape} {meta.axes} for a "
                        f"{meta.video_dimensions.width}x{meta.video_dimensions.height} video differ from the batch's "
                        f"{scan.first.shape} {scan.first.axes}; open_batch needs one grid per batch"
                    )
        scan.videos.append(video_id)
        scan.words[video_id] = words
        scan.steps[video_id] = steps
    return scan


def _read_steps(
    maps: MapBackend, video_id: str, word: str, steps: tuple[int, ...], shape: tuple[int, ...]
) -> np.ndarray:
    """``[step, *leading, frame, y, x]`` float32 on the batch's step axis (NaN where a step is missing)."""
    out = np.full((len(steps), *shape), np.nan, dtype=np.float32)
    raw, metas = AttentionAnalyzer(maps).raw_step_stack(video_id, word)
    position = {s: i for i, s in enumerate(steps)}
    out[[position[int(m.step_index or 0)] for m in metas]] = raw
    return out


def _read_aggregated(maps: MapBackend, video_id: str, word: str, shape: tuple[int, ...]) -> np.ndarray:
    """``[*leading, frame, y, x]`` float32: the stored step average (NaN when none was stored)."""
    try:
        return np.asarray(AttentionAnalyzer(maps).load_aggregated(video_id, word).attention_map, np.float32)
    except NotFoundError:
        return np.full(shape, np.nan, dtype=np.float32)


def _read_word_averages(packed: Path, word: str, videos: tuple[str, ...], shape: tuple[int, ...]) -> np.ndarray:
    """``[video, *leading, frame, y, x]`` float32: a packed word's step averages in the batch's video order."""
    out = np.full((len(videos), *shape), np.nan, dtype=np.float32)
    aggregates = PackedReader(packed).aggregates(word)
    if aggregates is not None:
        ids, data = aggregates.read_all()  # one read for the whole batch
        position = {v: i for i, v in enumerate(videos)}
        rows = [(position[v], i) for i, v in enumerate(ids) if v in position]
        if rows:
            out[[r for r, _ in rows]] = data[[i for _, i in rows]]
    return out


def open_batch(batch_dir: Path | str, include_incomplete: bool = False) -> xr.Dataset:
    """The batch's maps as a lazy ``xarray.Dataset`` (files layout or packed store).

    Variables: ``attention`` ``(video, word, step, *leading, frame, y, x)`` and ``aggregated``
    ``(video, word, *leading, frame, y, x)`` (the stored step average), float32 with NaN where a video
    lacks a word or a step. Coordinates: ``seed``, ``prompt``, ``model``, ``prompt_index``, ``video_index``
    per video; ``timestep``, ``sigma``, ``expert`` per video × step; ``y_px``, ``x_px``: the cell centres in
    pixels of the generated video; ``pass``, ``block``, ``head`` when stored. Reading happens per video ×
    word when a slice is computed.

    Example:
        >>> ds = open_batch("outputs/batch")
        >>> ds.attention.dims
        ('video', 'word', 'step', 'frame', 'y', 'x')
        >>> ds.attention.sel(word="kiss", step=slice(0, 1)).mean("step").shape   # nothing read until here
        (1, 3, 2, 3)

    Raises:
        NotFoundError: No maps in ``batch_dir``.
        AttentionDataError: Videos of the batch have different grids.
    """
    xr_mod = import_from_extra("xarray", "analysis")
    da = import_from_extra("dask.array", "analysis")
    dask = import_from_extra("dask", "analysis")
    maps = open_maps(batch_dir)
    scan = _scan(maps, include_incomplete)
    if scan.first is None:
        raise NotFoundError(f"no stored maps in {maps.root}")
    first = scan.first
    shape = tuple(first.shape)  # [*leading, frame, y, x]
    leading = tuple(first.axes[:-3])
    words = sorted({w for ws in scan.words.values() for w in ws})
    steps = tuple(sorted({s for st in scan.steps.values() for s in st}))
    missing_steps = da.full((len(steps), *shape), np.nan, dtype=np.float32)
    missing_one = da.full(shape, np.nan, dtype=np.float32)
    step_rows, agg_rows = [], []
    for video_id in scan.videos:
        step_cells, agg_cells = [], []
        for word in words:
            if word not in scan.words[video_id]:
                step_cells.append(missing_steps)
                agg_cells.append(missing_one)
                continue
            read = dask.delayed(_read_steps, pure=True)(maps, video_id, word, steps, shape)
            step_cells.append(da.from_delayed(read, (len(steps), *shape), dtype=np.float32))
            agg = dask.delayed(_read_aggregated, pure=True)(maps, video_id, word, shape)
            agg_cells.append(da.from_delayed(agg, shape, dtype=np.float32))
        step_rows.append(da.stack(step_cells))
        agg_rows.append(da.stack(agg_cells))
    aggregated = da.stack(agg_rows)  # [video, word, *leading, frame, y, x]
    if maps.layout == PACKED:  # one read per word: the packed store keeps a word's averages together
        videos = tuple(scan.videos)
        columns = [
            da.from_delayed(
                dask.delayed(_read_word_averages, pure=True)(maps.root, word, videos, shape),
                (len(videos), *shape),
                dtype=np.float32,
            )
            for word in words
        ]
        aggregated = da.stack(columns, axis=1)
    dims = ("video", "word", "step", *leading, "frame", "y", "x")
    dims_agg = ("video", "word", *leading, "frame", "y", "x")
    dataset: xr.Dataset = xr_mod.Dataset(
        {"attention": (dims, da.stack(step_rows)), "aggregated": (dims_agg, aggregated)},
        coords=_coords(scan, maps, words, steps, first),
        attrs={"batch": str(batch_folder(maps)), "maps": str(maps.root), "model_id": first.model_id or ""},
    )
    return dataset


def _per_step(scan: _Scan, steps: tuple[int, ...], value: Any, fill: Any) -> list[list[Any]]:
    return [[value(scan.steps[v][s]) if s in scan.steps[v] else fill for s in steps] for v in scan.videos]


def _coords(
    scan: _Scan, maps: MapBackend, words: list[str], steps: tuple[int, ...], first: MapMetadata
) -> dict[str, Any]:
    labels = video_labels(batch_folder(maps))
    any_meta = {v: next(iter(scan.steps[v].values()), first) for v in scan.videos}
    frames, ny, nx = first.shape[-3:]
    dims = first.video_dimensions
    geometry = PixelGeometry(height=dims.height, width=dims.width, ny=ny, nx=nx)
    nan = float("nan")

    def number(x: float | None) -> float:
        return nan if x is None else float(x)

    coords: dict[str, Any] = {
        "video": scan.videos,
        "word": words,
        "step": list(steps),
        "frame": list(range(frames)),
        "y": list(range(ny)),
        "x": list(range(nx)),
        "y_px": ("y", geometry.y_px),
        "x_px": ("x", geometry.x_px),
        "seed": ("video", [-1 if any_meta[v].seed is None else any_meta[v].seed for v in scan.videos]),
        "prompt": ("video", [any_meta[v].marked_prompt for v in scan.videos]),
        "model": ("video", [(labels[v].model if v in labels else None) or "" for v in scan.videos]),
        "prompt_index": ("video", [_label(labels, v, "prompt_index") for v in scan.videos]),
        "video_index": ("video", [_label(labels, v, "video_index") for v in scan.videos]),
        "timestep": (("video", "step"), np.asarray(_per_step(scan, steps, lambda m: number(m.timestep), nan))),
        "sigma": (("video", "step"), np.asarray(_per_step(scan, steps, lambda m: number(m.sigma), nan))),
        "expert": (
            ("video", "step"),
            np.asarray(_per_step(scan, steps, lambda m: str(getattr(m, "expert", None) or ""), ""), dtype=object),
        ),
    }
    if "pass" in first.axes:
        coords["pass"] = list(first.passes)
    if "block" in first.axes and len(first.blocks) == first.shape[first.axes.index("block")]:
        coords["block"] = list(first.blocks)
    if "head" in first.axes:
        coords["head"] = list(range(first.shape[first.axes.index("head")]))
    return coords


def _label(labels: dict[str, Any], video_id: str, name: str) -> int:
    record = labels.get(video_id)
    value = getattr(record, name, None) if record is not None else None
    return -1 if value is None else int(value)


def word_averages(batch_dir: Path | str, word: str, include_incomplete: bool = False) -> xr.DataArray:
    """One word's stored step-averaged maps for every video that has them, read now (not lazily).

    Dims ``(video, *leading, frame, y, x)``; coordinates ``seed`` (−1 when unknown), ``prompt``, ``y_px``,
    ``x_px``. From a
    packed store this is a single read (the averages of a word are stored together; a ``storage_format:
    zarr`` batch that has not reached its end yet adds those its videos staged); from the files layout one
    file per video.

    Example:
        >>> kiss = word_averages("outputs/batch", "kiss")
        >>> kiss.dims, kiss.video.values.tolist()
        (('video', 'frame', 'y', 'x'), ['prompt_001_vid_001'])
        >>> kiss.std("video").shape       # how much the seeds disagree, cell by cell
        (3, 2, 3)
    """
    xr_mod = import_from_extra("xarray", "analysis")
    maps = open_maps(batch_dir)
    analyzer = AttentionAnalyzer(maps)
    wanted = analyzer.get_available_videos(include_incomplete=include_incomplete)
    metas: list[MapMetadata] = []
    arrays: list[np.ndarray] = []
    videos: list[str] = []
    if maps.layout == PACKED:
        reader = PackedReader(maps.root)
        found: dict[str, tuple[MapMetadata, np.ndarray]] = {}  # video -> (metadata, [*leading, frame, y, x])
        aggregates = reader.aggregates(word)
        if aggregates is not None:
            ids, data = aggregates.read_all()  # [video, *leading, frame, y, x]: one read
            for i, video_id in enumerate(ids):
                meta = aggregates.metadata(video_id)
                if meta is not None:
                    found[video_id] = (meta, data[i])
        for video_id in wanted:
            if video_id not in found:  # staged: a `storage_format: zarr` batch before its end
                info = reader.find_aggregated(video_id, word)
                if info is not None:
                    found[video_id] = (info.metadata, info.attention_map)
            if video_id in found:
                videos.append(video_id)
                metas.append(found[video_id][0])
                arrays.append(found[video_id][1])
    else:
        for video_id in wanted:
            try:
                info = analyzer.load_aggregated(video_id, word)
            except NotFoundError:
                continue
            finally:
                analyzer.release(video_id)
            videos.append(video_id)
            metas.append(info.metadata)
            arrays.append(info.attention_map)
    if not arrays:
        raise NotFoundError(f"no step-averaged map of word {word!r} in {maps.root}")
    first = metas[0]
    ny, nx = first.shape[-2:]
    geometry = PixelGeometry(height=first.video_dimensions.height, width=first.video_dimensions.width, ny=ny, nx=nx)
    dims = ("video", *first.axes)
    result: xr.DataArray = xr_mod.DataArray(
        np.stack(arrays).astype(np.float32, copy=False),
        dims=dims,
        coords={
            "video": videos,
            "seed": ("video", [-1 if m.seed is None else m.seed for m in metas]),
            "prompt": ("video", [m.marked_prompt for m in metas]),
            "y_px": ("y", geometry.y_px),
            "x_px": ("x", geometry.x_px),
        },
        name=word,
    )
    return result


__all__ = ["open_batch", "word_averages"]

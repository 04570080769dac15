"""The tidy statistics tables: one row per video × word × step × latent frame, and word pairs.

``batch_stats(batch_dir)`` and ``pair_stats(batch_dir)`` return pandas DataFrames;
:func:`write_stats` streams the same rows video by video into Parquet (or CSV) files, so its memory
does not grow with the number of videos. Column meanings: docs/analysis.md.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attention_visual.analysis.measures import MEASURES, PixelGeometry, map_measures, pair_measures
from attention_visual.analysis.prefetch import read_ahead
from attention_visual.analysis.source import VideoData, WordData, batch_folder, iter_videos
from attention_visual.errors import AttentionDataError
from attention_visual.extras import import_from_extra
from attention_visual.storage.backend import open_maps
from attention_visual.storage.durable.atomic import atomic_output
from attention_visual.storage.durable.faults import write_faults

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Columns of the statistics table, in order (``step == -1``: the step-averaged map).
STATS_COLUMNS = (
    "video_id",
    "model",
    "prompt_index",
    "video_index",
    "seed",
    "marked_prompt",
    "word",
    "step",
    "timestep",
    "sigma",
    "expert",
    "frame",
    *MEASURES,
)
#: Columns of the word-pair table, in order (``word_a < word_b``).
PAIR_COLUMNS = (
    "video_id",
    "model",
    "prompt_index",
    "video_index",
    "seed",
    "step",
    "timestep",
    "sigma",
    "expert",
    "frame",
    "word_a",
    "word_b",
    "iou",
    "pearson",
)
ANALYSIS_DIR = "analysis"
"""Default folder of the tables inside a batch folder."""
DEFAULT_STATS_FILE = "stats.parquet"
TABLE_SUFFIXES = (".parquet", ".csv")


def _pa() -> Any:
    return import_from_extra("pyarrow", "analysis")


def _label_types() -> list[tuple[str, Any]]:
    pa = _pa()
    return [
        ("video_id", pa.string()),
        ("model", pa.string()),
        ("prompt_index", pa.int32()),
        ("video_index", pa.int32()),
        ("seed", pa.int64()),
    ]


def _step_types() -> list[tuple[str, Any]]:
    pa = _pa()
    return [("step", pa.int32()), ("timestep", pa.float64()), ("sigma", pa.float64()), ("expert", pa.string())]


def stats_schema() -> pa.Schema:
    """The Arrow schema of the statistics table (:data:`STATS_COLUMNS`)."""
    pa = _pa()
    fields = [
        *_label_types(),
        ("marked_prompt", pa.string()),
        ("word", pa.string()),
        *_step_types(),
        ("frame", pa.int32()),
        *((m, pa.float64()) for m in MEASURES),
    ]
    return pa.schema(fields)


def pairs_schema() -> pa.Schema:
    """The Arrow schema of the word-pair table (:data:`PAIR_COLUMNS`)."""
    pa = _pa()
    fields = [
        *_label_types(),
        *_step_types(),
        ("frame", pa.int32()),
        ("word_a", pa.string()),
        ("word_b", pa.string()),
        ("iou", pa.float64()),
        ("pearson", pa.float64()),
    ]
    return pa.schema(fields)


def _geometry(word: WordData) -> PixelGeometry:
    dims = word.metadata.video_dimensions
    ny, nx = word.maps.shape[-2:]
    return PixelGeometry(height=dims.height, width=dims.width, ny=ny, nx=nx)


def _repeat(value: object, n: int, type_: Any) -> Any:
    pa = _pa()
    return pa.repeat(pa.scalar(value, type_), n)


def _optional_floats(values: tuple[float | None, ...], frames: int) -> Any:
    pa = _pa()
    arr = np.repeat(np.array([np.nan if v is None else v for v in values], dtype=np.float64), frames)
    return pa.array(arr, mask=np.isnan(arr))


def _label_columns(video: VideoData, word: WordData, n: int) -> list[Any]:
    pa = _pa()
    return [
        _repeat(video.video_id, n, pa.string()),
        _repeat(video.labels.model, n, pa.string()),
        _repeat(video.labels.prompt_index, n, pa.int32()),
        _repeat(video.labels.video_index, n, pa.int32()),
        _repeat(word.metadata.seed, n, pa.int64()),
    ]


def _step_columns(word: WordData, entries: list[int], frames: int) -> list[Any]:
    pa = _pa()
    return [
        pa.array(np.repeat(np.asarray(word.steps, dtype=np.int32)[entries], frames)),
        _optional_floats(tuple(word.timesteps[e] for e in entries), frames),
        _optional_floats(tuple(word.sigmas[e] for e in entries), frames),
        pa.array(list(itertools.chain.from_iterable([word.experts[e]] * frames for e in entries)), pa.string()),
    ]


def video_stats(video: VideoData) -> pa.RecordBatch:
    """The statistics rows of one video (schema :func:`stats_schema`), words × entries × frames."""
    pa = _pa()
    parts = []
    for word in video.words:
        entries, frames = word.maps.shape[0], word.maps.shape[1]
        n = entries * frames
        values = map_measures(word.maps, _geometry(word))  # each [entry, frame]
        columns = [
            *_label_columns(video, word, n),
            _repeat(word.metadata.marked_prompt, n, pa.string()),
            _repeat(word.word, n, pa.string()),
            *_step_columns(word, list(range(entries)), frames),
            pa.array(np.tile(np.arange(frames, dtype=np.int32), entries)),
            *(pa.array(values[m].ravel()) for m in MEASURES),
        ]
        parts.append(pa.RecordBatch.from_arrays(columns, schema=stats_schema()))
    return _concat(parts, stats_schema())


def video_pairs(video: VideoData) -> pa.RecordBatch:
    """The word-pair rows of one video (schema :func:`pairs_schema`): steps both words have, every frame."""
    pa = _pa()
    parts = []
    for a, b in itertools.combinations(sorted(video.words, key=lambda w: w.word), 2):
        if a.maps.shape[1:] != b.maps.shape[1:]:
            raise AttentionDataError(
                f"{video.video_id}: words {a.word!r} and {b.word!r} have maps of different shapes "
                f"{a.maps.shape[1:]} and {b.maps.shape[1:]}"
            )
        position_b = {s: i for i, s in enumerate(b.steps)}
        entries_a = [i for i, s in enumerate(a.steps) if s in position_b]
        entries_b = [position_b[a.steps[i]] for i in entries_a]
        frames = a.maps.shape[1]
        n = len(entries_a) * frames
        values = pair_measures(a.maps[entries_a], b.maps[entries_b])  # each [entry, frame]
        columns = [
            *_label_columns(video, a, n),
            *_step_columns(a, entries_a, frames),
            pa.array(np.tile(np.arange(frames, dtype=np.int32), len(entries_a))),
            _repeat(a.word, n, pa.string()),
            _repeat(b.word, n, pa.string()),
            pa.array(values["iou"].ravel()),
            pa.array(values["pearson"].ravel()),
        ]
        parts.append(pa.RecordBatch.from_arrays(columns, schema=pairs_schema()))
    return _concat(parts, pairs_schema())


def _concat(parts: list[Any], schema: Any) -> Any:
    pa = _pa()
    if not parts:
        return pa.RecordBatch.from_pylist([], schema=schema)
    return pa.concat_batches(parts) if len(parts) > 1 else parts[0]


def _frame(batches: Iterator[Any], schema: Any) -> pd.DataFrame:
    import_from_extra("pandas", "analysis")
    pa = _pa()
    table = pa.Table.from_batches(list(batches), schema=schema)
    return table.to_pandas()


def batch_stats(
    batch_dir: Path | str, pass_name: str = "cond", include_incomplete: bool = False, models: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The statistics table of a batch as a pandas DataFrame (columns :data:`STATS_COLUMNS`).

    One row per video × word × step × latent frame, plus the step-averaged map's rows (``step == -1``).
    Works on the files layout and on the packed store alike. For very large batches prefer
    :func:`write_stats`, which streams to Parquet.

    Args:
        batch_dir: A batch folder (or its ``attention_maps/`` / ``attention_maps.zarr``).
        pass_name: The guidance pass to use when both were stored.
        include_incomplete: Also read videos whose capture did not finish.
        models: Only the videos of these models (the ``model`` column); empty: every video.

    Example:
        >>> df = batch_stats("outputs/batch")
        >>> df.shape                        # 1 video × 2 words × (3 steps + the average) × 3 latent frames
        (24, 19)
        >>> df[df.step >= 0].groupby(["word", "step"]).entropy.mean().shape
        (6,)
    """
    videos = read_ahead(iter_videos(batch_dir, pass_name, include_incomplete, models))
    return _frame((video_stats(v) for v in videos), stats_schema())


def pair_stats(
    batch_dir: Path | str, pass_name: str = "cond", include_incomplete: bool = False, models: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The word-pair table of a batch (columns :data:`PAIR_COLUMNS`): mask IoU and Pearson correlation."""
    videos = read_ahead(iter_videos(batch_dir, pass_name, include_incomplete, models))
    return _frame((video_pairs(v) for v in videos), pairs_schema())


@dataclass(frozen=True)
class StatsFiles:
    """What :func:`write_stats` wrote."""

    stats: Path
    pairs: Path | None
    videos: int
    rows: int
    pair_rows: int


def check_table_path(path: Path) -> Path:
    """Return ``path`` if its suffix is ``.parquet`` or ``.csv``, else raise one clear error."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise AttentionDataError(f"{path}: the table's file name must end in .parquet or .csv")
    return path


@contextlib.contextmanager
def _table_writer(path: Path, schema: Any) -> Iterator[Callable[[Any], None]]:
    """``write(batch)`` appending record batches to a Parquet or CSV file, published atomically at the end."""
    pa = _pa()
    with atomic_output(path) as fh:
        sink = pa.PythonFile(fh, mode="w")
        if path.suffix.lower() == ".csv":
            writer = import_from_extra("pyarrow.csv", "analysis").CSVWriter(sink, schema)
        else:
            writer = import_from_extra("pyarrow.parquet", "analysis").ParquetWriter(sink, schema, compression="zstd")
        try:
            yield writer.write_batch
        finally:
            writer.close()


def write_stats(
    batch_dir: Path | str,
    output: Path | str | None = None,
    pairs: Path | str | None = None,
    pass_name: str = "cond",
    include_incomplete: bool = False,
    models: tuple[str, ...] = (),
) -> StatsFiles:
    """Stream the statistics table (and the pair table with ``pairs``) to files, one video at a time.

    Args:
        batch_dir: A batch folder (files layout or packed).
        output: ``.parquet`` or ``.csv`` file; default ``BATCH_DIR/analysis/stats.parquet``.
        pairs: Where to write the pair table (``.parquet`` or ``.csv``); None: not written.
        pass_name: The guidance pass to use when both were stored.
        include_incomplete: Also read videos whose capture did not finish.
        models: Only the videos of these models (``stats --model``); empty: every video.

    Raises:
        AttentionDataError: A map cannot be read (damaged, refused), or a name of ``models`` is no model of
            the batch; nothing is written.
        StorageError: A table cannot be written (disk full, read-only folder); nothing is left behind.
    """
    maps = open_maps(batch_dir)
    stats_path = check_table_path(
        Path(output) if output is not None else batch_folder(maps) / ANALYSIS_DIR / DEFAULT_STATS_FILE
    )
    pairs_path = check_table_path(Path(pairs)) if pairs is not None else None
    videos = rows = pair_rows = 0
    source = iter_videos(maps, pass_name, include_incomplete, models)  # a wrong model name stops here
    # A full disk, a read-only folder: one StorageError (exit 1); the partial tables are removed either way.
    with write_faults(stats_path), contextlib.ExitStack() as stack:
        write = stack.enter_context(_table_writer(stats_path, stats_schema()))
        write_pairs = stack.enter_context(_table_writer(pairs_path, pairs_schema())) if pairs_path else None
        for video in read_ahead(source):  # the next read meanwhile
            batch = video_stats(video)
            write(batch)
            videos, rows = videos + 1, rows + batch.num_rows
            if write_pairs is not None:
                pair_batch = video_pairs(video)
                write_pairs(pair_batch)
                pair_rows += pair_batch.num_rows
            del video, batch
    return StatsFiles(stats_path, pairs_path, videos, rows, pair_rows)


__all__ = [
    "ANALYSIS_DIR",
    "DEFAULT_STATS_FILE",
    "PAIR_COLUMNS",
    "STATS_COLUMNS",
    "StatsFiles",
    "batch_stats",
    "check_table_path",
    "pair_stats",
    "pairs_schema",
    "stats_schema",
    "video_pairs",
    "video_stats",
    "write_stats",
]

"""The report's batch view: the statistics table, per word its seed grids, curves, centroid paths and atlas.

Made once per batch state and cached: ``report/batch/batch.json`` holds the view with the fingerprint it
was made from (the newest file time of every video's maps folder, the colormap and normalisation), so
writing the report again after nothing changed reads no map. Otherwise the maps are read twice, video by
video: once by :func:`attention_visual.analysis.write_stats` (streamed to ``report/batch/stats.parquet``)
and once, one prompt × word at a time, for the seed views; memory holds one prompt's seeds of one word.

Files under ``report/``::

    batch/batch.json                          the cached view and its fingerprint
    batch/stats.parquet                       the full statistics table (pandas.read_parquet)
    batch/seeds/<word_dir>_prompt_NNN.png     seed grid sprite of one word × prompt
    batch/curves/<word_dir>.png               mass / entropy / spread over steps, band across seeds
    batch/atlas/<word_dir>.png                block × head entropy and peak (per-block/per-head batches)

The page's table has one row per video × word: the step-averaged map's statistics averaged over the
latent frames (``step == -1`` rows of the full table). A centroid path is the step-averaged map's
centroid per latent frame, in video pixels, drawn over the generated video.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from attention_visual.analysis.batch_videos import BatchVideo, batch_videos
from attention_visual.analysis.seeds import SeedView, accumulate, pooled_views
from attention_visual.errors import AttentionVisualError
from attention_visual.report.batch_images import (
    ATLAS_MEASURES,
    SeedGridInfo,
    block_head_maps,
    write_atlas,
    write_curves,
    write_seed_grid,
)
from attention_visual.report.images import newest_mtime
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch.manifest import one_line
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BATCH_DIR = "batch"
"""The batch view's folder inside ``report/``."""
CACHE_FILE = "batch.json"
STATS_FILE = "stats.parquet"
BATCH_VIEW_VERSION = 1
"""Bumped when the batch view's content changes, so an older cache is redone."""
#: Columns of the page's table (``video``, labels, then the step-averaged statistics averaged over frames).
TABLE_MEASURES = ("mass", "peak", "entropy", "spread", "mask_area")
TABLE_COLUMNS = ("video_id", "prompt_index", "seed", "word", *TABLE_MEASURES)


@dataclass
class Trajectory:
    """One video's centroid path of a word: ``points`` ``(x, y, first video frame)`` per latent frame."""

    video_id: str
    seed: int
    points: list[tuple[float, float, int]]


@dataclass
class SeedGroup:
    """One word over the seeds of one prompt: its seed grid sprite and each seed's centroid path."""

    prompt_index: int
    grid: str
    info: SeedGridInfo
    width: int
    height: int
    fps: float
    trajectories: list[Trajectory] = field(default_factory=list)


@dataclass
class WordBatch:
    """One word of the batch view."""

    word: str
    groups: list[SeedGroup] = field(default_factory=list)
    across_consistency: float | None = None
    across_videos: int = 0
    across_prompts: int = 0
    across_error: str | None = None
    curves: str | None = None
    atlas: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class BatchView:
    """The batch view (links relative to ``report/``).

    Attributes:
        stats_file: Link to the full statistics table (Parquet), None when it could not be made.
        stats_error: Why there is no table (e.g. the ``analysis`` extra is missing).
        rows: The page's table, one list of :data:`TABLE_COLUMNS` values per video × word.
        words: One entry per marked word with stored maps, in first-marked order.
    """

    stats_file: str | None = None
    stats_error: str | None = None
    rows: list[list[Any]] = field(default_factory=list)
    words: list[WordBatch] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchView:
        words = []
        for w in data["words"]:
            groups = []
            for g in w["groups"]:
                paths = [
                    Trajectory(t["video_id"], t["seed"], [tuple(p) for p in t["points"]]) for t in g["trajectories"]
                ]
                groups.append(SeedGroup(**{**g, "info": SeedGridInfo.from_dict(g["info"]), "trajectories": paths}))
            words.append(WordBatch(**{**w, "groups": groups}))
        return cls(**{**data, "words": words})


def _link(relative: str) -> str:
    return quote(relative, safe="/")


def _number(value: Any) -> Any:
    """A table cell: floats rounded to 4 significant digits (NaN → None), others unchanged."""
    if isinstance(value, float | np.floating):
        value = float(value)
        return None if math.isnan(value) else float(f"{value:.4g}")
    if isinstance(value, np.integer):
        return int(value)
    return value


def summary_rows(stats: pd.DataFrame) -> list[list[Any]]:
    """The page's table: per video × word, the ``step == -1`` rows' :data:`TABLE_MEASURES` averaged over frames."""
    averaged = stats[stats["step"] == -1]
    table = averaged.groupby(["video_id", "prompt_index", "seed", "word"], as_index=False, sort=True, dropna=False)[
        list(TABLE_MEASURES)
    ].mean()
    return [[_number(v) for v in row] for row in table[list(TABLE_COLUMNS)].itertuples(index=False)]


def trajectories(stats: pd.DataFrame, view: SeedView) -> list[Trajectory]:
    """Each video of ``view``'s centroid path (step-averaged map, per latent frame) from the statistics table."""
    ranges = view.metadata[0].latent_to_video_frames
    rows = stats[(stats["word"] == view.word) & (stats["step"] == -1) & stats["video_id"].isin(view.video_ids)]
    paths = []
    for video_id, seed in zip(view.video_ids, view.seeds, strict=True):
        part = rows[rows["video_id"] == video_id].sort_values("frame")
        points = [
            (round(float(x), 2), round(float(y), 2), int(ranges[int(f)][0]) if int(f) < len(ranges) else 0)
            for f, y, x in part[["frame", "centroid_y", "centroid_x"]].itertuples(index=False)
            if not (math.isnan(x) or math.isnan(y))
        ]
        paths.append(Trajectory(video_id, int(seed), points))
    return paths


def _read_stats(batch_dir: Path, out: Path, view: BatchView) -> pd.DataFrame | None:
    """Stream the statistics table to ``out/stats.parquet`` and read it back; None (and the error noted) if not."""
    try:
        from attention_visual.analysis import write_stats
        from attention_visual.extras import import_from_extra

        pd = import_from_extra("pandas", "analysis")
        write_stats(batch_dir, out / STATS_FILE)
        stats = pd.read_parquet(out / STATS_FILE)
    except AttentionVisualError as exc:
        log.warning("no statistics table in the report: %s", one_line(exc))
        view.stats_error = one_line(exc)
        return None
    view.stats_file = _link(f"{BATCH_DIR}/{STATS_FILE}")
    view.rows = summary_rows(stats)
    return stats


def atlas_values(videos: list[BatchVideo], word: str) -> tuple[dict[str, np.ndarray], tuple[str, ...], int] | None:
    """``({measure: [block, head]}, block names, videos)`` of ``word``'s atlas, or None without block/head axes.

    Each cell is the measure (:data:`ATLAS_MEASURES`, as defined by :mod:`attention_visual.measures`)
    of that block × head's step-averaged map, averaged over latent frames and over the videos (those whose
    block × head shape matches the first one's).
    """
    from attention_visual.analysis.measures import PixelGeometry, map_measures

    sums: dict[str, np.ndarray] = {}
    count = 0
    blocks: tuple[str, ...] = ()
    for video in videos:
        if video.maps_root is None or word not in video.words:
            continue
        analyzer = AttentionAnalyzer(video.maps_root)
        if word not in analyzer.get_available_words(video.video_id):
            continue
        found = block_head_maps(analyzer, video.video_id, word)
        if found is None or (sums and found[0].shape[:2] != next(iter(sums.values())).shape):
            continue
        maps, blocks = found  # [block, head, frame, y, x]
        dims = analyzer.load_aggregated(video.video_id, word).metadata.video_dimensions
        geometry = PixelGeometry(height=dims.height, width=dims.width, ny=maps.shape[-2], nx=maps.shape[-1])
        measures = map_measures(maps, geometry)  # {name: [block, head, frame]}
        for name in ATLAS_MEASURES:
            value = measures[name].mean(axis=-1)  # [block, head]
            sums[name] = sums[name] + value if name in sums else value
        count += 1
    if not count:
        return None
    return {name: total / count for name, total in sums.items()}, blocks, count


def _word_batch(
    word: str,
    videos: list[BatchVideo],
    stats: pd.DataFrame | None,
    out: Path,
    colormap: str,
    normalization: str,
) -> WordBatch:
    entry = WordBatch(word=word)
    folder = word_dir_name(word)
    prompts = sorted({v.prompt_index for v in videos if word in v.words and v.maps_root is not None})
    by_prompt = {}
    for prompt in prompts:
        accs = accumulate([v for v in videos if v.prompt_index == prompt], [word], keep_steps=True).get(word, {})
        if prompt not in accs:
            continue
        acc = accs[prompt]
        view = acc.view()
        relative = f"{BATCH_DIR}/seeds/{folder}_prompt_{prompt:03d}.png"
        info = write_seed_grid(view, out.parent / relative, colormap, normalization)
        dims = view.metadata[0].video_dimensions
        group = SeedGroup(prompt, _link(relative), info, dims.width, dims.height, dims.fps)
        if stats is not None:
            group.trajectories = trajectories(stats, view)
        entry.groups.append(group)
        acc.drop_steps()  # keep only the step averages for pooling across prompts
        by_prompt[prompt] = acc
    pooled = pooled_views(word, by_prompt)
    entry.across_error = pooled.across_error
    if pooled.across is not None:
        consistency = pooled.across.consistency
        entry.across_consistency = None if math.isnan(consistency) else consistency
        entry.across_videos = len(pooled.across.video_ids)
        entry.across_prompts = len(set(pooled.across.prompt_indices))
    if stats is not None and (stats["word"] == word).any():
        relative = f"{BATCH_DIR}/curves/{folder}.png"
        write_curves(stats, word, out.parent / relative)
        entry.curves = _link(relative)
    atlas = atlas_values(videos, word)
    if atlas is not None:
        relative = f"{BATCH_DIR}/atlas/{folder}.png"
        write_atlas(*atlas[:2], word, atlas[2], out.parent / relative)
        entry.atlas = _link(relative)
    return entry


def fingerprint(videos: list[BatchVideo], colormap: str, normalization: str) -> dict[str, Any]:
    """What the cached view depends on: each video's newest map file time and the look."""
    analyzers: dict[Path, AttentionAnalyzer] = {}
    maps = {}
    for v in videos:
        if v.maps_root is not None:
            analyzer = analyzers.setdefault(v.maps_root, AttentionAnalyzer(v.maps_root))
            maps[v.video_id] = newest_mtime(analyzer.video_folder(v.video_id))  # files layout or packed
    return {"version": BATCH_VIEW_VERSION, "colormap": colormap, "normalization": normalization, "maps": maps}


def _cached(path: Path, key: dict[str, Any]) -> BatchView | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("fingerprint") != key:
            return None
        view = BatchView.from_dict(data["view"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    report_dir = path.parent.parent
    links = [view.stats_file] + [g.grid for w in view.words for g in w.groups]
    links += [link for w in view.words for link in (w.curves, w.atlas)]
    if any(link is not None and not (report_dir / link).is_file() for link in links):
        return None
    return view


def build_batch_view(batch_dir: Path, report_dir: Path, colormap: str, normalization: str) -> BatchView:
    """The batch view of ``batch_dir``, from the cache when the maps did not change, else made and cached.

    A word whose maps cannot be read gets its error instead of its views; nothing here raises for one
    bad word or a missing optional dependency.

    Raises:
        NotFoundError: Not a batch folder.
        AttentionDataError: Its manifest is unreadable.
    """
    out = report_dir / BATCH_DIR
    videos = batch_videos(batch_dir)
    key = fingerprint(videos, colormap, normalization)
    cached = _cached(out / CACHE_FILE, key)
    if cached is not None:
        log.info("batch view up to date: %s", out / CACHE_FILE)
        return cached
    view = BatchView()
    stats = _read_stats(batch_dir, out, view)
    words = list(dict.fromkeys(w for v in videos if v.maps_root is not None for w in v.words))
    for word in words:
        try:
            view.words.append(_word_batch(word, videos, stats, out, colormap, normalization))
        except AttentionVisualError as exc:
            log.warning("no batch view of %r: %s", word, one_line(exc))
            view.words.append(WordBatch(word=word, errors=[one_line(exc)]))
    atomic_write_text(out / CACHE_FILE, json.dumps({"fingerprint": key, "view": view.to_dict()}, indent=1) + "\n")
    return view


__all__ = [
    "BATCH_DIR",
    "TABLE_COLUMNS",
    "BatchView",
    "SeedGroup",
    "Trajectory",
    "WordBatch",
    "atlas_values",
    "build_batch_view",
    "fingerprint",
    "summary_rows",
    "trajectories",
]

"""The report's batch view: the statistics table, per word its seed grids, curves, centroid paths and atlas.

Put together from the videos' assets (:mod:`.video_assets`) at every assembly, redoing only what changed:

* the statistics table is the videos' own rows (``maps/<video_id>/stats.parquet``) concatenated into
  ``batch/stats.parquet`` when one of them changed (``batch/stats.json`` holds the key);
* a seed group (one word over the seeds of one prompt, and of one model in a comparison batch) is redone
  only when one of its videos' maps changed (``batch/seeds/<word_dir>_prompt_NNN.json``, in a comparison
  ``<word_dir>_<model>_prompt_NNN.json``, holds its key, layout and the sum of its videos' unit maps, from
  which the word's consistency across prompts follows without reading any map again);
* centroid paths and block × head values come with each video's assets; curves are drawn (SVG) from the
  table, the atlas (matplotlib) only when its values changed.

So after the last video of a batch only that video's prompt is read again. Nothing here reads the whole
statistics table once per word × prompt: every grouping is one pass.

Files under ``report/``::

    batch/stats.parquet                       the full statistics table (pandas.read_parquet)
    batch/stats.json                          what it was made from
    batch/seeds/<word_dir>_prompt_NNN.png     seed grid sprite of one word × prompt
    batch/seeds/<word_dir>_prompt_NNN.json    its layout, key and pooled statistics
    batch/curves/<word_dir>.svg               mass / entropy / spread over steps, band across seeds
    batch/atlas/<word_dir>.png                block × head entropy and peak (per-block/per-head batches)

The page's table has one row per video × word: the step-averaged map's statistics averaged over the
latent frames (``step == -1`` rows of the full table). A centroid path is the step-averaged map's
centroid per latent frame, in video pixels, drawn over the generated video's poster frame.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from attention_visual.analysis.seeds import SeedAccumulator, consistency_of_sum, unit_maps
from attention_visual.errors import AttentionVisualError
from attention_visual.report.batch_images import ATLAS_MEASURES, SeedGridInfo, curves_svg, write_atlas, write_seed_grid
from attention_visual.report.collect import ReportView
from attention_visual.report.disk import file_sizes, read_cells, read_json, write_if_changed
from attention_visual.report.video_assets import VIDEO_STATS_FILE, VideoAssets, maps_root, read_word_stack, video_dir
from attention_visual.storage import word_dir_name
from attention_visual.storage.batch.manifest import VideoRecord, one_line
from attention_visual.storage.durable.atomic import atomic_write_text, atomic_write_with
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BATCH_DIR = "batch"
"""The batch view's folder inside ``report/``."""
STATS_FILE = "stats.parquet"
STATS_KEY_FILE = "stats.json"
BATCH_VIEW_VERSION = 3
"""Bumped when the batch view's content changes, so older cached parts are redone."""
#: Columns of the page's table (``video``, labels, then the step-averaged statistics averaged over frames).
TABLE_MEASURES = ("mass", "peak", "entropy", "spread", "mask_area")
TABLE_COLUMNS = ("video_id", "model", "prompt_index", "seed", "word", *TABLE_MEASURES)
#: A seed group's key: ``(model name, prompt_index)``; the name is ``""`` in manifests older than the field.
GroupKey = tuple[str, int]


def group_key(record: VideoRecord) -> GroupKey:
    """The seed group of a video: its model's and its prompt's (the seeds of one prompt through one model)."""
    return (record.model_name or "", record.prompt_index)


def group_label(key: GroupKey, several: bool) -> str:
    """``prompt 2``, or ``tiny-ltx · prompt 2`` when the batch has ``several`` models."""
    model, prompt = key
    return f"{model} · prompt {prompt}" if several and model else f"prompt {prompt}"


@dataclass
class Trajectory:
    """One video's centroid path of a word: ``points`` ``(x, y, first video frame)`` per latent frame."""

    video_id: str
    seed: int
    points: list[tuple[float, float, int]]
    poster: str | None = None


@dataclass
class SeedGroup:
    """One word over the seeds of one prompt (through one model): its seed grid sprite and each seed's centroid path.

    ``label`` names the group on the page (:func:`group_label`).
    """

    prompt_index: int
    label: str
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


@dataclass(frozen=True)
class Member:
    """A video of a seed group: its record and assets."""

    record: VideoRecord
    assets: VideoAssets


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
    table = averaged.groupby(
        ["video_id", "model", "prompt_index", "seed", "word"], as_index=False, sort=True, dropna=False
    )[list(TABLE_MEASURES)].mean()
    return [[_number(v) for v in row] for row in table[list(TABLE_COLUMNS)].itertuples(index=False)]


def _combined(report_dir: Path, target: Path, old: dict[str, Any], new: dict[str, Any]) -> Any:
    """The combined table (pyarrow) of ``new["videos"]``: the old file less the changed videos, plus theirs.

    Reading a thousand small files costs seconds; after one more video only its file and the old table are
    read. Rows stay in video order, each video's in its own order (a stable sort), as
    :func:`attention_visual.analysis.write_stats` writes them.
    """
    from attention_visual.analysis.table import stats_schema
    from attention_visual.extras import import_from_extra

    pa = import_from_extra("pyarrow", "analysis")
    pc = import_from_extra("pyarrow.compute", "analysis")
    pq = import_from_extra("pyarrow.parquet", "analysis")
    before = {vid: stamp for vid, stamp in old.get("videos", [])}
    after = {vid: stamp for vid, stamp in new["videos"]}
    changed = [vid for vid, stamp in after.items() if before.get(vid, -1) != stamp]
    gone = set(before) - set(after)
    tables = []
    if old.get("version") == new["version"] and target.is_file() and len(changed) + len(gone) < len(after) / 2:
        kept = pq.read_table(target)
        tables.append(kept.filter(pc.invert(pc.is_in(kept["video_id"], value_set=pa.array([*changed, *gone])))))
    else:
        changed = list(after)
    tables += [pq.read_table(video_dir(report_dir, vid) / VIDEO_STATS_FILE) for vid in changed]
    if not tables:
        return stats_schema().empty_table()
    try:
        return pa.concat_tables(tables).sort_by("video_id")
    except pa.ArrowInvalid:  # an old table of another schema: start again from the videos' files
        parts = [pq.read_table(video_dir(report_dir, vid) / VIDEO_STATS_FILE) for vid in after]
        return pa.concat_tables(parts).sort_by("video_id")


def _stats_table(members: list[Member], out: Path, view: BatchView) -> pd.DataFrame | None:
    """The statistics table of ``members`` (finished captures): ``batch/stats.parquet``, updated when stale."""
    try:
        from attention_visual.extras import import_from_extra

        pd = import_from_extra("pandas", "analysis")
        pq = import_from_extra("pyarrow.parquet", "analysis")
    except AttentionVisualError as exc:
        log.warning("no statistics table in the report: %s", one_line(exc))
        view.stats_error = one_line(exc)
        return None
    with_stats = sorted((m for m in members if m.assets.stats is not None), key=lambda m: m.record.video_id)
    key = {"version": BATCH_VIEW_VERSION, "videos": [[m.record.video_id, m.assets.key.get("maps")] for m in with_stats]}
    target = out / STATS_FILE
    cached = read_json(out / STATS_KEY_FILE) or {}
    if cached.get("key") != key or cached.get("files") != file_sizes(target):
        old = cached.get("key") if cached.get("files") == file_sizes(target) else None
        table = _combined(out.parent, target, old if isinstance(old, dict) else {}, key)

        def write(fh: IO[bytes]) -> None:
            pq.write_table(table, fh, compression="zstd")

        atomic_write_with(target, write, sync=False)
        atomic_write_text(out / STATS_KEY_FILE, json.dumps({"key": key, "files": file_sizes(target)}) + "\n")
    stats = pd.read_parquet(target)
    view.stats_file = _link(f"{BATCH_DIR}/{STATS_FILE}")
    view.rows = summary_rows(stats)
    return stats


def _path(member: Member, word: str) -> Trajectory:
    found = member.assets.words[word]
    points = [(float(x), float(y), int(f)) for x, y, f in (found.path or [])]
    return Trajectory(member.record.video_id, member.record.seed, points, member.assets.poster)


def _group_key(members: Sequence[Member], word: str, look: tuple[str, str]) -> dict[str, Any]:
    return {
        "version": BATCH_VIEW_VERSION,
        "look": list(look),
        "word": word,
        "videos": [[m.record.video_id, m.assets.key.get("maps")] for m in members],
    }


class _Readers:
    """One :class:`AttentionAnalyzer` per store root, so a video's file index is built once for all its words."""

    def __init__(self, batch_dir: Path) -> None:
        self.batch_dir = batch_dir
        self._analyzers: dict[Path, AttentionAnalyzer] = {}

    def get(self, record: VideoRecord) -> AttentionAnalyzer | None:
        root = maps_root(self.batch_dir, record)
        return None if root is None else self._analyzers.setdefault(root, AttentionAnalyzer(root))

    def release(self, records: Sequence[VideoRecord]) -> None:
        """Forget these videos' indexes (memory stays flat over a large batch)."""
        for analyzer in self._analyzers.values():
            for record in records:
                analyzer.release(record.video_id)


def _make_group(
    readers: _Readers, members: Sequence[Member], word: str, png: Path, look: tuple[str, str]
) -> dict[str, Any]:
    """Read the seeds' maps of ``word``, write the seed grid; return its cache entry (without the key)."""
    prompt = members[0].record.prompt_index  # one model's seeds of one prompt (see group_key)
    acc = SeedAccumulator(word, prompt_index=prompt, keep_steps=True)
    for m in members:
        analyzer = readers.get(m.record)
        if analyzer is None:
            continue
        metas, _, data = read_word_stack(analyzer, m.record.video_id, word)  # maps [entry, frame, y, x]
        stack, averaged = np.asarray(data.maps[:-1], np.float32), np.asarray(data.maps[-1], np.float32)
        acc.add(m.record.video_id, m.record.seed, prompt, stack, averaged, metas)
    seeds = acc.view()
    info = write_seed_grid(seeds, png, *look)
    unit, constant = unit_maps(seeds.averaged)
    dims = seeds.metadata[0].video_dimensions
    np_file = png.with_suffix(".npy")

    def save(fh: IO[bytes]) -> None:
        np.save(fh, unit.sum(axis=0), allow_pickle=False)  # [cell] float64

    atomic_write_with(np_file, save, sync=False)
    return {
        "info": info.to_dict(),
        "size": [dims.width, dims.height, dims.fps],
        "pool": {"steps": list(seeds.steps), "grid": list(seeds.averaged.shape[1:]), "n": int((~constant).sum())},
        "videos": len(seeds.video_ids),
    }


def _group(
    readers: _Readers, out: Path, members: Sequence[Member], word: str, look: tuple[str, str]
) -> tuple[dict[str, Any], Path]:
    """The cache entry of one seed group, made again only when its key changed; and its PNG."""
    model, prompt = group_key(members[0].record)
    of_model = f"_{model}" if members[0].record.model else ""  # a comparison's videos: the model's group
    png = out / "seeds" / f"{word_dir_name(word)}{of_model}_prompt_{prompt:03d}.png"
    key = _group_key(members, word, look)
    cached = read_json(png.with_suffix(".json"))
    if (
        cached is not None
        and cached.get("key") == key
        and cached.get("files") == file_sizes(png, png.with_suffix(".npy"))
    ):
        return cached, png
    entry = {"key": key, **_make_group(readers, members, word, png, look)}
    entry["files"] = file_sizes(png, png.with_suffix(".npy"))
    atomic_write_text(png.with_suffix(".json"), json.dumps(entry) + "\n", sync=False)  # checked as assets.json
    return entry, png


def _pool(word: str, entries: list[tuple[dict[str, Any], Path]], into: WordBatch) -> None:
    """The word's consistency across the prompts, from each group's summed unit maps."""
    first = entries[0][0]["pool"]
    total: np.ndarray | None = None
    count = videos = 0
    for entry, png in entries:
        pool = entry["pool"]
        if pool["steps"] != first["steps"] or pool["grid"] != first["grid"]:
            into.across_error = (
                f"cannot pool {word!r} over prompts with different maps: steps {pool['steps']} on a "
                f"{tuple(pool['grid'])} grid against steps {first['steps']} on a {tuple(first['grid'])} grid"
            )
            return
        summed = read_cells(png.with_suffix(".npy"), pool["grid"])  # [cell] float64
        if summed is None:
            into.across_error = f"the report's cache {png.with_suffix('.npy')} is damaged: delete it and run again"
            return
        total = summed if total is None else total + summed
        count += int(pool["n"])
        videos += int(entry["videos"])
    assert total is not None
    value = consistency_of_sum(total, count)
    into.across_consistency = None if math.isnan(value) else value
    into.across_videos = videos
    into.across_prompts = len(entries)


def _atlas(word: str, members: list[Member], out: Path) -> str | None:
    """The word's atlas: each video's block × head values (from its assets) averaged; drawn when they changed."""
    sums: dict[str, np.ndarray] = {}
    blocks: list[str] = []
    count = 0
    for m in members:
        atlas = m.assets.words[word].atlas
        if atlas is None:
            continue
        values = {name: np.asarray(atlas["values"][name], dtype=np.float64) for name in ATLAS_MEASURES}
        if sums and values[ATLAS_MEASURES[0]].shape != sums[ATLAS_MEASURES[0]].shape:
            continue  # [block, head] of another shape than the first video's
        for name, value in values.items():
            sums[name] = sums[name] + value if name in sums else value
        blocks = blocks or list(atlas["blocks"])
        count += 1
    if not count:
        return None
    means = {name: total / count for name, total in sums.items()}
    relative = f"{BATCH_DIR}/atlas/{word_dir_name(word)}.png"
    png = out.parent / relative
    key = {
        "version": BATCH_VIEW_VERSION,
        "blocks": blocks,
        "videos": count,
        **{k: v.tolist() for k, v in means.items()},
    }
    if read_json(png.with_suffix(".json")) != key or not png.is_file():
        write_atlas(means, blocks, word, count, png)
        atomic_write_text(png.with_suffix(".json"), json.dumps(key) + "\n")
    return _link(relative)


def _word_batch(
    out: Path,
    word: str,
    by_prompt: dict[GroupKey, list[Member]],
    made: dict[GroupKey, tuple[dict[str, Any], Path] | str],
    stats: pd.DataFrame | None,
    in_stats: set[str],
) -> WordBatch:
    """One word of the view from its seed groups (``made``: each group's cache entry or error)."""
    entry = WordBatch(word=word)
    entries = []
    several = len({model for model, _ in by_prompt}) > 1
    for key in sorted(by_prompt):
        found, label = made[key], group_label(key, several)
        if isinstance(found, str):
            entry.errors.append(f"{label}: {found}")
            continue
        cached, png = found
        entries.append(found)
        width, height, fps = cached["size"]
        group = SeedGroup(
            key[1], label, _link(png.relative_to(out.parent).as_posix()), SeedGridInfo.from_dict(cached["info"]),
            int(width), int(height), float(fps), [_path(m, word) for m in by_prompt[key]],
        )  # fmt: skip
        entry.groups.append(group)
    if entries and not several:  # across prompts; a comparison's groups are different models, never pooled
        _pool(word, entries, entry)
    if stats is not None and word in in_stats:
        relative = f"{BATCH_DIR}/curves/{word_dir_name(word)}.svg"
        write_if_changed(out.parent / relative, curves_svg(stats, word))
        entry.curves = _link(relative)
    entry.atlas = _atlas(word, [m for ms in by_prompt.values() for m in ms], out)
    return entry


def _seed_grids(
    batch_dir: Path, out: Path, groups: dict[str, dict[GroupKey, list[Member]]], look: tuple[str, str]
) -> dict[str, dict[GroupKey, tuple[dict[str, Any], Path] | str]]:
    """Every seed group's cache entry (made when stale) or error, group by group: each video is indexed once."""
    readers = _Readers(batch_dir)
    made: dict[str, dict[GroupKey, tuple[dict[str, Any], Path] | str]] = {word: {} for word in groups}
    for key in sorted({k for by_prompt in groups.values() for k in by_prompt}):
        records = []
        for word, by_prompt in groups.items():
            if key not in by_prompt:
                continue
            records += [m.record for m in by_prompt[key]]
            try:
                made[word][key] = _group(readers, out, by_prompt[key], word, look)
            except AttentionVisualError as exc:
                log.warning("no seed grid of %r in %s: %s", word, group_label(key, True), one_line(exc))
                made[word][key] = one_line(exc)
        readers.release(records)
    return made


def seed_groups(view: ReportView, assets: dict[str, VideoAssets | None]) -> dict[str, dict[GroupKey, list[Member]]]:
    """``{word: {(model, prompt_index): [Member]}}``: each word's finished captures with a map, by model and
    prompt (:func:`group_key`; one pass).

    Words are in first-marked order, videos in batch order.
    """
    groups: dict[str, dict[GroupKey, list[Member]]] = {}
    for video in view.videos:
        found = assets.get(video.record.video_id)
        if found is None or not found.complete:
            continue
        for word in video.record.words:
            w = found.words.get(word)
            if w is not None and w.sprite is not None:
                groups.setdefault(word, {}).setdefault(group_key(video.record), []).append(Member(video.record, found))
    return groups


def build_batch_view(
    view: ReportView,
    assets: dict[str, VideoAssets | None],
    report_dir: Path,
    look: tuple[str, str],
) -> BatchView:
    """The batch view of ``view`` from its videos' ``assets``, redoing only its stale parts (module docstring).

    A word whose maps cannot be read gets its error instead of its views; nothing here raises for one
    bad word or a missing optional dependency.
    """
    out = report_dir / BATCH_DIR
    batch = BatchView()
    members = [
        Member(v.record, found)
        for v in view.videos
        if (found := assets.get(v.record.video_id)) is not None and found.complete
    ]
    stats = _stats_table(members, out, batch)
    in_stats = {str(w) for w in stats["word"].unique()} if stats is not None else set()
    groups = seed_groups(view, assets)
    made = _seed_grids(view.batch_dir, out, groups, look)
    for word, by_prompt in groups.items():
        try:
            batch.words.append(_word_batch(out, word, by_prompt, made[word], stats, in_stats))
        except AttentionVisualError as exc:
            log.warning("no batch view of %r: %s", word, one_line(exc))
            batch.words.append(WordBatch(word=word, errors=[one_line(exc)]))
    return batch


__all__ = [
    "BATCH_DIR",
    "TABLE_COLUMNS",
    "BatchView",
    "GroupKey",
    "Member",
    "SeedGroup",
    "Trajectory",
    "WordBatch",
    "build_batch_view",
    "group_key",
    "group_label",
    "seed_groups",
    "summary_rows",
]

"""One video's report assets: made once, when the video is finished, by a call a worker process can make.

:func:`build_video_assets` reads the video's maps once and writes everything of the report that depends on
them, under ``report/maps/<video_id>/``::

    <word_dir>.png       the word's map sprite (:mod:`.images`)
    poster.jpg           the generated video's first frame (what the batch view draws centroid paths over)
    stats.parquet        the video's rows of the statistics table (with the ``analysis`` extra; finished captures)
    assets.json          what the page needs: sprite layouts, the words' curves over steps and frames, the
                         centroid paths, the block × head values, and the key the assets were made from

``assets.json`` is written last and lists the others with their sizes. Every file is written atomically
but none is fsynced (~3–8 ms each on a busy disk): all can be made again from the batch, and after a
power cut a record that is empty or torn does not parse, an older one has another key and a file of
another size than its record's is noticed, so the assets are made again. Calling it again is cheap
and changes nothing while the key holds (the look, the newest file time of the video's maps, whether
its capture finished, the generated video's size and time) and the files are intact; otherwise the
assets are made again. It needs no other video and reads only this video's record (pass it to skip
that read), so its cost does not grow with the batch. The page is then put together from these files in seconds
(:func:`attention_visual.report.build.assemble`).

Example:
    >>> assets = build_video_assets("outputs/batch", "prompt_001_vid_001")       # doctest: +SKIP
    >>> sorted(assets.words), assets.poster                                    # doctest: +SKIP
    (['flowers', 'kiss'], 'maps/prompt_001_vid_001/poster.jpg')
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import numpy as np

from attention_visual.analysis.measures import PixelGeometry, map_measures
from attention_visual.analysis.seeds import pass_name
from attention_visual.analysis.source import VideoData, VideoLabels, WordData, read_word
from attention_visual.errors import AttentionDataError, AttentionVisualError, NotFoundError, StorageError
from attention_visual.render.encoder import ffmpeg_exe
from attention_visual.report.batch_images import ATLAS_MEASURES, block_head_maps
from attention_visual.report.collect import MAPS_DIR, REPORT_DIR, find_record
from attention_visual.report.disk import read_json
from attention_visual.report.images import SpriteInfo, sprite_from_stack
from attention_visual.report.look import resolve_look
from attention_visual.storage import word_dir_name
from attention_visual.storage.backend import find_maps
from attention_visual.storage.batch.manifest import VideoRecord, one_line
from attention_visual.storage.durable.atomic import (
    TMP_MARKER,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_with,
    publish,
)
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.comparison import METRICS, temporal_metrics

log = logging.getLogger(__name__)

ASSETS_VERSION = 2
"""Bumped when the assets' content changes, so older ones are made again."""
ASSETS_FILE = "assets.json"
POSTER_FILE = "poster.jpg"
VIDEO_STATS_FILE = "stats.parquet"
POSTER_WIDTH = 320
"""Posters are scaled down to at most this many pixels wide."""
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


@dataclass
class WordAssets:
    """One word's assets (links relative to the report folder).

    Attributes:
        word: The word (original text).
        sprite: Link to its sprite, None when it could not be made (``error`` says why).
        info: The sprite's layout and labels.
        error: Why there is no sprite.
        unreadable: The error, one line naming the file, when a map file could not be read (damaged,
            refused, an I/O fault), rather than never stored.
        metrics: Its curves: ``{"steps": [0-based step], "by_step": {measure: [step]}, "by_frame": {measure:
            [frame]}}`` for :data:`attention_visual.visualization.comparison.METRICS` (NaN as None).
        path: The step-averaged map's centroid per latent frame: ``[x, y, first video frame]`` in video pixels.
        atlas: ``{"blocks": [name], "values": {measure: [block][head]}}`` when blocks or heads were stored.
        steps: The stored step indices (0-based), to tell whether videos can be pooled.
        grid: The ``[frame, y, x]`` token grid.
    """

    word: str
    sprite: str | None = None
    info: SpriteInfo | None = None
    error: str | None = None
    unreadable: str | None = None
    metrics: dict[str, Any] | None = None
    path: list[list[float]] | None = None
    atlas: dict[str, Any] | None = None
    steps: list[int] = field(default_factory=list)
    grid: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordAssets:
        info = data.get("info")
        return cls(**{**data, "info": SpriteInfo.from_dict(info) if info is not None else None})


@dataclass
class VideoAssets:
    """Everything :func:`build_video_assets` made for one video (see the module docstring).

    Attributes:
        video_id: The video.
        key: What the assets were made from (compared on the next call).
        complete: Its capture finished (only finished captures count in the statistics and seed views).
        words: ``{word: WordAssets}`` in the store's (sorted) order.
        error: Why there is nothing (no maps stored), else None.
        unreadable: The error, one line naming the file, when the video's maps could not be read at all.
        poster: Link to the poster frame, None without a generated video.
        stats: Link to the video's statistics rows, None when not made (``stats_error`` says why).
        stats_error: Why there are no statistics rows.
        width: The generated video's width in pixels (from the maps' metadata; 0 when unknown).
        height: Its height.
        fps: Its frame rate.
        files: ``{file name: size}`` of the files made (checked before the assets are reused).
    """

    video_id: str
    key: dict[str, Any]
    complete: bool = False
    words: dict[str, WordAssets] = field(default_factory=dict)
    error: str | None = None
    unreadable: str | None = None
    poster: str | None = None
    stats: str | None = None
    stats_error: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    files: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoAssets:
        words = {w: WordAssets.from_dict(v) for w, v in data["words"].items()}
        return cls(**{**data, "words": words})

    def unreadable_maps(self) -> list[str]:
        """One line per map file of the video that could not be read (see ``unreadable``)."""
        found = [self.unreadable] + [w.unreadable for w in self.words.values()]
        return [line for line in found if line is not None]


def unreadable(exc: AttentionVisualError) -> str | None:
    """``exc`` as one line when a map file could not be read (damaged, refused, an I/O fault), else None
    (a map that was never stored: :class:`NotFoundError`)."""
    if isinstance(exc, AttentionDataError | StorageError) and not isinstance(exc, NotFoundError):
        return " ".join(str(exc).split())
    return None


def check_video_id(video_id: str) -> str:
    """``video_id`` when it is a safe file name (it names a folder of the report), else AttentionDataError."""
    if not _SAFE_ID.fullmatch(video_id) or ".." in video_id:
        raise AttentionDataError(f"not a video id: {video_id!r}")
    return video_id


def video_dir(report_dir: Path, video_id: str) -> Path:
    """``report/maps/<video_id>``: the folder of a video's assets."""
    return report_dir / MAPS_DIR / check_video_id(video_id)


def _link(relative: str) -> str:
    return quote(relative, safe="/")


def newest_mtime_ns(folder: Path) -> int:
    """The newest modification time (ns) of the files under ``folder`` (0 when there are none)."""
    if not folder.is_dir():
        return 0
    return max((p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()), default=0)


def _file_key(path: Path | None) -> list[int] | None:
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def read_video_assets(report_dir: Path, video_id: str) -> VideoAssets | None:
    """The video's ``assets.json``, or None when it is missing or unreadable (a file on disk is hostile)."""
    path = video_dir(report_dir, video_id) / ASSETS_FILE
    data = read_json(path)
    if data is None:
        return None
    try:
        assets = VideoAssets.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return assets if assets.video_id == video_id else None


def intact(report_dir: Path, assets: VideoAssets) -> bool:
    """True when every file ``assets`` lists is there with its recorded size."""
    folder = video_dir(report_dir, assets.video_id)
    for name, size in assets.files.items():
        try:
            if "/" in name or (folder / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def current_assets(report_dir: Path, video_id: str, key: dict[str, Any]) -> VideoAssets | None:
    """The video's assets when they were made from ``key`` and their files are intact, else None."""
    found = read_video_assets(report_dir, video_id)
    return found if found is not None and found.key == key and intact(report_dir, found) else None


def maps_root(batch_dir: Path, record: VideoRecord) -> Path | None:
    """The store holding the video's maps (the batch's one layout: :func:`~attention_visual.storage.open_maps`),
    None when it has none."""
    store = find_maps(batch_dir)
    has_maps = bool(record.paths.attention_maps) and store is not None and store.has_video(record.video_id)
    return store.root if has_maps and store is not None else None


def assets_key(
    batch_dir: Path, record: VideoRecord, colormap: str, normalization: str
) -> tuple[dict[str, Any], AttentionAnalyzer | None]:
    """``(key, analyzer of its maps or None)``: what :func:`build_video_assets` compares to reuse assets."""
    root = maps_root(batch_dir, record)
    analyzer = AttentionAnalyzer(root) if root is not None else None
    video = batch_dir / record.paths.video if record.paths.video else None
    key = {
        "version": ASSETS_VERSION,
        "colormap": colormap,
        "normalization": normalization,
        "maps": newest_mtime_ns(analyzer.video_folder(record.video_id)) if analyzer is not None else None,
        "complete": analyzer.is_complete(record.video_id) if analyzer is not None else False,
        "video": _file_key(video),
        "labels": [record.prompt_index, record.video_index],
    }
    return key, analyzer


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in np.asarray(values, dtype=np.float64)]


def _metrics(stack: np.ndarray, analyzer: AttentionAnalyzer, metas: list[MapMetadata]) -> dict[str, Any]:
    steps = [m.step_index if m.step_index is not None else i for i, m in enumerate(metas)]
    found = temporal_metrics(stack, analyzer.frame_weights(metas[0]), steps)
    return {
        "steps": steps,
        "by_step": {m: _none_if_nan(found.by_step[m]) for m in METRICS},
        "by_frame": {m: _none_if_nan(found.by_frame[m]) for m in METRICS},
    }


def _path(word: WordData) -> list[list[float]]:
    """The step-averaged map's centroid per latent frame, ``[x, y, first video frame]`` (the stats' definition)."""
    dims = word.metadata.video_dimensions
    ny, nx = word.maps.shape[-2:]
    measures = map_measures(word.maps[-1:], PixelGeometry(height=dims.height, width=dims.width, ny=ny, nx=nx))
    ranges = word.metadata.latent_to_video_frames
    points = []
    for f, (x, y) in enumerate(zip(measures["centroid_x"][0], measures["centroid_y"][0], strict=True)):
        if np.isfinite(x) and np.isfinite(y):
            points.append([round(float(x), 2), round(float(y), 2), int(ranges[f][0]) if f < len(ranges) else 0])
    return points


def _atlas(analyzer: AttentionAnalyzer, video_id: str, word: WordData) -> dict[str, Any] | None:
    """The video's block × head values of ``word`` (:data:`ATLAS_MEASURES`, mean over latent frames), or None."""
    if not {"block", "head"} & set(word.metadata.axes):
        return None
    found = block_head_maps(analyzer, video_id, word.word)
    if found is None:
        return None
    maps, blocks = found  # [block, head, frame, y, x]
    dims = word.metadata.video_dimensions
    geometry = PixelGeometry(height=dims.height, width=dims.width, ny=maps.shape[-2], nx=maps.shape[-1])
    measures = map_measures(maps, geometry)  # {name: [block, head, frame]}
    values = {name: np.asarray(measures[name], dtype=np.float64).mean(axis=-1).tolist() for name in ATLAS_MEASURES}
    return {"blocks": list(blocks), "values": values}


def _poster_is_fresh(video: Path, poster: Path) -> bool:
    try:
        return poster.stat().st_size > 0 and poster.stat().st_mtime_ns >= video.stat().st_mtime_ns
    except OSError:
        return False


_POSTER_OUT = ("-frames:v", "1", "-vf", f"scale=min({POSTER_WIDTH}\\,iw):-2", "-c:v", "mjpeg", "-q:v", "5")


def make_posters(pairs: Sequence[tuple[Path, Path]], chunk: int = 32) -> None:
    """Write the first frame of each ``(video, poster.jpg)``, one ffmpeg process per ``chunk`` videos.

    Starting ffmpeg costs ~50 ms, more than decoding one frame: a report of many videos makes their
    posters this way first (:func:`build_video_assets` then keeps them). A chunk that fails is left to
    :func:`build_video_assets`, which makes its posters one by one and says which one fails.
    """
    for start in range(0, len(pairs), chunk):
        part = [(v, p) for v, p in pairs[start : start + chunk] if v.is_file()]
        if not part:
            continue
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
        for video, _ in part:
            cmd += ["-i", str(video)]
        temporaries = []
        for n, (_, poster) in enumerate(part):
            poster.parent.mkdir(parents=True, exist_ok=True)
            tmp = poster.with_name(f".{poster.name}{TMP_MARKER}bulk.jpg")
            temporaries.append((tmp, poster))
            cmd += ["-map", f"{n}:v:0", *_POSTER_OUT, "-f", "image2", "-update", "1", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
        for tmp, poster in temporaries:
            if done.returncode == 0 and tmp.is_file() and tmp.stat().st_size > 0:
                publish(tmp, poster)
            else:
                tmp.unlink(missing_ok=True)


def _poster(video: Path, output: Path) -> None:
    """Write the first frame of ``video`` as a JPEG at most :data:`POSTER_WIDTH` wide, unless a fresh one exists."""
    if _poster_is_fresh(video, output):
        return
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(video), *_POSTER_OUT, "-f", "image2pipe", "-"]
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=120)
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AttentionDataError(f"no poster frame from {video.name}: {message[-1] if message else 'no frame'}")
    atomic_write_bytes(output, done.stdout, sync=False)


def _write_stats(words: list[WordData], record: VideoRecord, output: Path) -> None:
    """The video's statistics rows (:func:`attention_visual.analysis.video_stats`) as Parquet."""
    from attention_visual.analysis.table import video_stats
    from attention_visual.extras import import_from_extra

    pq = import_from_extra("pyarrow.parquet", "analysis")
    pa = import_from_extra("pyarrow", "analysis")
    batch = video_stats(
        VideoData(
            record.video_id, VideoLabels(record.prompt_index, record.video_index, record.model_name), tuple(words)
        )
    )

    def write(fh: IO[bytes]) -> None:
        pq.write_table(pa.Table.from_batches([batch]), fh, compression="zstd")

    atomic_write_with(output, write, sync=False)


def read_word_stack(analyzer: AttentionAnalyzer, video_id: str, word: str) -> tuple[list[MapMetadata], str, WordData]:
    """``(step metadata, guidance pass, maps)`` of one word: its steps then step average, each map read once.

    The ``cond`` pass when stored, else the stored one (:func:`attention_visual.analysis.seeds.pass_name`).

    Raises:
        NotFoundError: The word has no stored steps.
        AttentionDataError: A map is unreadable.
    """
    try:
        data = read_word(analyzer, video_id, word, "cond")  # maps [entry, frame, y, x]
        return list(data.step_metadata), "cond", data
    except NotFoundError:  # no steps, or no cond pass (guidance_pass: uncond): then the stored pass
        metas = analyzer.step_metadata(video_id, word)
        if not metas:
            raise
    chosen = pass_name(metas[0].passes)
    data = read_word(analyzer, video_id, word, chosen)
    return list(data.step_metadata), chosen, data


def _word_assets(
    analyzer: AttentionAnalyzer, video_id: str, word: str, folder: Path, look: tuple[str, str]
) -> tuple[WordAssets, WordData | None]:
    entry = WordAssets(word=word)
    try:
        metas, chosen, data = read_word_stack(analyzer, video_id, word)  # maps: the steps, then the average
        stack = np.asarray(data.maps[:-1], dtype=np.float32)  # [step, frame, y, x]
        name = f"{word_dir_name(word)}.png"
        entry.info = sprite_from_stack(stack, metas, folder / name, *look, pass_name=chosen)
        entry.sprite = _link(f"{MAPS_DIR}/{video_id}/{name}")
        entry.metrics = _metrics(stack, analyzer, metas)
        entry.path = _path(data)
        entry.atlas = _atlas(analyzer, video_id, data)
        entry.steps = [int(s) for s in data.steps[:-1]]
        entry.grid = [int(n) for n in stack.shape[1:]]
        return entry, data
    except AttentionVisualError as exc:
        log.warning("no map for %r of %s: %s", word, video_id, one_line(exc))
        entry.error, entry.unreadable = one_line(exc), unreadable(exc)
        return entry, None


def _make(
    batch_dir: Path,
    record: VideoRecord,
    analyzer: AttentionAnalyzer | None,
    folder: Path,
    key: dict[str, Any],
    look: tuple[str, str],
) -> VideoAssets:
    video_id = record.video_id
    assets = VideoAssets(video_id=video_id, key=key, complete=bool(key["complete"]))
    video = batch_dir / record.paths.video if record.paths.video else None
    if video is not None and video.is_file():
        try:
            _poster(video, folder / POSTER_FILE)
            assets.poster = _link(f"{MAPS_DIR}/{video_id}/{POSTER_FILE}")
        except (AttentionVisualError, OSError, subprocess.SubprocessError) as exc:
            log.warning("no poster of %s: %s", video_id, one_line(exc))
    if analyzer is None:
        assets.error = "no maps stored" if record.status == "done" else f"no maps ({record.status})"
        return assets
    read: list[WordData] = []
    for word in analyzer.get_available_words(video_id):
        entry, data = _word_assets(analyzer, video_id, word, folder, look)
        assets.words[word] = entry
        if data is not None:
            read.append(data)
            dims = data.metadata.video_dimensions
            assets.width, assets.height, assets.fps = dims.width, dims.height, dims.fps
    analyzer.release(video_id)
    if not assets.complete:
        assets.stats_error = "the capture did not finish"
    elif len(read) < len(assets.words):
        assets.stats_error = "a word's maps could not be read"
    elif read:
        try:
            _write_stats(read, record, folder / VIDEO_STATS_FILE)
            assets.stats = _link(f"{MAPS_DIR}/{video_id}/{VIDEO_STATS_FILE}")
        except AttentionVisualError as exc:  # e.g. the analysis extra is not installed
            assets.stats_error = one_line(exc)
    return assets


def _made_files(folder: Path, assets: VideoAssets) -> dict[str, int]:
    """``{name: size}`` of the files ``assets`` links to."""
    names = [f"{word_dir_name(w.word)}.png" for w in assets.words.values() if w.sprite is not None]
    names += [POSTER_FILE] if assets.poster else []
    names += [VIDEO_STATS_FILE] if assets.stats else []
    return {name: (folder / name).stat().st_size for name in names}


def build_video_assets(
    batch_dir: Path | str,
    video_id: str,
    *,
    record: VideoRecord | None = None,
    report_dir: Path | str | None = None,
    colormap: str | None = None,
    normalization: str | None = None,
) -> VideoAssets:
    """Make (or reuse) the report assets of one video of ``batch_dir``; see the module docstring.

    Safe to call from a worker process (spawn or forkserver) while the batch goes on, and again at any
    time: it only reads the batch and writes under ``report_dir/maps/<video_id>/``, atomically.

    Args:
        batch_dir: The batch folder.
        video_id: The video (``prompt_001_vid_001``).
        record: Its record when the caller has it (else read from its status file or the manifest).
        report_dir: The report's folder (default ``BATCH_DIR/report``).
        colormap: Of the sprites; default the batch config's, else ``hot``.
        normalization: Of the sprites; default the batch config's, else ``global``.

    Raises:
        NotFoundError: Not a batch folder, or no such video.
        AttentionDataError: An unreadable manifest, or a video id that is not a file name.
        RenderError: Unknown colormap.
        ConfigError: Unknown normalisation.
        OSError: A file cannot be written (read-only folder, disk full...).
    """
    batch_dir = Path(batch_dir)
    report_dir = Path(report_dir) if report_dir is not None else batch_dir / REPORT_DIR
    folder = video_dir(report_dir, video_id)
    look = resolve_look(batch_dir, colormap, normalization)
    record = record if record is not None else find_record(batch_dir, video_id)
    key, analyzer = assets_key(batch_dir, record, *look)
    cached = current_assets(report_dir, video_id, key)
    if cached is not None:
        return cached
    try:
        assets = _make(batch_dir, record, analyzer, folder, key, look)
    except (AttentionDataError, StorageError) as exc:  # an unreadable store folder: the assets say so
        log.warning("cannot read the maps of %s: %s", video_id, one_line(exc))
        assets = VideoAssets(video_id=video_id, key=key, error=one_line(exc), unreadable=unreadable(exc))
    assets.files = _made_files(folder, assets)
    atomic_write_text(folder / ASSETS_FILE, json.dumps(assets.to_dict(), ensure_ascii=False) + "\n", sync=False)
    return assets


__all__ = [
    "ASSETS_FILE",
    "ASSETS_VERSION",
    "POSTER_FILE",
    "VIDEO_STATS_FILE",
    "VideoAssets",
    "WordAssets",
    "assets_key",
    "build_video_assets",
    "check_video_id",
    "current_assets",
    "intact",
    "make_posters",
    "maps_root",
    "newest_mtime_ns",
    "read_video_assets",
    "read_word_stack",
    "unreadable",
    "video_dir",
]

"""How fast are the analysis tools on a large batch, in the files layout and packed?

Builds a synthetic batch in the files layout (default 200 videos × 3 words × 50 steps at the real
Wan2.1-1.3B grid 21 × 30 × 52, float16, compressed ``.npz``; no model), then measures side by side,
alternating, ``--repeats`` times, and prints medians:

* the I/O floor: open and decompress every map file of the files layout once (``np.load``);
* ``stats`` (:func:`attention_visual.analysis.write_stats` to Parquet) on the files layout — goal ≤ 1.5× the floor;
* ``stats`` on the packed store (``attention-visual pack``)                               — goal ≤ 0.5× the floor;
* reading one word's step-averaged maps of every video, packed vs files                   — goal ≥ 10× faster;
* peak memory of ``stats`` on all videos vs the first 20 (traced Python/numpy allocations, and the
  child process's peak RSS)                                                              — goal ≤ 1.2×;
* file counts of both layouts;
* the time of ``pack`` and, measured alone, of the value-by-value check it makes before it deletes the
  files layout (:func:`attention_visual.storage.backend.compare.differences`).

Usage::

    python benchmarks/analysis_speed.py [--videos 200] [--repeats 3] [--workdir DIR] [--reuse EARLIER/files]

``--reuse`` takes the files-layout batch of an earlier run (``<its workdir>/files``) instead of building
one (≈ 7 s per video): its videos are copied in turn until there are ``--videos`` of them, each copy under
its own id (``prompt_NNN_vid_NNN``) and seed, its maps re-saved through the store so their metadata, step
averages and completion mark name the new video (``check_video`` verifies them). 40 built videos can so
stand for 200.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from attention_visual.analysis import pack_batch, word_averages, write_stats
from attention_visual.storage import AttentionStore, LatentGrid, MapBackend, MapMetadata, VideoDimensions
from attention_visual.storage.backend import FILES, PACKED
from attention_visual.storage.backend.compare import differences
from attention_visual.storage.schema.frames import FrameRule, latent_to_video_frame_ranges
from attention_visual.visualization import AttentionAnalyzer

GRID = (21, 30, 52)  # [frame, y, x]: Wan2.1-1.3B at 832×480, 81 frames
WIDTH, HEIGHT, FRAMES = 832, 480, 81
STEPS = 50
WORDS = ("dog", "red car", "beach")


def word_maps(rng: np.random.Generator, video: int, word: int) -> np.ndarray:
    """``[step, frame, y, x]`` float32: a blob that drifts over the frames and sharpens over the steps, plus noise."""
    f, h, w = GRID
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = 8 + (video * 7 + word * 5) % 14, 10 + (video * 3 + word * 11) % 30
    out = np.empty((STEPS, f, h, w), dtype=np.float32)
    for s in range(STEPS):
        width = 40.0 - 30.0 * s / STEPS
        for k in range(f):
            out[s, k] = np.exp(-((y - cy) ** 2 + (x - cx - k / 2) ** 2) / width)
    out += rng.random(out.shape, dtype=np.float32) * 0.05
    return out / out.sum(axis=(-2, -1), keepdims=True)


def video_id_of(v: int) -> str:
    """The id of the ``v``-th video (0-based) of the synthetic batch: 10 videos per prompt."""
    return f"prompt_{v // 10 + 1:03d}_vid_{v % 10 + 1:03d}"


def build_batch(batch: Path, videos: int) -> None:
    store = AttentionStore(batch / "attention_maps", dtype="float16", compress=True)
    rng = np.random.default_rng(0)
    for v in range(videos):
        video_id = video_id_of(v)
        for i, word in enumerate(WORDS):
            stack = word_maps(rng, v, i)
            base = MapMetadata(
                video_id=video_id,
                token_word=word,
                shape=GRID,
                dtype="float16",
                axes=("frame", "y", "x"),
                num_steps=STEPS,
                steps_used=tuple(range(STEPS)),
                step_index=None,
                aggregation_method="mean_over_steps",
                video_dimensions=VideoDimensions(width=WIDTH, height=HEIGHT, fps=16.0, frames=FRAMES),
                token_grid=LatentGrid(*GRID),
                latent_to_video_frames=latent_to_video_frame_ranges(GRID[0], FrameRule(4)),
                marked_prompt="a (dog) near a (red car) on the (beach)",
                seed=v,
            )
            for s in range(STEPS):
                meta = dataclasses.replace(
                    base,
                    step_index=s,
                    steps_used=(s,),
                    aggregation_method="per_step",
                    timestep=1000.0 * (1 - s / STEPS),
                    sigma=1.0 - s / STEPS,
                )
                store.save_step(meta, stack[s])
            store.save_aggregated(base, stack.mean(axis=0))
        store.mark_complete(video_id, {"words": list(WORDS)})
        if (v + 1) % 20 == 0:
            print(f"  built {v + 1}/{videos} videos", file=sys.stderr)


def reuse_batch(source: Path, batch: Path, videos: int) -> None:
    """Fill ``batch`` with ``videos`` copies of ``source``'s finished videos, each with its own id and seed."""
    reader = AttentionAnalyzer(source / "attention_maps")
    originals = reader.get_available_videos(include_incomplete=False)
    if not originals:
        raise SystemExit(f"--reuse: no finished video in {source / 'attention_maps'}")
    store = AttentionStore(batch / "attention_maps", dtype="float16", compress=True)
    for v in range(videos):
        original, video_id = originals[v % len(originals)], video_id_of(v)
        words = reader.get_available_words(original)
        for word in words:
            for info in reader.load_all_steps(original, word):
                store.save_step(dataclasses.replace(info.metadata, video_id=video_id, seed=v), info.attention_map)
            average = reader.load_aggregated(original, word)
            store.save_aggregated(
                dataclasses.replace(average.metadata, video_id=video_id, seed=v), average.attention_map
            )
        reader.release(original)
        store.mark_complete(video_id, {"words": words})
        if (v + 1) % 20 == 0:
            print(f"  copied {v + 1}/{videos} videos", file=sys.stderr)


def io_floor(maps: Path) -> None:
    for path in maps.rglob("*.npz"):
        with np.load(path, allow_pickle=False) as npz:
            npz["attention"]


def read_aggregated(batch: Path, word: str) -> None:
    """One word's step averages of every video (``word_averages``)."""
    word_averages(batch, word)


def read_aggregated_analyzer(maps: Path, word: str) -> None:
    """The same through AttentionAnalyzer, one video at a time."""
    analyzer = AttentionAnalyzer(maps)
    for video_id in analyzer.get_available_videos():
        analyzer.load_aggregated(video_id, word)


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def traced_peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def child_peak_rss(batch: Path, output: Path) -> int:
    """Peak RSS (bytes) of a fresh process running ``write_stats(batch)``."""
    code = f"from attention_visual.analysis import write_stats; write_stats({str(batch)!r}, output={str(output)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"stats subprocess failed ({status})")
    return int(usage.ru_maxrss) * 1024


def subset(batch: Path, target: Path, videos: int) -> Path:
    """A batch folder whose attention_maps/ holds the first ``videos`` videos of ``batch`` (hard links to
    its files: readers refuse symbolic links inside a store)."""
    maps = target / "attention_maps"
    maps.mkdir(parents=True)
    for child in sorted((batch / "attention_maps").iterdir())[:videos]:
        shutil.copytree(child, maps / child.name, copy_function=os.link)
    return target


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the batch (default: a temp dir)")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="copy the videos of this files-layout batch (an earlier run's WORKDIR/files), ids rewritten, "
        "up to --videos",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="analysis_speed_", dir=args.workdir))
    files, packed = work / "files", work / "packed"
    started = time.perf_counter()
    if args.reuse is not None:  # the videos of a files-layout batch built by an earlier run, under new ids
        reuse_batch(args.reuse, files, args.videos)
    else:
        build_batch(files, args.videos)
    print(f"made {args.videos} videos x {len(WORDS)} words x {STEPS} steps at {GRID} in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
    subprocess.run(["cp", "-r", str(files), str(packed)], check=True)
    pack_s = timed(lambda: pack_batch(packed))
    maps_files, maps_packed = files / "attention_maps", packed / "attention_maps.zarr"
    check_s = timed(lambda: next(differences(MapBackend(FILES, maps_files), MapBackend(PACKED, maps_packed)), None))

    small_n = min(20, args.videos)
    small = subset(files, work / "small", small_n)
    write_stats(small, output=work / "warm.parquet")  # imports and caches out of the timings
    read_aggregated(packed, "dog")

    names = (
        "io_floor",
        "stats_files",
        "stats_packed",
        "agg_files",
        "agg_packed",
        "agg_files_analyzer",
        "agg_packed_analyzer",
    )
    runs: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeats):
        runs["io_floor"].append(timed(lambda: io_floor(maps_files)))
        runs["stats_files"].append(timed(lambda: write_stats(files, output=work / "s1.parquet")))
        runs["stats_packed"].append(timed(lambda: write_stats(packed, output=work / "s2.parquet")))
        runs["agg_files"].append(timed(lambda: read_aggregated(files, "dog")))
        runs["agg_packed"].append(timed(lambda: read_aggregated(packed, "dog")))
        runs["agg_files_analyzer"].append(timed(lambda: read_aggregated_analyzer(maps_files, "dog")))
        runs["agg_packed_analyzer"].append(timed(lambda: read_aggregated_analyzer(maps_packed, "dog")))
    med = {n: statistics.median(v) for n, v in runs.items()}

    peak_small = traced_peak(lambda: write_stats(small, output=work / "m1.parquet"))
    peak_all = traced_peak(lambda: write_stats(files, output=work / "m2.parquet"))
    rss_small = child_peak_rss(small, work / "r1.parquet")
    rss_all = child_peak_rss(files, work / "r2.parquet")

    mb = 1024 * 1024
    print(f"batch: {args.videos} videos x {len(WORDS)} words x {STEPS} steps, grid {GRID}, float16 npz (compressed)")
    print(
        f"repeats: {args.repeats} (medians; all runs: "
        + ", ".join(f"{n}={[round(t, 2) for t in runs[n]]}" for n in names)
        + ")"
    )
    print(f"I/O floor (open+decompress every .npz once): {med['io_floor']:.2f} s")
    print(
        f"stats, files layout:   {med['stats_files']:.2f} s = "
        f"{med['stats_files'] / med['io_floor']:.2f}x floor (goal <= 1.5)"
    )
    print(
        f"stats, packed store:  {med['stats_packed']:.2f} s = "
        f"{med['stats_packed'] / med['io_floor']:.2f}x floor (goal <= 0.5)"
    )
    print(
        f"one word's step averages, all videos: files {med['agg_files'] * 1000:.0f} ms, packed "
        f"{med['agg_packed'] * 1000:.0f} ms: packed {med['agg_files'] / med['agg_packed']:.1f}x faster (goal >= 10; "
        "word_averages(batch, word))"
    )
    print(
        f"  the same video by video through AttentionAnalyzer.load_aggregated: files "
        f"{med['agg_files_analyzer'] * 1000:.0f} ms, packed {med['agg_packed_analyzer'] * 1000:.0f} ms: "
        f"{med['agg_files_analyzer'] / med['agg_packed_analyzer']:.1f}x"
    )
    print(
        f"stats peak traced memory: {args.videos} videos {peak_all / mb:.1f} MB vs {small_n} videos "
        f"{peak_small / mb:.1f} MB = {peak_all / peak_small:.2f}x (goal <= 1.2)"
    )
    print(
        f"stats peak RSS (fresh process): {rss_all / mb:.0f} MB vs {rss_small / mb:.0f} MB = {rss_all / rss_small:.2f}x"
    )
    print(
        f"file counts: files layout {count_files(maps_files)}, packed {count_files(maps_packed)} "
        f"({sum(1 for p in maps_packed.rglob('*') if p.is_file() and p.name != 'zarr.json')} shard files + zarr.json)"
    )
    print(f"pack took {pack_s:.1f} s, of which its check against the files layout (measured alone) "
          f"{check_s:.1f} s = {check_s / pack_s:.0%}; workdir {work}")  # fmt: skip


if __name__ == "__main__":
    main()

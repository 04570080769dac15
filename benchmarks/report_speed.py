"""How fast is the report of a large batch, cold and after one more video; what does a per-video plot cost?

Builds a synthetic batch (default 250 prompts × 4 seeds = 1,000 videos, 2 words each, tiny 3 × 2 × 3
maps, 3 steps, one small H.264 file copied to every video: ``tests/support/batch.py``; no model), then
measures in one run and prints side by side:

* **cold**: ``attention-visual report BATCH`` in a fresh process (every video's assets, then the page)
  — goal ≤ 120 s for 1,000 videos on the project's 2-core machine (before this work: 1,210 s);
* **after the last video**: the batch's last video finishes (its maps are rewritten): its assets
  (``build_video_assets``, what the render pool does beside the generation) and the page
  (``assemble``), which is when the report is ready — goal ≤ 30 s; and a refresh with nothing new;
* **per-video plot**: the matplotlib temporal comparison figure the report drew per video before
  (``AttentionVisualizer.generate_temporal_comparison``) against the SVG curves that replace it
  (``report.cards.curves_chart``) and against all of a video's assets, medians over ``--sample`` videos;
* sizes: the report folder, ``index.html``, the largest card, the batch view's script.

Times are wall clock and CPU (this process and its children); the machine's load average is printed
with them, since other jobs share its 2 cores.

Usage::

    python benchmarks/report_speed.py [--prompts 250] [--seeds 4] [--sample 10] [--workdir DIR] [--batch DIR]

``--batch DIR`` reuses a batch built by an earlier run (its ``report/`` is removed first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the synthetic batch of the report's tests

from render_speed import timed  # noqa: E402  (benchmarks/ is on the path of a script run from it)

from attention_visual.report import assemble, build_video_assets  # noqa: E402
from attention_visual.report.cards import curves_chart  # noqa: E402
from attention_visual.report.collect import collect_batch  # noqa: E402
from attention_visual.visualization import AttentionAnalyzer, AttentionVisualizer  # noqa: E402
from support.batch import build_batch  # noqa: E402


def median_of(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=250)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--sample", type=int, default=10, help="videos for the per-video plot comparison")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the batch (default: a temp dir)")
    parser.add_argument("--batch", type=Path, default=None, help="reuse this batch (built by an earlier run)")
    args = parser.parse_args()
    if args.batch is not None:
        batch = args.batch
        shutil.rmtree(batch / "report", ignore_errors=True)
    else:
        batch = Path(tempfile.mkdtemp(prefix="report_speed_", dir=args.workdir)) / "batch"
        prompts = tuple(f"prompt {i}: a (cat) chases a (ball)" for i in range(args.prompts))
        started = time.perf_counter()
        build_batch(batch, prompts=prompts, videos_per_prompt=args.seeds)
        print(f"built {len(prompts) * args.seeds} videos in {time.perf_counter() - started:.0f} s: {batch}")
    videos = [v.record.video_id for v in collect_batch(batch).videos]
    load = os.getloadavg()[0]

    cmd = [sys.executable, "-m", "attention_visual", "report", str(batch)]
    cold_wall, cold_cpu = timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))
    refresh_wall, refresh_cpu = timed(lambda: assemble(batch))

    last = videos[-1]
    for path in (batch / "attention_maps" / last).rglob("*.npz"):  # the last video's maps are (re)written
        os.utime(path)
    last_assets = timed(lambda: build_video_assets(batch, last))
    last_page = timed(lambda: assemble(batch))

    analyzer = AttentionAnalyzer(batch / "attention_maps")
    visualizer = AttentionVisualizer(analyzer)
    sample = videos[: args.sample]
    plots = Path(tempfile.mkdtemp(prefix="report_speed_plots_"))
    view = {v.record.video_id: v for v in collect_batch(batch).videos}
    assets = {vid: build_video_assets(batch, vid) for vid in sample}
    words = {vid: list(view[vid].record.words) for vid in sample}

    def matplotlib_plots() -> None:
        for vid in sample:
            visualizer.generate_temporal_comparison(vid, words[vid], plots / f"{vid}.png")

    def svg_curves() -> None:
        for vid in sample:
            curves_chart(view[vid].words, assets[vid])

    def all_assets() -> None:
        for vid in sample:
            shutil.rmtree(batch / "report" / "maps" / vid)
            build_video_assets(batch, vid)

    mpl = median_of(matplotlib_plots, 3) / len(sample)
    svg = median_of(svg_curves, 3) / len(sample)
    whole = median_of(all_assets, 3) / len(sample)
    shutil.rmtree(plots)

    report = batch / "report"
    cards = sorted((report / "cards").glob("*.js"), key=lambda p: p.stat().st_size)
    print(f"batch: {len(videos)} videos ({args.prompts} prompts × {args.seeds} seeds, 2 words, tiny maps)")
    print(f"machine load average at start: {load:.1f} (2 cores)")
    print(f"cold `attention-visual report`: {cold_wall:.1f} s wall, {cold_cpu:.1f} s CPU (goal <= 120 s; was 1,210 s)")
    print(
        f"after the last video: its assets {last_assets[0]:.2f} s (in the render pool), then the page "
        f"{last_page[0]:.1f} s wall, {last_page[1]:.1f} s CPU: ready {last_assets[0] + last_page[0]:.1f} s after "
        "it finished (goal <= 30 s)"
    )
    print(f"refresh with nothing new (assemble): {refresh_wall:.1f} s wall, {refresh_cpu:.1f} s CPU")
    print(
        f"per-video plot (median of 3 runs over {len(sample)} videos): matplotlib comparison figure "
        f"{mpl * 1000:.0f} ms, SVG curves {svg * 1000:.2f} ms ({mpl / svg:.0f}x less); all of a video's assets "
        f"(sprites, poster, stats rows, curves, paths) {whole * 1000:.0f} ms"
    )
    index_kb = (report / "index.html").stat().st_size / 1024
    print(
        f"sizes: report/ {folder_size(report) / 2**20:.1f} MB, index.html {index_kb:.0f} KB, "
        f"largest card {cards[-1].stat().st_size / 1024:.1f} KB, batch/view.js "
        f"{(report / 'batch' / 'view.js').stat().st_size / 2**20:.2f} MB"
    )


if __name__ == "__main__":
    main()

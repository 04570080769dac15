"""Does the GPU wait for the CPU work of a batch? Renders beside the generation, bookkeeping, the report.

Runs the real batch loop (:func:`attention_visual.pipeline.run_batch`: status files, render workers,
manifest, report) with a **stand-in generation**: each video takes a fixed time (``--seconds``, a sleep
standing for the GPU's time) during which it writes the video's real files through the real APIs — an
H.264 video (one encoded file copied) and the maps of every word through :class:`AttentionStore`,
completion mark last — so everything after it (renders, digests, report assets) does exactly what it does
after a real generation. Three parts, printed side by side in one run:

* ``throughput``: real-size videos and maps (81 frames of 832×480, 21×30×52 maps, 50 steps, 3 words,
  the default renders: a step video and an overlay per word, and the report assets), ``--videos``
  videos, first with ``render_workers: 0`` (the renders inline, between the generations, as before), then
  with ``--workers`` render workers. Goal: batch wall (from the first generation to the report written)
  ≤ 1.05 × (total generation time + one video's renders), where one video's renders is the median time
  the inline run spent between two generations.
* ``bookkeeping``: ``--many`` videos with tiny maps, no render and no report, a generation of
  ``--tiny-seconds``: the time between two generations (the batch's own records of a video) around
  video 10 and around the last video. Goal: within 1.2×. For contrast, what rewriting ``manifest.json``
  once costs at that size (what the loop paid after every video before).
* ``report``: the same many-video batch with the report on (each video's assets made by the workers,
  the page refreshed while it runs): the time from the end of the last generation until the batch
  returns with its report written. Goal: ≤ 30 s for 1,000 videos.

Wall times on a shared machine swing with its load: each part prints the load average before and after,
medians over ``--repeats`` runs where it repeats, and the CPU time of this process and its children.

Usage::

    python benchmarks/batch_throughput.py [--parts throughput bookkeeping report] [--videos 6]
        [--seconds 10] [--workers 2] [--many 1000] [--tiny-seconds 0.05] [--repeats 1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from render_speed import cpu_seconds, raw_encode  # (benchmarks/ is on the path of a script run from it)

# Only light modules here: the render workers, spawned, import this module again (as __mp_main__).
from attention_visual.config import Config, config_from_dict
from attention_visual.pipeline.plan import VideoJob, plan_batch
from attention_visual.storage import AttentionStore, LatentGrid, MapMetadata, VideoDimensions
from attention_visual.storage.backend import FILES, MapBackend
from attention_visual.storage.batch.manifest import Timings, now_iso
from attention_visual.storage.durable.atomic import atomic_write_bytes
from attention_visual.storage.schema.frames import FrameRule, latent_to_video_frame_ranges


@dataclass(frozen=True)
class Size:
    """The size of a stand-in video: its frames and its maps."""

    width: int
    height: int
    frames: int
    fps: int
    grid: tuple[int, int, int]  # [frame, y, x]
    steps: int


REAL = Size(832, 480, 81, 16, (21, 30, 52), 50)  # Wan2.1 at 832×480, 81 frames, 50 steps
TINY = Size(48, 32, 9, 8, (3, 2, 3), 2)  # the tiny model's
PROMPTS = ("A romantic (kiss) between a (man) and woman with (flowers)", "a small (dog) runs on the (beach) at (noon)")


def blob(size: Size, step: int, word: int) -> np.ndarray:
    """``[frame, y, x]`` float32: a blob drifting over the frames, sharpening over the steps, one place per word."""
    f, h, w = size.grid
    y, x = np.mgrid[0:h, 0:w]
    width = max(1.0, 30.0 - 20.0 * step / size.steps) * (h * w) / (30 * 52)
    cy, cx = h / 2 + (word - 1) * h / 4, w / 4 + word * w / 4
    maps = [np.exp(-((y - cy) ** 2 + (x - cx - k * w / (4 * f)) ** 2) / width) for k in range(f)]
    return (np.stack(maps) * 0.02 + 0.001).astype(np.float32)


@dataclass
class StandIn:
    """A stand-in for the pipeline call under the capture (``run_batch(generator=...)``).

    Writes the video (a copy of ``video_bytes``) and every word's maps, then sleeps until ``seconds``
    have passed since the call began; records each call's start and end.
    """

    size: Size
    seconds: float
    video_bytes: bytes
    calls: list[tuple[float, float]] = field(default_factory=list)
    #: The calling thread's CPU time (``time.thread_time``) at each call's start and end: the batch's own
    #: work between two generations, measured apart from the machine's other load.
    cpu_calls: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, job: VideoJob, batch_dir: Path, maps: MapBackend) -> Any:
        from attention_visual.pipeline.generation import GenerationOutcome  # torch: not in the workers

        start, cpu_start = time.perf_counter(), time.thread_time()
        atomic_write_bytes(batch_dir / job.video_path, self.video_bytes)
        assert maps.layout == FILES, f"the stand-in writes the files layout, not {maps.layout}"
        store = AttentionStore(maps.root)
        s = self.size
        dims = VideoDimensions(width=s.width, height=s.height, fps=float(s.fps), frames=s.frames)
        for w, word in enumerate(job.words):
            maps = []
            for step in range(s.steps):
                maps.append(blob(s, step, w))
                store.save_step(self._meta(job, word, dims, step), maps[-1])
            store.save_aggregated(self._meta(job, word, dims, None), np.mean(maps, axis=0))
        store.mark_complete(job.video_id, {"words": list(job.words)})
        files = 1 + len(job.words) * (s.steps + 1) * 2 + 1
        written = time.perf_counter() - start
        time.sleep(max(0.0, self.seconds - written))
        end = time.perf_counter()
        self.calls.append((start, end))
        self.cpu_calls.append((cpu_start, time.thread_time()))
        return GenerationOutcome(Timings(generation_s=end - start, video_write_s=written), files, True)

    def _meta(self, job: VideoJob, word: str, dims: VideoDimensions, step: int | None) -> MapMetadata:
        s = self.size
        steps = tuple(range(s.steps))
        frames = latent_to_video_frame_ranges(s.grid[0], FrameRule(4))  # Wan's causal 4x VAE
        return MapMetadata(
            video_id=job.video_id, token_word=word, shape=s.grid, dtype="float32", axes=("frame", "y", "x"),
            num_steps=s.steps, steps_used=steps if step is None else (step,), step_index=step,
            aggregation_method="mean_over_steps" if step is None else "per_step", video_dimensions=dims,
            token_grid=LatentGrid(*s.grid), latent_to_video_frames=frames,
            timestep=None if step is None else 1000.0 * (1 - step / s.steps),
            sigma=None if step is None else 1 - step / s.steps, model_id="stand-in", seed=job.seed,
            clean_prompt=job.prompt.clean, marked_prompt=job.prompt.marked,
            pixels_per_token=s.width // s.grid[2],
        )  # fmt: skip


def video_bytes(size: Size, work: Path) -> bytes:
    """An H.264 file of ``size`` (moving gradients with a little noise), encoded once."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : size.height, 0 : size.width]
    frames = []
    for n in range(size.frames):
        frame = np.empty((size.height, size.width, 3), np.uint8)
        frame[..., 0] = (x / 4 + 3 * n) % 256
        frame[..., 1] = (y / 2 + 128 + 64 * np.sin((x + 8 * n) / 60)) % 256
        frame[..., 2] = 90
        frames.append(np.clip(frame.astype(np.int16) + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8))
    path = work / f"video_{size.width}x{size.height}.mp4"
    raw_encode(frames, float(size.fps), path)
    return path.read_bytes()


def make_config(work: Path, name: str, size: Size, videos: int, **analysis: object) -> Config:
    """A config of ``videos`` videos (3 marked words each; 4 seeds a prompt from 8 videos on) of ``size``,
    on the tiny model's tokenizer."""
    per_prompt = 4 if videos >= 8 else 1
    return config_from_dict(
        {
            "prompts": [PROMPTS[i % len(PROMPTS)] for i in range(max(1, videos // per_prompt))],
            "output_dir": str(work / name),
            "batch_name": "batch",
            "generation": {
                "model_id": "tiny", "device": "cpu", "dtype": "float32", "num_inference_steps": size.steps,
                "height": size.height, "width": size.width, "num_frames": size.frames, "fps": size.fps,
                "videos_per_prompt": per_prompt, "max_sequence_length": 32,
            },
            "attention_analysis": analysis,
        }
    )  # fmt: skip


@dataclass
class Run:
    """One batch run: its wall times, the stand-in's calls, the generation's wait for the renders."""

    wall: float
    from_first: float
    after_last: float
    calls: list[tuple[float, float]]
    cpu_calls: list[tuple[float, float]]
    waited: float
    cpu: float

    @property
    def generation(self) -> float:
        return sum(end - start for start, end in self.calls)

    def gaps(self) -> list[float]:
        """Time between the end of each generation and the start of the next."""
        return [self.calls[i + 1][0] - self.calls[i][1] for i in range(len(self.calls) - 1)]

    def cpu_gaps(self) -> list[float]:
        """CPU time of the batch's thread between two generations: its own bookkeeping alone."""
        return [self.cpu_calls[i + 1][0] - self.cpu_calls[i][1] for i in range(len(self.cpu_calls) - 1)]


def run(config: Config, stand_in: StandIn) -> Run:
    from attention_visual.pipeline import BatchOptions, run_batch

    stand_in.calls, stand_in.cpu_calls = [], []
    cpu, start = cpu_seconds(), time.perf_counter()
    result = run_batch(config, Path(f"{config.batch_name}.yaml"), BatchOptions(progress=False), generator=stand_in)
    end = time.perf_counter()
    if result.exit_code != 0:
        raise SystemExit(f"the batch failed (exit {result.exit_code}): {result.failed or result.render_failures}")
    calls = stand_in.calls
    waited, cpu_calls = result.render_wait_s, stand_in.cpu_calls
    return Run(end - start, end - calls[0][0], end - calls[-1][1], calls, cpu_calls, waited, cpu_seconds() - cpu)


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def throughput(work: Path, args: argparse.Namespace) -> None:
    stand_in = StandIn(REAL, args.seconds, video_bytes(REAL, work))
    print(f"\nthroughput: {args.videos} videos, generation {args.seconds:g} s each, real size "
          f"({REAL.frames} frames {REAL.width}x{REAL.height}, maps {REAL.grid} x {REAL.steps} steps, 3 words), "
          f"load {load()}")  # fmt: skip
    inline, pooled = [], []
    for r in range(args.repeats):
        inline.append(run(make_config(work, f"inline{r}", REAL, args.videos, render_workers=0), stand_in))
        pooled.append(run(make_config(work, f"pool{r}", REAL, args.videos, render_workers=args.workers), stand_in))
    renders = statistics.median(g for x in inline for g in x.gaps())  # one video's renders, inline
    for name, runs in (("inline (render_workers 0)", inline), (f"render_workers {args.workers}", pooled)):
        generation = statistics.median(x.generation for x in runs)
        wall = statistics.median(x.from_first for x in runs)
        ratio = wall / (generation + renders)
        print(f"  {name:<26} wall {wall:7.1f} s (with start-up {statistics.median(x.wall for x in runs):7.1f} s) | "
              f"generation {generation:6.1f} s + one video's renders {renders:5.1f} s -> ratio {ratio:.3f} | "
              f"waited for renders {statistics.median(x.waited for x in runs):6.1f} s | "
              f"CPU {statistics.median(x.cpu for x in runs):6.1f} s")  # fmt: skip
    generation = statistics.median(x.generation for x in pooled)
    ratio = statistics.median(x.from_first for x in pooled) / (generation + renders)
    per_video = statistics.median(x.cpu for x in inline) / args.videos
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"  CPU per video (renders, report assets, the stand-in's writes): {per_video:.1f} s; the generation "
          f"leaves at most {cores} cores x {args.seconds:g} s = {cores * args.seconds:.0f} core-s per video "
          f"on this machine, shared with its other load: the renders keep up only below that")  # fmt: skip
    print(f"  goal wall <= 1.05 x (generation + one video's renders): {'OK' if ratio <= 1.05 else 'ABOVE GOAL'} "
          f"({ratio:.3f}); load now {load()}")  # fmt: skip


def window(values: Sequence[float], centre: int, half: int = 10) -> float:
    return statistics.median(values[max(0, centre - half) : centre + half])


def bookkeeping(work: Path, args: argparse.Namespace) -> None:
    stand_in = StandIn(TINY, args.tiny_seconds, video_bytes(TINY, work))
    config = make_config(work, "bookkeeping", TINY, args.many, auto_generate_per_video=False, generate_report=False)
    print(f"\nbookkeeping: {args.many} videos, tiny maps, generation {args.tiny_seconds:g} s each, "
          f"no render, no report, load {load()}")  # fmt: skip
    done = run(config, stand_in)
    for what, gaps in (("wall", done.gaps()), ("CPU of the batch's thread", done.cpu_gaps())):
        early, late = window(gaps, 10), window(gaps, len(gaps) - 11)
        print(f"  between two generations, {what}: around video 10 {early * 1000:6.1f} ms, around video "
              f"{args.many} {late * 1000:6.1f} ms -> ratio {late / early:.2f} (goal <= 1.2: "
              f"{'OK' if late <= 1.2 * early else 'ABOVE'}); median of all "
              f"{statistics.median(gaps) * 1000:.1f} ms")  # fmt: skip
    from attention_visual.pipeline.merge import build_manifest, merged_records

    batch = Path(config.output_dir) / "batch"
    jobs = plan_batch(config)
    started = time.perf_counter()
    records = merged_records(batch, jobs, {}, config)
    build_manifest(batch, config, Path("b.yaml"), jobs, records, 1, now_iso(), finished=False)
    print(
        f"  for contrast, merging and rewriting manifest.json of {len(jobs)} videos once: "
        f"{(time.perf_counter() - started) * 1000:.0f} ms (before: after every video); load now {load()}"
    )


def report(work: Path, args: argparse.Namespace) -> None:
    stand_in = StandIn(TINY, args.tiny_seconds, video_bytes(TINY, work))
    config = make_config(
        work, "report", TINY, args.many, auto_generate_per_video=False, generate_report=True,
        render_workers=args.workers,
    )  # fmt: skip
    print(f"\nreport: {args.many} videos, tiny maps, each video's report assets in {args.workers} worker(s), "
          f"load {load()}")  # fmt: skip
    done = run(config, stand_in)
    print(f"  report ready {done.after_last:.1f} s after the last generation ended (goal <= 30 s: "
          f"{'OK' if done.after_last <= 30 else 'ABOVE'}); batch wall {done.wall:.0f} s, generation waited "
          f"{done.waited:.0f} s for the workers; load now {load()}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["throughput", "bookkeeping", "report"],
                        choices=["throughput", "bookkeeping", "report"])  # fmt: skip
    parser.add_argument("--videos", type=int, default=6, help="videos of the throughput part")
    parser.add_argument("--seconds", type=float, default=10.0, help="stand-in generation of a real-size video")
    parser.add_argument("--workers", type=int, default=2, help="render workers")
    parser.add_argument("--many", type=int, default=1000, help="videos of the bookkeeping and report parts")
    parser.add_argument("--tiny-seconds", type=float, default=0.05, help="stand-in generation of a tiny video")
    parser.add_argument("--repeats", type=int, default=1, help="runs of the throughput part (medians)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"batch_throughput: {os.cpu_count()} CPUs, load average {load()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        for part in args.parts:
            {"throughput": throughput, "bookkeeping": bookkeeping, "report": report}[part](work, args)


if __name__ == "__main__":
    main()

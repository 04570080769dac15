"""How much slower is rendering an attention video than just encoding its frames?

For each case this renders the video with :class:`AttentionVisualizer` (load, normalise,
compose, stream to ffmpeg) and, in the same run, encodes the very same frames (rendered
beforehand, held in memory) with a plain ffmpeg process and the same encoder settings. The
ratio ``render time / raw encode time`` is the overhead of everything that is not encoding.
Goal: <= 1.5.

On a shared machine wall times swing with the neighbours' load, so besides the median of the
per-run wall ratios it prints the best-of-N ratio (fastest render / fastest raw encode) and the
CPU-time ratio (this process plus its ffmpeg children), which depend much less on other load.

Cases (synthetic data, no model):

* ``overlay``: an 81-frame 832×480 16 fps generated video (moving gradients with mild noise)
  with the step-averaged map of 21 latent frames × 30 × 52 tokens overlaid; with the default
  colorbar panel, and plain (``include_colorbar=False``, exactly 832×480).
* ``steps``: 50 stored steps, ``interpolation_steps: 2`` → 148 frames of 1200×800 (figsize 12×8).

Usage::

    python benchmarks/render_speed.py [--repeats 3] [--cases overlay steps]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from attention_visual.render.encoder import FORMAT_ARGS, ffmpeg_exe, fps_argument
from attention_visual.render.sources import FrameSource
from attention_visual.storage import AttentionStore, LatentGrid, MapMetadata, VideoDimensions
from attention_visual.storage.schema.frames import FrameRule, latent_to_video_frame_ranges
from attention_visual.visualization.attention_visualizer import AttentionVisualizer

VIDEO_ID = "bench_vid"
WIDTH, HEIGHT, FPS, FRAMES = 832, 480, 16.0, 81
GRID = (21, 30, 52)  # [frame, y, x]: Wan2.1 at 832×480, 81 frames
STEPS = 50


def blob_map(step: int) -> np.ndarray:
    """``[frame, y, x]`` float32: a Gaussian blob drifting over the frames, sharpening over the steps."""
    f, h, w = GRID
    y, x = np.mgrid[0:h, 0:w]
    width = 30.0 - 20.0 * step / STEPS
    maps = [np.exp(-((y - h / 2 - 6 * np.sin(k / 4)) ** 2 + (x - 5 - 2 * k) ** 2) / width) for k in range(f)]
    return (np.stack(maps) * 0.02 + 0.001).astype(np.float32)


def write_store(root: Path) -> None:
    store = AttentionStore(root)
    dims = VideoDimensions(width=WIDTH, height=HEIGHT, fps=FPS, frames=FRAMES)
    maps = []
    for step in range(STEPS):
        meta = MapMetadata(
            video_id=VIDEO_ID, token_word="kiss", shape=GRID, dtype="float32", axes=("frame", "y", "x"),
            num_steps=STEPS, steps_used=(step,), step_index=step, aggregation_method="per_step",
            video_dimensions=dims, token_grid=LatentGrid(*GRID),
            latent_to_video_frames=latent_to_video_frame_ranges(21, FrameRule(4)),
            timestep=1000.0 * (1 - step / STEPS), sigma=1 - step / STEPS,
        )  # fmt: skip
        maps.append(blob_map(step))
        store.save_step(meta, maps[-1])
    agg = MapMetadata(**{**meta.to_dict(), "step_index": None, "steps_used": tuple(range(STEPS)),
                         "aggregation_method": "mean_over_steps", "video_dimensions": dims,
                         "token_grid": LatentGrid(*GRID), "reduction": meta.reduction})  # fmt: skip
    store.save_aggregated(agg, np.mean(maps, axis=0))
    store.mark_complete(VIDEO_ID, {"words": ["kiss"]})


def write_original(path: Path) -> None:
    """The "generated" video: moving colour gradients with a little noise (so it is not trivially compressible)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = []
    for n in range(FRAMES):
        frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        frame[..., 0] = (x / 4 + 3 * n) % 256
        frame[..., 1] = (y / 2 + 128 + 64 * np.sin((x + 8 * n) / 60)) % 256
        frame[..., 2] = 90
        frames.append(np.clip(frame.astype(np.int16) + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8))
    raw_encode(frames, FPS, path)


def raw_encode(frames: list[np.ndarray], fps: float, path: Path) -> float:
    """Encode ``[H, W, 3]`` uint8 frames with a plain ffmpeg process (same mp4 settings); return seconds."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", fps_argument(fps), "-i", "-", "-an",
           *FORMAT_ARGS["mp4"], str(path)]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("ffmpeg failed")
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the ffmpeg encoders and decoders)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)`` of ``action()``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    action()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def measure(
    name: str, viz: AttentionVisualizer, kwargs: dict[str, object], fps: float, work: Path, repeats: int
) -> float:
    """Print wall and CPU ratios of rendering vs raw-encoding the same frames; return the median wall ratio."""
    source: FrameSource = viz.prepare_video(VIDEO_ID, "kiss", **kwargs)  # type: ignore[arg-type]
    frames = [np.ascontiguousarray(f[..., :3]) for f in source.frames()]  # [H, W, 3] each, rendered up front
    raws, renders = [], []
    for _ in range(repeats):
        raws.append(timed(lambda: raw_encode(frames, fps, work / f"{name}_raw.mp4")))
        renders.append(timed(lambda: viz.generate_attention_video(VIDEO_ID, "kiss", work / f"{name}.mp4", **kwargs)))  # type: ignore[arg-type]
    ratios = [r[0] / w[0] for r, w in zip(renders, raws, strict=True)]
    ratio = statistics.median(ratios)
    best = min(r[0] for r in renders) / min(w[0] for w in raws)
    cpu = statistics.median(r[1] for r in renders) / statistics.median(w[1] for w in raws)
    print(
        f"{name:<22} {len(frames):>4} frames {source.width}x{source.height}: raw encode "
        f"{statistics.median(w[0] for w in raws):5.2f} s, render {statistics.median(r[0] for r in renders):5.2f} s | "
        f"ratio median {ratio:.2f}, best-of-{repeats} {best:.2f}, CPU time {cpu:.2f} "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=["overlay", "steps"], choices=["overlay", "steps"])
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"render_speed: {os.cpu_count()} CPUs, load average {load:.1f}, ffmpeg {ffmpeg_exe()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_store(work / "attention_maps")
        original = work / "generated.mp4"
        write_original(original)
        results = {}
        if "overlay" in args.cases:
            for colorbar in (True, False):
                viz = AttentionVisualizer(work / "attention_maps", include_colorbar=colorbar)
                name = f"overlay{'' if colorbar else ' (no colorbar)'}"
                kwargs: dict[str, object] = {"original_video_path": original}
                results[name] = measure(name, viz, kwargs, FPS, work, args.repeats)
        if "steps" in args.cases:
            viz = AttentionVisualizer(work / "attention_maps", fps=10, interpolation_steps=2)
            results["steps"] = measure("steps (50, interp 2)", viz, {}, 10.0, work, args.repeats)
        verdict = "OK" if max(results.values()) <= 1.5 else "ABOVE GOAL"
        print(f"goal <= 1.5x raw encode: {verdict} (worst {max(results.values()):.2f})")


if __name__ == "__main__":
    main()

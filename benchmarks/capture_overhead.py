"""Capture overhead: wall time and peak memory with vs. without AttentionCapture, one process.

A transformer of Wan2.1-T2V-1.3B width (dim 1536 = 12 heads x 128, ffn 8960, text_dim 4096)
with 2 blocks (random weights), the tiny tokenizer/VAE, guidance on (two passes per step),
``output_type="latent"``. Runs alternate (plain, captured, plain, captured, ...) so drift
hits both sides; the ratio of medians is printed.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (exact); on the CPU the peak resident
set size during a run above the resident size at its start, sampled every millisecond from
/proc/self/statm, with glibc's mmap threshold pinned (the script re-executes itself with
``MALLOC_MMAP_THRESHOLD_``) so large freed tensors go back to the OS between runs.

Usage:
    python benchmarks/capture_overhead.py                       # 480x832x17 (7,800 video tokens) on the CPU
    python benchmarks/capture_overhead.py --height 240 --width 416   # 1,950 video tokens
    python benchmarks/capture_overhead.py --device cuda --blocks 30 --frames 81   # the real width and depth
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

import torch
from diffusers import WanPipeline, WanTransformer3DModel
from transformers import UMT5Config, UMT5EncoderModel

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.capture.attention_math import WordColumns, word_attention
from attention_visual.models import build_tiny_pipeline

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
_MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"


def build_wide_pipeline(blocks: int, dtype: torch.dtype, device: str) -> WanPipeline:
    """Tiny tokenizer/VAE/scheduler with a Wan2.1-1.3B-width transformer and a 4096-wide text encoder."""
    tiny = build_tiny_pipeline(seed=0)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=12,
        attention_head_dim=128,
        in_channels=16,
        out_channels=16,
        text_dim=4096,
        freq_dim=256,
        ffn_dim=8960,
        num_layers=blocks,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        rope_max_seq_len=1024,
    )
    text_encoder = UMT5EncoderModel(
        UMT5Config(vocab_size=len(tiny.tokenizer), d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=8)
    )
    pipe = WanPipeline(
        tokenizer=tiny.tokenizer,
        text_encoder=text_encoder,
        vae=tiny.vae,
        scheduler=tiny.scheduler,
        transformer=transformer,
    )
    pipe.transformer.to(dtype)
    pipe.text_encoder.to(dtype)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class PeakMemory:
    """Peak extra memory of a block of code: CUDA allocator stats, or sampled RSS on the CPU."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = self._rss()
            self._stop = threading.Event()
            self._max = self.base
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = self._max - self.base

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._max = max(self._max, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:  # noqa: PTH123
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def isolated_capture_seconds(tokens: int, blocks: int, dtype: torch.dtype, device: str, repeats: int = 5) -> float:
    """Seconds of the capture's own computation for one captured pass: ``blocks`` calls at these shapes.

    Measured alone, so it does not drown in the run-to-run noise of a whole step on a busy machine.
    """
    q = torch.randn(tokens, 1536, dtype=dtype, device=device)  # [video_token, heads * head_dim]
    k = torch.randn(512, 1536, dtype=dtype, device=device)  # [text_token, heads * head_dim]
    k[20:] = k[20]  # Wan's identical padding rows after 20 real tokens
    words = WordColumns.from_words([(2, 3), (10, 11)])
    cols = torch.tensor(words.columns, device=device)
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        acc = torch.zeros(2, tokens, device=device)
        for _ in range(blocks):
            acc += word_attention(q, k, 12, cols, words.bounds, num_real_keys=20).mean(0)
        acc.cpu()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="float32 on CPU, bfloat16 on CUDA by default")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind (after one warm-up each)")
    args = parser.parse_args()
    if not args.device.startswith("cuda") and _MMAP_ENV not in os.environ:
        os.environ[_MMAP_ENV] = str(1 << 20)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32"))
    pipe = build_wide_pipeline(args.blocks, dtype, args.device)
    tokens = ((args.frames - 1) // 4 + 1) * (args.height // 16) * (args.width // 16)
    print(
        f"transformer: {args.blocks} blocks of Wan2.1-1.3B width, {dtype}, {args.device}; "
        f"video {args.height}x{args.width}x{args.frames} = {tokens} video tokens, 512 text tokens, "
        f"{args.steps} steps with guidance (2 passes/step), threads={torch.get_num_threads()}"
    )
    call = {
        "height": args.height,
        "width": args.width,
        "num_frames": args.frames,
        "num_inference_steps": args.steps,
        "guidance_scale": 5.0,
        "max_sequence_length": 512,
        "output_type": "latent",
    }

    def plain() -> None:
        pipe(
            prompt="A romantic kiss between a man and woman with flowers",
            generator=torch.Generator().manual_seed(0),
            **call,
        )

    def captured() -> None:
        with AttentionCapture(pipe, PROMPT, CaptureSettings()) as cap:
            pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **call)
        cap.word_maps()

    runs: dict[str, Callable[[], None]] = {"plain": plain, "captured": captured}
    times: dict[str, list[float]] = {k: [] for k in runs}
    peaks: dict[str, list[int]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in runs.items():
            with PeakMemory(args.device) as mem:
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
            peaks[name].append(mem.peak)
            print(f"  {name:9s} {times[name][-1]:8.3f} s   peak +{mem.peak / 2**20:9.1f} MiB", flush=True)
    t = {k: statistics.median(v) for k, v in times.items()}
    m = {k: statistics.median(v) for k, v in peaks.items()}
    print(f"median wall time: plain {t['plain']:.3f} s, captured {t['captured']:.3f} s")
    print(f"median peak memory: plain {m['plain'] / 2**20:.1f} MiB, captured {m['captured'] / 2**20:.1f} MiB")
    print(f"wall-time ratio (captured / plain): {t['captured'] / t['plain']:.4f} (median)")
    print(f"wall-time ratio (captured / plain): {min(times['captured']) / min(times['plain']):.4f} (best of each)")
    print(f"peak-memory ratio (captured / plain): {m['captured'] / max(m['plain'], 1):.4f}")
    own = isolated_capture_seconds(tokens, args.blocks, dtype, args.device) * args.steps  # one captured pass/step
    print(
        f"capture computation alone: {own * 1e3:.1f} ms per run = {own / min(times['plain']):.2%} of the "
        f"fastest plain run (an upper bound of the overhead that run-to-run noise cannot hide)"
    )


if __name__ == "__main__":
    main()

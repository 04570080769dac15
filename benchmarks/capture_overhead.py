"""Capture overhead: wall time and peak memory with vs. without AttentionCapture, one process.

The transformer(s) of a real checkpoint at its real width (``--model-config``, a shipped
architecture: ``attention_visual.models.public_checkpoints``; default Wan2.1-T2V-1.3B: dim 1536 = 12 heads
x 128, ffn 8960) with ``--blocks`` blocks (2 by default, random weights), both experts for Wan2.2
A14B; a 4096-wide one-layer text encoder with the tiny tokenizer; a tiny VAE with the checkpoint's
latent channels and factors (16x and 48 channels for TI2V-5B); for the I2V/FLF2V checkpoints a one-layer
CLIP image encoder of the real geometry (1280 wide, 224 px, 257 tokens per image). CogVideoX (2B: 1920
wide, 5B and 1.5: 3072, joint attention over 226 text + the video tokens): a 4096-wide one-layer T5
encoder, the tiny CogVideoX VAE with 16 latent channels; ``--joint-attention full`` and ``--text-share``
measure those maps' extra pass over the video keys. HunyuanVideo-1.5 (2048 wide, joint attention over the
video tokens + 729 image + 256 byT5 + 1000 Qwen2.5-VL keys, valid ones first, masked): 3584-wide Qwen2.5-VL
and 1472-wide byT5 encoders of two layers and one, the tiny HunyuanVideo-1.5 VAE with 32 latent channels, a
1152-wide SigLIP for image-to-video; guidance through its guider (a ``pred_cond`` and a ``pred_uncond``
call). LTX-Video (``ltx-video-*``): the checkpoint's
transformer (2048 or 4096 wide), a 4096-wide one-layer T5 encoder, a tiny 32x/8x VAE with its 128 latent
channels, its scheduler, 128 text keys with the model's padding mask. HunyuanVideo (3072 wide, ``--blocks``
dual-stream and as many single-stream blocks, joint attention over the video and 256 masked Llama keys): the
tiny Llama-3 and CLIP tokenizers with a 4096-wide two-layer Llama and a 768-wide one-layer CLIP text encoder,
the tiny HunyuanVideo VAE with 16 latent channels; ``--block-list single_transformer_blocks`` captures the
single stream. LTX-2 (``ltx-2*``): the checkpoint's
transformer (4096 wide video stream, 2048 wide audio stream) fed by the tiny Gemma-3 text encoder through
text connectors of the checkpoint's output widths without layers (the text side runs once per video; the
capture's cost is in the blocks: 1024 text keys of 4096 channels), a tiny 32x/8x VAE with 128 latent
channels, the tiny audio VAE and vocoder (the audio input projection narrowed to them), its scheduler; the
default guidance, so each step also runs the ``uncond_stg`` and ``uncond_modality`` calls the capture
ignores; image-to-video with ``image_crf=0`` and the condition pipeline with the image at latent index 0,
``crf=0`` (no PyAV). Guidance on (two passes per step: Wan's and
HunyuanVideo-1.5's separate calls, CogVideoX's and LTX's one batched ``[uncond, cond]`` call; HunyuanVideo
is guidance-distilled: one prompt pass per step), ``output_type="latent"``.
Runs alternate (plain, captured, plain, captured, ...) so
drift hits both sides; the ratio of medians is printed. ``--control`` adds plain runs timed against plain
runs (an A/A comparison): on a shared machine that ratio shows how large a difference noise alone makes.
The capture's own cost is also measured apart from the noise: the inclusive time of this package's code
in a profiled captured run (cProfile; an upper bound), and its attention computation timed alone.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (exact); on the CPU the peak resident
set size during a run above the resident size at its start, sampled every millisecond from
/proc/self/statm, with glibc's mmap threshold pinned (the script re-executes itself with
``MALLOC_MMAP_THRESHOLD_``) so large freed tensors go back to the OS between runs.

Usage:
    python benchmarks/capture_overhead.py                       # 1.3B width, 480x832x17 (7,800 video tokens), CPU
    python benchmarks/capture_overhead.py --height 240 --width 416   # 1,950 video tokens
    python benchmarks/capture_overhead.py --model-config wan2.2-ti2v-5b --height 320 --width 576
    python benchmarks/capture_overhead.py --model-config wan2.2-ti2v-5b --pipeline i2v   # TI2V-5B image-to-video
    python benchmarks/capture_overhead.py --model-config wan2.2-t2v-a14b --steps 4   # both experts run
    python benchmarks/capture_overhead.py --list                 # the shipped --model-config names
    python benchmarks/capture_overhead.py --model-config cogvideox-5b --height 128 --width 192 --joint-attention full
    python benchmarks/capture_overhead.py --model-config ltx-video-0.9.1 --height 256 --width 384 --frames 9
    python benchmarks/capture_overhead.py --all --threads 1      # every variant, a Markdown table of ratios
    python benchmarks/capture_overhead.py --all --only cogvideox --threads 1   # the cases whose name has it
    python benchmarks/capture_overhead.py --all --only ltx --threads 1   # the LTX-Video rows only
    python benchmarks/capture_overhead.py --device cuda --blocks 30 --frames 81   # the real width and depth
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline
from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
from diffusers.pipelines.wan.pipeline_wan_video2video import WanVideoToVideoPipeline
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    Qwen2_5_VLTextConfig,
    Qwen2_5_VLTextModel,
    SiglipImageProcessorPil,
    SiglipVisionConfig,
    SiglipVisionModel,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

import attention_visual
from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.capture.attention_math import WordColumns, word_attention
from attention_visual.capture.joint_math import joint_word_attention
from attention_visual.families import AUTO_TASK, ModelFamily, all_tasks, checkpoint_rules, family_of_class
from attention_visual.families.runtime import call_arguments, describe_pipeline, runtime_of
from attention_visual.models.public_checkpoints import (
    Architecture,
    architecture_names,
    build_transformer,
    load_architecture,
)
from attention_visual.models.tiny_cogvideox import tiny_cogvideox_vae
from attention_visual.models.tiny_hunyuan import tiny_hunyuan_vae
from attention_visual.models.tiny_hunyuan15 import tiny_hunyuan15_vae
from attention_visual.models.tiny_llama_tokenizer import build_tiny_clip_tokenizer, build_tiny_llama_tokenizer
from attention_visual.models.tiny_ltx import tiny_ltx_vae
from attention_visual.models.tiny_ltx2 import tiny_ltx2_vae
from attention_visual.models.tiny_variants import build_tiny_model, tiny_image

PROMPT = "A romantic (kiss) between a man and woman with (flowers)"
_MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"


#: The tiny model whose tokenizer, scheduler and VAE each checkpoint's benchmark pipeline borrows.
_TINY_PARTS = {16: "tiny", 48: "tiny-ti2v-5b"}  # by VAE latent channels


def _clip_encoder(dtype: torch.dtype) -> tuple[torch.nn.Module, Any]:
    """A one-layer CLIP image encoder of Wan's geometry: 1280 wide, 224 px, patch 14 (257 tokens)."""
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=1280,
            projection_dim=1024,
            num_hidden_layers=2,  # Wan reads hidden_states[-2]
            num_attention_heads=16,
            intermediate_size=1280,
            image_size=224,
            patch_size=14,
        )
    ).to(dtype)
    return encoder.eval(), CLIPImageProcessorPil(crop_size=224, size=224)


def family_of(arch: Architecture) -> ModelFamily:
    """The model family of a shipped architecture (from its ``model_index.json`` class)."""
    family = family_of_class(arch.checkpoint.class_name)
    assert family is not None, arch.name
    return family


def build_wide_pipeline(
    arch: Architecture, task: str, blocks: int, dtype: torch.dtype, device: str, size: tuple[int, int] = (128, 192)
) -> Any:
    """The checkpoint's pipeline class with full-width transformer(s) of ``blocks`` blocks (see the docstring).

    ``size``: the frame size the run makes (HunyuanVideo-1.5 image-to-video: a resolution bucket of its
    transformer's ``target_size``, set to the nearest target that has it).
    """
    family = family_of(arch)
    rules = checkpoint_rules(family)
    spec = rules.with_transformer_config(arch.checkpoint, arch.transformer)
    class_name = rules.pipeline_class_for(spec, task, arch.name)
    if family.name == "hunyuan15":
        parts = _hunyuan15_parts(arch, blocks, dtype, class_name, size)
        return _finish(runtime_of(family).pipeline_class(class_name)(**parts), dtype, device)
    if family.name in _WIDE_PARTS:
        parts = _WIDE_PARTS[family.name](arch, blocks, dtype)
        return _finish(runtime_of(family).pipeline_class(class_name)(**parts), dtype, device)
    tiny = build_tiny_model(_TINY_PARTS[int(arch.vae["z_dim"])], seed=0)
    torch.manual_seed(0)
    components: dict[str, Any] = {
        "tokenizer": tiny.tokenizer,
        "text_encoder": UMT5EncoderModel(
            UMT5Config(vocab_size=len(tiny.tokenizer), d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=8)
        ),
        "vae": tiny.vae,
        "scheduler": tiny.scheduler,
        "transformer": build_transformer(arch, num_layers=blocks, seed=0, dtype=dtype),
    }
    if spec.has_transformer_2:
        components["transformer_2"] = build_transformer(arch, num_layers=blocks, seed=1, dtype=dtype)
    if class_name == "WanImageToVideoPipeline":
        encoder, processor = _clip_encoder(dtype) if spec.has_image_encoder else (None, None)
        components.update(image_encoder=encoder, image_processor=processor)
    cls = {
        "WanPipeline": WanPipeline,
        "WanImageToVideoPipeline": WanImageToVideoPipeline,
        "WanVACEPipeline": WanVACEPipeline,
        "WanVideoToVideoPipeline": WanVideoToVideoPipeline,
    }[class_name]
    return _finish(cls(**components, **spec.pipeline_kwargs(class_name)), dtype, device)


def _t5_parts(arch: Architecture, blocks: int, dtype: torch.dtype, tiny_id: str) -> dict[str, Any]:
    """The tiny model's tokenizer, a 4096-wide one-layer T5 encoder and the checkpoint's transformer."""
    tiny = build_tiny_model(tiny_id, seed=0)
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tiny.tokenizer), d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=8)
    return {
        "tokenizer": tiny.tokenizer,
        "text_encoder": T5EncoderModel(config),
        "scheduler": tiny.scheduler,
        "transformer": build_transformer(arch, num_layers=blocks, seed=0, dtype=dtype),
    }


def _cogvideox_parts(arch: Architecture, blocks: int, dtype: torch.dtype) -> dict[str, Any]:
    """CogVideoX: T5 parts (the tiny model's scheduler: the checkpoints' DDIM), the tiny VAE with 16 latent channels."""
    parts = _t5_parts(arch, blocks, dtype, "tiny-cogvideox")
    parts.update(vae=tiny_cogvideox_vae(0, latent_channels=int(arch.vae["latent_channels"])))
    return parts


def _hunyuan_parts(arch: Architecture, blocks: int, dtype: torch.dtype) -> dict[str, Any]:
    """HunyuanVideo: the tiny Llama-3 and CLIP tokenizers, a 4096-wide two-layer Llama (the pipeline reads its
    third-to-last hidden state), a 768-wide one-layer CLIP text model."""
    from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    tokenizer, clip_tokenizer = build_tiny_llama_tokenizer(), build_tiny_clip_tokenizer()
    torch.manual_seed(0)
    llama = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=int(arch.transformer["text_embed_dim"]), intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=32, num_key_value_heads=8, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    clip = CLIPTextConfig(
        vocab_size=len(clip_tokenizer), hidden_size=int(arch.transformer["pooled_projection_dim"]),
        intermediate_size=256, num_hidden_layers=1, num_attention_heads=12, bos_token_id=clip_tokenizer.bos_token_id,
        eos_token_id=clip_tokenizer.eos_token_id, pad_token_id=clip_tokenizer.pad_token_id,
    )  # fmt: skip
    return {
        "tokenizer": tokenizer,
        "text_encoder": LlamaModel(llama),
        "tokenizer_2": clip_tokenizer,
        "text_encoder_2": CLIPTextModel(clip).to(dtype).eval(),
        "vae": tiny_hunyuan_vae(0, latent_channels=int(arch.vae["latent_channels"])),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "transformer": build_transformer(arch, num_layers=blocks, seed=0, dtype=dtype),
    }


def _ltx_parts(arch: Architecture, blocks: int, dtype: torch.dtype) -> dict[str, Any]:
    """LTX-Video: T5 parts, a tiny 128-channel 32x/8x VAE, the scheduler with the checkpoint's shifting."""
    parts = _t5_parts(arch, blocks, dtype, "tiny-ltx")
    parts.update(
        vae=tiny_ltx_vae(0, latent_channels=int(arch.vae["latent_channels"])),
        scheduler=type(parts["scheduler"]).from_config(arch.scheduler),
    )
    return parts


def _hunyuan15_parts(
    arch: Architecture, blocks: int, dtype: torch.dtype, class_name: str, size: tuple[int, int]
) -> dict[str, Any]:
    """HunyuanVideo-1.5: the tiny Qwen tokenizer, a 3584-wide two-layer Qwen2.5-VL text encoder, a 1472-wide
    one-layer byT5 encoder, the tiny VAE with 32 latent channels; image-to-video a 1152-wide one-layer SigLIP
    (384 px, 729 tokens)."""
    tiny = build_tiny_model("tiny-hunyuan15", seed=0)
    torch.manual_seed(0)
    tok = tiny.tokenizer
    qwen = Qwen2_5_VLTextConfig(
        vocab_size=len(tok), hidden_size=3584, intermediate_size=256, num_hidden_layers=2, num_attention_heads=28,
        num_key_value_heads=4, bos_token_id=tok.pad_token_id, eos_token_id=tok.pad_token_id,
        pad_token_id=tok.pad_token_id,
        rope_parameters={"mrope_section": [16, 24, 24], "rope_type": "default", "rope_theta": 1e6},
    )  # fmt: skip
    byt5 = T5Config(
        vocab_size=len(tiny.tokenizer_2), d_model=1472, d_kv=64, d_ff=256, num_layers=1, num_heads=6,
        feed_forward_proj="gated-gelu",
    )  # fmt: skip
    transformer = build_transformer(arch, num_layers=blocks, seed=0, dtype=dtype)
    parts: dict[str, Any] = {
        "tokenizer": tok, "text_encoder": Qwen2_5_VLTextModel(qwen).eval(), "tokenizer_2": tiny.tokenizer_2,
        "text_encoder_2": T5EncoderModel(byt5).eval(), "transformer": transformer, "scheduler": tiny.scheduler,
        "vae": tiny_hunyuan15_vae(0, latent_channels=int(arch.vae["latent_channels"])), "guider": tiny.guider,
    }  # fmt: skip
    if class_name == "HunyuanVideo15ImageToVideoPipeline":
        rules = checkpoint_rules(family_of(arch))
        target = next(
            t for t in range(16, 4096) if size in rules.variant_for(rules.with_transformer_config(
                arch.checkpoint, {"target_size": t}), AUTO_TASK).frame_sizes
        )  # fmt: skip
        transformer.register_to_config(target_size=target)  # only the pipeline's bucket choice reads it
        siglip = SiglipVisionConfig(
            hidden_size=1152, intermediate_size=256, num_hidden_layers=1, num_attention_heads=16, image_size=384,
            patch_size=14,
        )  # fmt: skip
        parts.update(
            image_encoder=SiglipVisionModel(siglip).eval(),
            feature_extractor=SiglipImageProcessorPil(size={"height": 384, "width": 384}),
        )
    return parts


def _ltx2_parts(arch: Architecture, blocks: int, dtype: torch.dtype) -> dict[str, Any]:
    """LTX-2: the tiny Gemma-3 text side through layerless connectors of the checkpoint's output widths, the
    transformer with its audio input narrowed to the tiny audio VAE, a tiny 128-channel VAE, its scheduler."""
    from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors

    tiny = build_tiny_model("tiny-ltx2", seed=0)
    caption = int(tiny.text_encoder.config.text_config.hidden_size)
    per_stream = bool(arch.connectors["per_modality_projections"])
    c, t = arch.connectors, arch.transformer
    widths = {  # per-stream projections feed each stream its own width; else the caption width, projected later
        "video": (c["video_connector_num_attention_heads"], c["video_connector_attention_head_dim"]),
        "audio": (c["audio_connector_num_attention_heads"], c["audio_connector_attention_head_dim"]),
    } if per_stream else {"video": (2, caption // 2), "audio": (2, caption // 2)}  # fmt: skip
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=caption,
        text_proj_in_factor=tiny.text_encoder.config.text_config.num_hidden_layers + 1,
        **{f"{s}_connector_num_attention_heads": h for s, (h, _) in widths.items()},
        **{f"{s}_connector_attention_head_dim": d for s, (_, d) in widths.items()},
        **{f"{s}_connector_num_layers": 0 for s in widths},
        **{f"{s}_hidden_dim": h * d for s, (h, d) in widths.items()},
        video_connector_num_learnable_registers=c["video_connector_num_learnable_registers"],
        audio_connector_num_learnable_registers=c["audio_connector_num_learnable_registers"],
        rope_type=c["rope_type"],
        per_modality_projections=per_stream,
        proj_bias=c["proj_bias"],
    ).eval()
    audio_channels = int(tiny.transformer.config.audio_in_channels)  # what the tiny audio VAE gives
    narrowed = {**t, "caption_channels": caption, "audio_in_channels": audio_channels}
    narrowed["audio_out_channels"] = audio_channels
    return {
        "scheduler": type(tiny.scheduler).from_config(arch.scheduler),
        "vae": tiny_ltx2_vae(0, latent_channels=int(arch.vae["latent_channels"])),
        "audio_vae": tiny.audio_vae,
        "text_encoder": tiny.text_encoder,
        "tokenizer": tiny.tokenizer,
        "connectors": connectors.to(dtype),
        "transformer": build_transformer(replace(arch, transformer=narrowed), num_layers=blocks, seed=0, dtype=dtype),
        "vocoder": tiny.vocoder,
    }


#: The families whose benchmark pipeline is its class called with these parts (Wan: ``build_wide_pipeline``).
_WIDE_PARTS: dict[str, Callable[[Architecture, int, torch.dtype], dict[str, Any]]] = {
    "cogvideox": _cogvideox_parts,
    "ltx": _ltx_parts,
    "hunyuanvideo": _hunyuan_parts,
    "ltx2": _ltx2_parts,
}


def _finish(pipe: Any, dtype: torch.dtype, device: str) -> Any:
    pipe.text_encoder.to(dtype).eval()  # a model built from a config starts in training mode (dropout on)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def task_inputs(pipe: Any, height: int, width: int, frames: int) -> dict[str, Any]:
    """The image/video inputs the pipeline's call needs (deterministic)."""
    cls = type(pipe).__name__
    if cls == "LTX2ImageToVideoPipeline":  # image_crf=0: no H.264 re-compression (PyAV) of the image
        return {"image": tiny_image(height, width, seed=1), "image_crf": 0}
    if cls == "LTX2ConditionPipeline":  # the image at latent index 0, crf=0: no PyAV
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        return {"conditions": [LTX2VideoCondition(frames=tiny_image(height, width, seed=1), index=0, crf=0)]}
    if cls == "WanImageToVideoPipeline":
        inputs: dict[str, Any] = {"image": tiny_image(height, width, seed=1)}
        if pipe.transformer.config.pos_embed_seq_len is not None:  # FLF2V: first and last frame
            inputs["last_image"] = tiny_image(height, width, seed=2)
        return inputs
    if cls in (
        "CogVideoXImageToVideoPipeline", "HunyuanVideo15ImageToVideoPipeline", "LTXImageToVideoPipeline",
        "LTXConditionPipeline",
    ):  # fmt: skip
        return {"image": tiny_image(height, width, seed=1)}  # LTX condition: an item at frame 0
    if cls in ("WanVideoToVideoPipeline", "CogVideoXVideoToVideoPipeline"):
        return {"video": [tiny_image(height, width, seed=10 + n) for n in range(frames)], "strength": 1.0}
    return {}


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


def isolated_capture_seconds(
    tokens: int,
    blocks: int,
    dtype: torch.dtype,
    device: str,
    width: int = 1536,
    heads: int = 12,
    repeats: int = 5,
    *,
    settings: CaptureSettings | None = None,
    text_keys: int = 512,
    joint: bool = False,
    padding: str = "identical_rows",
) -> float:
    """Seconds of the capture's own computation for one captured pass: ``blocks`` calls at these shapes.

    Measured alone, so it does not drown in the run-to-run noise of a whole step on a busy machine. Cross
    attention: ``text_keys`` keys; ``padding`` (the family's ``text.padding``): ``identical_rows`` (Wan)
    folds the padding after 20 real tokens; ``masked`` keys after them are distinct rows with the model's
    -10000 bias (LTX-Video); ``attended`` every key is distinct, with the model's zero bias (LTX-2's
    registers). Joint: ``text_keys`` + the video keys in one softmax, with ``settings``' ``joint_attention``
    and ``text_share_map``.
    """
    settings = settings or CaptureSettings()
    words = WordColumns.from_words([(2, 3), (10, 11)])
    cols = torch.tensor(words.columns, device=device)
    if joint:
        head_dim = width // heads
        q = torch.randn(heads, tokens, head_dim, dtype=dtype, device=device)  # [head, video_token, d]
        k = torch.randn(heads, text_keys + tokens, head_dim, dtype=dtype, device=device)  # [head, key, d]

        def one_block() -> torch.Tensor:
            return joint_word_attention(
                q, k, (0, text_keys), cols, words.bounds, mode=settings.joint_attention,
                text_share=settings.text_share_map,
            ).mean(0)  # fmt: skip
    else:
        q = torch.randn(tokens, width, dtype=dtype, device=device)  # [video_token, heads * head_dim]
        k = torch.randn(text_keys, width, dtype=dtype, device=device)  # [text_token, heads * head_dim]
        bias = None
        if padding == "identical_rows":
            k[20:] = k[20]  # Wan's identical padding rows after 20 real tokens
        else:
            bias = torch.zeros(text_keys, dtype=dtype, device=device)  # [text_token]
            if padding == "masked":
                bias[20:] = -10000.0
        real = 20 if padding == "identical_rows" else text_keys

        def one_block() -> torch.Tensor:
            return word_attention(q, k, heads, cols, words.bounds, num_real_keys=real, key_bias=bias).mean(0)

    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        acc = one_block()
        for _ in range(blocks - 1):
            acc += one_block()
        acc.cpu()
        best = min(best, time.perf_counter() - start)
    return best


def own_code_seconds(run: Callable[[], None], repeats: int = 1) -> float:
    """Inclusive seconds spent in this package's code during ``run()``: the median of ``repeats`` profiled runs.

    Sums the cumulative time of every function of ``attention_visual`` that is not itself called by one
    (the entry points: the hooks torch and diffusers call, ``AttentionCapture``'s constructor,
    ``__enter__``/``__exit__``, ``word_maps``), so the torch kernels they launch count and nothing counts
    twice. cProfile slows Python calls down, so this is an upper bound of the capture's own cost.
    """
    package = str(Path(attention_visual.__file__).parent)

    def ours(func: tuple[str, int, str]) -> bool:
        return func[0].startswith(package)

    seconds = []
    for _ in range(repeats):
        profiler = cProfile.Profile()
        profiler.runcall(run)
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # {func: (cc, nc, tt, ct, callers)}
        entries = (ct for func, (_, _, _, ct, callers) in stats.items() if ours(func) and not any(map(ours, callers)))
        seconds.append(float(sum(entries)))
    return statistics.median(seconds)


#: ``--all``: every variant, ``(--model-config, --pipeline, height, width, extra options)``, 9 frames, 2 blocks,
#: sized so a run takes seconds on one CPU core while the video tokens are not negligible next to the text
#: keys. CogVideoX-5b-I2V is left out: its learned position embedding fixes the size at 480 x 720 (the
#: 1.5-I2V row measures the same image-to-video call at the same width).
ALL_CASES: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = (
    ("wan2.1-t2v-1.3b", "t2v", 128, 192, ()),
    ("wan2.1-t2v-1.3b", "v2v", 128, 192, ()),
    ("wan2.1-vace-1.3b", "vace", 128, 192, ()),
    ("wan2.2-ti2v-5b", "t2v", 128, 192, ()),
    ("wan2.2-ti2v-5b", "i2v", 128, 192, ()),
    ("wan2.1-t2v-14b", "t2v", 64, 96, ()),
    ("wan2.2-t2v-a14b", "t2v", 64, 96, ()),
    ("wan2.2-i2v-a14b", "i2v", 64, 96, ()),
    ("wan2.1-i2v-14b-480p", "i2v", 64, 96, ()),
    ("wan2.1-flf2v-14b-720p", "i2v", 64, 96, ()),
    ("wan2.1-vace-14b", "vace", 64, 96, ()),
    ("cogvideox-2b", "t2v", 128, 192, ()),
    ("cogvideox-5b", "t2v", 128, 192, ()),
    ("cogvideox-5b", "t2v", 128, 192, ("--joint-attention", "full")),
    ("cogvideox-5b", "t2v", 128, 192, ("--text-share",)),
    ("cogvideox-5b", "v2v", 128, 192, ()),
    ("cogvideox1.5-5b", "t2v", 128, 192, ()),
    ("cogvideox1.5-5b-i2v", "i2v", 128, 192, ()),
    ("hunyuanvideo1.5-480p-t2v", "t2v", 128, 192, ()),
    ("hunyuanvideo1.5-480p-t2v", "t2v", 128, 192, ("--joint-attention", "full")),
    ("hunyuanvideo1.5-480p-t2v", "t2v", 128, 192, ("--text-share",)),
    ("hunyuanvideo1.5-480p-i2v", "i2v", 128, 192, ()),
    ("ltx-video-0.9.1", "t2v", 256, 384, ()),  # 2048 wide; 8 x 12 tokens of 32 px, 2 latent frames, 128 text keys
    ("ltx-video-0.9.1", "i2v", 256, 384, ()),
    ("ltx-video-0.9.7-dev", "condition", 128, 192, ()),  # 4096 wide (13B)
    ("hunyuanvideo", "t2v", 128, 192, ()),
    ("hunyuanvideo", "t2v", 128, 192, ("--block-list", "single_transformer_blocks")),
    ("hunyuanvideo", "t2v", 128, 192, ("--joint-attention", "full")),
    ("hunyuanvideo", "t2v", 128, 192, ("--text-share",)),
    ("ltx-2", "t2v", 128, 192, ()),  # 4096 wide video (2048 audio); 4 x 6 tokens, 2 latent frames, 1024 text keys
    ("ltx-2", "i2v", 128, 192, ()),
    ("ltx-2", "condition", 128, 192, ()),  # the image as a condition at latent index 0
    ("ltx-2.3", "t2v", 128, 192, ()),  # gated attention, cross-attention modulation
)
_RESULT = "result: "  # the last line of a single run: its ratios as JSON, for --all


def run_all(args: argparse.Namespace) -> None:
    """Run every case of :data:`ALL_CASES` in its own process, one after another, and print a table."""
    columns = ("wall_median", "wall_paired", "wall_best", "cpu", "peak_memory", "own_code", "capture_alone")
    columns += ("control_wall", "control_paired", "control_cpu") if args.control else ()
    print("| variant | pipeline | video | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    for config, task, height, width, extra in ALL_CASES:
        if args.only and args.only not in config:
            continue
        command = [sys.executable, __file__, "--model-config", config, "--pipeline", task, "--frames", "9", *extra]
        command += ["--height", str(height), "--width", str(width), "--repeats", str(args.repeats)]
        command += ["--steps", str(args.steps), "--blocks", str(args.blocks), "--device", args.device]
        command += [] if args.threads is None else ["--threads", str(args.threads)]
        command += ["--control"] if args.control else []
        lines = subprocess.run(command, capture_output=True, text=True, check=False).stdout.splitlines()
        results = [json.loads(line.removeprefix(_RESULT)) for line in lines if line.startswith(_RESULT)]
        cells = [f"{results[-1][c]:.4f}" if results else "failed" for c in columns]
        label = f"{task} {' '.join(extra).removeprefix('--')}".strip()
        print(f"| {config} | {label} | {height}x{width}x9 | " + " | ".join(cells) + " |", flush=True)


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
    parser.add_argument("--model-config", default="wan2.1-t2v-1.3b", help="a shipped architecture (see --list)")
    parser.add_argument("--pipeline", default=AUTO_TASK, choices=[AUTO_TASK, *all_tasks()])
    parser.add_argument("--joint-attention", default="text", choices=["text", "full"], help="joint attention only")
    parser.add_argument("--text-share", action="store_true", help="joint attention only: also the <text> map")
    parser.add_argument("--block-list", default=None, help="the module list to capture (default: the main stream)")
    parser.add_argument("--only", default="", help="--all: only the cases whose --model-config contains this")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--list", action="store_true", help="print the shipped architecture names and exit")
    parser.add_argument(
        "--control", action="store_true", help="also time plain runs against plain runs (A/A): the noise floor"
    )
    parser.add_argument("--all", action="store_true", help="every variant (ALL_CASES), one process each: a table")
    args = parser.parse_args()
    if args.list:
        print("\n".join(architecture_names()))
        return
    if args.all:
        run_all(args)
        return
    if not args.device.startswith("cuda") and _MMAP_ENV not in os.environ:
        os.environ[_MMAP_ENV] = str(1 << 20)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32"))
    arch = load_architecture(args.model_config)
    pipe = build_wide_pipeline(arch, args.pipeline, args.blocks, dtype, args.device, (args.height, args.width))
    family = family_of(arch)
    text = family.text.max_sequence_length
    settings = CaptureSettings(
        joint_attention=args.joint_attention, text_share_map=args.text_share, block_list=args.block_list
    )
    px = arch.pixels_per_cell
    per_token = int(arch.transformer.get("patch_size_t") or 1)  # CogVideoX 1.5: 2 latent frames per token
    latent_frames = (args.frames - 1) // family.temporal_factor + 1
    tokens = -(-latent_frames // per_token) * (args.height // px) * (args.width // px)
    distilled = describe_pipeline(pipe).guidance == "distilled"
    passes = "1 pass/step: guidance-distilled" if distilled else "2 passes/step"
    print(
        f"{arch.name} ({type(pipe).__name__}, {arch.checkpoint.experts} expert(s)): {args.blocks} blocks of width "
        f"{arch.width} ({arch.transformer['num_attention_heads']} heads), {dtype}, {args.device}; video "
        f"{args.height}x{args.width}x{args.frames} = {tokens} video tokens ({px} px/token), {text} text tokens, "
        f"{args.steps} steps with guidance ({passes}), threads={torch.get_num_threads()}; "
        f"joint_attention={args.joint_attention}, text_share_map={args.text_share}"
    )
    call = {
        "height": args.height,
        "width": args.width,
        "num_inference_steps": args.steps,
        "guidance_scale": 5.0,
        "max_sequence_length": text,
        "output_type": "latent",
        **task_inputs(pipe, args.height, args.width, args.frames),
    }
    if "video" not in call:  # video-to-video takes the input video's length
        call["num_frames"] = args.frames
    call = call_arguments(pipe, describe_pipeline(pipe), call)  # as the family's pipelines take them

    def plain() -> None:
        pipe(
            prompt="A romantic kiss between a man and woman with flowers",
            generator=torch.Generator().manual_seed(0),
            **call,
        )

    def captured() -> None:
        with AttentionCapture(pipe, PROMPT, settings, max_sequence_length=text) as cap:
            pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **call)
        cap.word_maps()

    runs: dict[str, Callable[[], None]] = {"plain": plain, "captured": captured}
    if args.control:
        runs["plain_again"] = plain  # an A/A control: how far two identical kinds of run differ here
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}  # process CPU seconds: robust to other jobs' load
    peaks: dict[str, list[int]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in runs.items():
            with PeakMemory(args.device) as mem:
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
            peaks[name].append(mem.peak)
            print(
                f"  {name:9s} {times[name][-1]:8.3f} s   cpu {cpu[name][-1]:8.3f} s"
                f"   peak +{mem.peak / 2**20:9.1f} MiB",
                flush=True,
            )
    t = {k: statistics.median(v) for k, v in times.items()}
    m = {k: statistics.median(v) for k, v in peaks.items()}
    print(f"median wall time: plain {t['plain']:.3f} s, captured {t['captured']:.3f} s")
    print(f"median peak memory: plain {m['plain'] / 2**20:.1f} MiB, captured {m['captured'] / 2**20:.1f} MiB")
    print(f"wall-time ratio (captured / plain): {t['captured'] / t['plain']:.4f} (median)")
    print(f"wall-time ratio (captured / plain): {min(times['captured']) / min(times['plain']):.4f} (best of each)")
    c = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"CPU-time ratio (captured / plain): {c['captured'] / c['plain']:.4f} (median process time, all threads)")
    print(f"peak-memory ratio (captured / plain): {m['captured'] / max(m['plain'], 1):.4f}")
    own_code = own_code_seconds(captured, args.repeats)
    print(
        f"our code's own time in a captured run (cProfile, inclusive, an upper bound; median of {args.repeats} "
        f"profiled runs): {own_code * 1e3:.1f} ms = "
        f"{own_code / min(times['plain']):.2%} of the fastest plain run"
    )
    heads = int(arch.transformer["num_attention_heads"])
    own = args.steps * isolated_capture_seconds(
        tokens, args.blocks, dtype, args.device, arch.width, heads, settings=settings, text_keys=text,
        joint=family.joint, padding=family.text.padding,
    )  # fmt: skip
    print(
        f"capture computation alone: {own * 1e3:.1f} ms per run = {own / min(times['plain']):.2%} of the "
        f"fastest plain run (an upper bound of the overhead that run-to-run noise cannot hide)"
    )
    paired = statistics.median(a / b for a, b in zip(times["captured"], times["plain"], strict=True))
    print(f"wall-time ratio (captured / plain): {paired:.4f} (median over pairs: each captured run / the plain before)")
    ratios = {
        "wall_median": t["captured"] / t["plain"],
        "wall_paired": paired,
        "wall_best": min(times["captured"]) / min(times["plain"]),
        "cpu": c["captured"] / c["plain"],
        "peak_memory": m["captured"] / max(m["plain"], 1),
        "own_code": own_code / min(times["plain"]),
        "capture_alone": own / min(times["plain"]),
    }
    if args.control:
        ratios["control_wall"] = statistics.median(times["plain_again"]) / t["plain"]
        ratios["control_paired"] = statistics.median(
            a / b for a, b in zip(times["plain_again"], times["plain"], strict=True)
        )
        ratios["control_cpu"] = statistics.median(cpu["plain_again"]) / c["plain"]
        print(
            f"A/A control (plain again / plain, medians): wall {ratios['control_wall']:.4f} "
            f"(paired {ratios['control_paired']:.4f}), "
            f"CPU {ratios['control_cpu']:.4f}: differences of this size are noise, not capture"
        )
    print(_RESULT + json.dumps(ratios))


if __name__ == "__main__":
    main()

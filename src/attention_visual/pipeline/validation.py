"""Everything checked before a model loads: prompts against the tokenizer, devices, options.

A batch that cannot succeed should fail in seconds, not after a multi-gigabyte model load:
:func:`validate_batch` tokenizes every prompt with the pipeline's own tokenizer (loaded alone) at
``generation.max_sequence_length`` and checks the device, dtype, capture and rendering options.
Each problem is one :class:`~attention_visual.errors.AttentionVisualError` whose message names the
prompt number or the key, so the CLI prints one line and exits with status 2.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from attention_visual.capture import CaptureSettings
from attention_visual.config import Config
from attention_visual.config.inputs import check_inputs
from attention_visual.errors import ConfigError, PromptError
from attention_visual.models import (
    build_tiny_tokenizer,
    is_tiny_model_id,
    resolve_device,
    resolve_dtype,
    resolve_variant,
)
from attention_visual.models.variants import WAN_TEXT_CONTEXT, WanVariant
from attention_visual.pipeline.plan import VideoJob
from attention_visual.prompts import tokenize_marked
from attention_visual.render.options import RenderOptions

log = logging.getLogger(__name__)

#: Pixels per video token of Wan2.1 (VAE 8x, patch 2); the variant's own value is used (32 for TI2V-5B).
WAN_PIXELS_PER_TOKEN = 16


def load_tokenizer(model_id: str) -> Any:
    """Load only the tokenizer of ``model_id`` (a tiny id: the embedded one; else ``<id>/tokenizer``).

    Raises:
        ConfigError: It cannot be loaded (e.g. not in the local cache while offline), in one line.
    """
    if is_tiny_model_id(model_id):
        return build_tiny_tokenizer()
    from transformers import AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # HF_HUB_OFFLINE is read when huggingface_hub is imported; pass it on as set right now.
            return AutoTokenizer.from_pretrained(model_id, subfolder="tokenizer", local_files_only=offline)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = " (offline: download the model first with `hf download " + model_id + "`)" if offline else ""
        raise ConfigError(f"cannot load the tokenizer of {model_id!r}{hint}: {first}") from exc


def capture_settings(config: Config) -> CaptureSettings:
    """The capture settings the config's ``attention_analysis`` section asks for."""
    a = config.attention_analysis
    return CaptureSettings(
        guidance_pass=a.guidance_pass,
        padding=a.padding,
        token_reduction=a.token_reduction,
        blocks=a.blocks,
        steps=a.steps,
        storage_interval=a.storage_interval,
        store_per_head=a.store_per_head,
        store_per_block=a.store_per_block,
        spatial_downsample_factor=a.spatial_downsample_factor,
        storage_dtype=a.storage_dtype,
        image_map=a.image_map,
        block_list=a.block_list,
    )


def render_options(config: Config) -> RenderOptions:
    """The rendering options of ``attention_analysis.visualization_params``."""
    return RenderOptions.from_mapping(config.attention_analysis.visualization_params.to_dict())


def validate_prompts(jobs: list[VideoJob], tokenizer: Any, max_sequence_length: int) -> None:
    """Tokenize every distinct prompt as the pipeline will; warn about prompts without a marked word.

    Raises:
        PromptError: A marked word is missing or cut off; the message starts with ``prompt N``.
    """
    seen: set[int] = set()
    for job in jobs:
        if job.prompt_index in seen:
            continue
        seen.add(job.prompt_index)
        try:
            tokenize_marked(tokenizer, job.prompt, max_sequence_length)
        except PromptError as exc:
            raise PromptError(f"prompt {job.prompt_index} ({job.prompt.marked!r}): {exc}") from exc
        if not job.words:
            log.warning(
                "prompt %d (%r) marks no word: its videos are generated but no attention is captured",
                job.prompt_index,
                job.prompt.marked,
            )


def check_variant(config: Config) -> WanVariant:
    """Resolve the variant the batch runs (from the checkpoint's config files only) and check its inputs.

    Checks the video size against the variant's pixels per token, ``max_sequence_length`` 512 for the
    image branch (diffusers splits the context at ``L - 512``), and every prompt's input files against
    the task (required/allowed, decodable, frame counts), in that order.

    Raises:
        ConfigError: One line naming the key (``generation.*`` or ``prompts[i].image`` ...).
    """
    g = config.generation
    variant = resolve_variant(g.model_id, g.pipeline)
    px = variant.pixels_per_token
    for name in ("height", "width"):
        if getattr(g, name) % px:
            raise ConfigError(
                f"generation.{name} must be a multiple of {px} for {variant.name} ({px} pixels per token), "
                f"got {getattr(g, name)}"
            )
    if variant.image_branch and g.max_sequence_length != WAN_TEXT_CONTEXT:
        raise ConfigError(
            f"generation.max_sequence_length must be {WAN_TEXT_CONTEXT} for {variant.name} (its attention splits "
            f"image and text keys at L - {WAN_TEXT_CONTEXT}), got {g.max_sequence_length}"
        )
    a = config.attention_analysis
    if a.image_map and not variant.image_branch:
        raise ConfigError(
            f"attention_analysis.image_map needs a model with an image branch (Wan2.1 I2V/FLF2V-14B); "
            f"{variant.name} has none"
        )
    if a.block_list not in variant.capture_points:
        raise ConfigError(
            f"attention_analysis.block_list {a.block_list!r} does not exist on {variant.name} "
            f"(it has: {', '.join(variant.capture_points)})"
        )
    source = f"model {g.model_id!r} with generation.pipeline {g.pipeline!r}"
    check_inputs(
        config.prompt_inputs, variant.task, height=g.height, width=g.width, num_frames=g.num_frames, source=source
    )
    return variant


def validate_batch(config: Config, jobs: list[VideoJob], device: str) -> None:
    """Check everything that can be checked without the model (see the module docstring).

    Args:
        config: The resolved config.
        jobs: The planned videos.
        device: The device this process will use (``generation.device``, or ``cuda:LOCAL_RANK``).

    Raises:
        ConfigError: Device, dtype, capture or rendering options do not fit.
        PromptError: A prompt's marked word cannot be found after tokenisation (names the prompt).
    """
    g, a = config.generation, config.attention_analysis
    resolved = resolve_device(device)
    resolve_dtype(g.dtype, resolved)
    if g.enable_model_cpu_offload and resolved.type != "cuda":
        raise ConfigError("generation.enable_model_cpu_offload needs a CUDA device; set it to false on this machine")
    try:
        capture_settings(config)
        render_options(config)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"attention_analysis: {exc}") from exc
    variant = check_variant(config)
    px = variant.pixels_per_token
    factor = a.spatial_downsample_factor
    rows, cols = g.height // px, g.width // px
    if rows % factor or cols % factor:
        raise ConfigError(
            f"attention_analysis.spatial_downsample_factor {factor} must divide the token grid {rows}x{cols} "
            f"(generation.height/{px} x generation.width/{px})"
        )
    if not a.store_attention and (a.auto_generate_per_video or a.auto_generate_videos):
        log.warning("store_attention is false: no maps are stored, so no attention videos are rendered")
    validate_prompts(jobs, load_tokenizer(g.model_id), g.max_sequence_length)


__all__ = [
    "WAN_PIXELS_PER_TOKEN",
    "capture_settings",
    "check_variant",
    "load_tokenizer",
    "render_options",
    "validate_batch",
]

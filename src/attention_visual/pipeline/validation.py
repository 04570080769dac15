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
from attention_visual.errors import ConfigError, PromptError
from attention_visual.models import TINY_MODEL_ID, build_tiny_tokenizer, resolve_device, resolve_dtype
from attention_visual.pipeline.plan import VideoJob
from attention_visual.prompts import tokenize_marked
from attention_visual.render.options import RenderOptions

log = logging.getLogger(__name__)

#: Pixels per video token of Wan2.1 (VAE 8x, patch 2): ``spatial_downsample_factor`` must divide the grid.
WAN_PIXELS_PER_TOKEN = 16


def load_tokenizer(model_id: str) -> Any:
    """Load only the tokenizer of ``model_id`` (``"tiny"``: the embedded one; else ``<id>/tokenizer``).

    Raises:
        ConfigError: It cannot be loaded (e.g. not in the local cache while offline), in one line.
    """
    if model_id == TINY_MODEL_ID:
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
    factor = a.spatial_downsample_factor
    rows, cols = g.height // WAN_PIXELS_PER_TOKEN, g.width // WAN_PIXELS_PER_TOKEN
    if rows % factor or cols % factor:
        raise ConfigError(
            f"attention_analysis.spatial_downsample_factor {factor} must divide the token grid {rows}x{cols} "
            f"(generation.height/16 x generation.width/16)"
        )
    if not a.store_attention and (a.auto_generate_per_video or a.auto_generate_videos):
        log.warning("store_attention is false: no maps are stored, so no attention videos are rendered")
    validate_prompts(jobs, load_tokenizer(g.model_id), g.max_sequence_length)


__all__ = ["WAN_PIXELS_PER_TOKEN", "capture_settings", "load_tokenizer", "render_options", "validate_batch"]

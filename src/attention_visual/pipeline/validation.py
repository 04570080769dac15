"""Everything checked before a model loads: prompts against the tokenizer, blocks, devices, options.

A batch that cannot succeed should fail in seconds, not after a multi-gigabyte model load:
:func:`check_runnable`, called by both ``attention-visual config`` and ``attention-visual generate``,
tokenizes every prompt with the model's own tokenizer (loaded alone) at
``generation.max_sequence_length``, checks ``attention_analysis.blocks`` against the transformer's
``config.json`` (no weights), that ``generation.device`` exists on this machine, the dtype and
grid options, and that ``storage_format: zarr`` has its ``analysis`` extra (zarr). (The seed range
and ``steps`` against ``num_inference_steps`` are checked by
:func:`~attention_visual.config.load_config` already.) Each problem is one
:class:`~attention_visual.errors.AttentionVisualError` whose message names the prompt or the dotted
key and what is allowed, so the CLI prints one line and exits with status 2.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from attention_visual.capture import CaptureSettings
from attention_visual.config import Config
from attention_visual.config.family_checks import check_analysis, check_generation
from attention_visual.config.inputs import PromptInputs, check_inputs
from attention_visual.config.models import with_model_key
from attention_visual.errors import ConfigError, PromptError
from attention_visual.extras import require_extra
from attention_visual.families import ModelFamily, Template, Variant, family_of_variant
from attention_visual.models import (
    CheckpointUnavailableError,
    is_tiny_model_id,
    resolve_device,
    resolve_dtype,
    resolve_variant,
    tiny_tokenizer,
)
from attention_visual.models.architecture import TRANSFORMER_CONFIG, num_transformer_blocks
from attention_visual.pipeline.plan import VideoJob, plan_batch
from attention_visual.prompts import tokenize_marked

log = logging.getLogger(__name__)


def load_tokenizer(model_id: str, *, local_files_only: bool | None = None) -> Any:
    """Load only the tokenizer of ``model_id`` (a tiny id: the embedded one; else ``<id>/tokenizer``).

    Args:
        model_id: ``"tiny"``, a local diffusers folder or a Hub id.
        local_files_only: Never reach the network; None follows ``HF_HUB_OFFLINE`` right now.

    Raises:
        ConfigError: It cannot be loaded (e.g. not in the local cache while offline), in one line.
    """
    if is_tiny_model_id(model_id):
        return tiny_tokenizer(model_id)
    from transformers import AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    offline = offline if local_files_only is None else local_files_only
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
        joint_attention=a.joint_attention,
        text_share_map=a.text_share_map,
        glyph_map=a.glyph_map,
    )


def validate_prompts(
    jobs: list[VideoJob], tokenizer: Any, max_sequence_length: int, template: Template | None = None
) -> None:
    """Tokenize every distinct prompt as the pipeline will; warn about prompts without a marked word.

    ``template``: the chat template or template string the family's pipeline wraps the prompt in (its
    ``text.template``).

    Raises:
        PromptError: A marked word is missing or cut off; the message starts with ``prompts[N]`` (0-based,
            as in the config) and the prompt's number.
    """
    seen: set[int] = set()
    for job in jobs:
        if job.prompt_index in seen:
            continue
        seen.add(job.prompt_index)
        try:
            tokenize_marked(tokenizer, job.prompt, max_sequence_length, template)
        except PromptError as exc:
            raise PromptError(
                f"prompts[{job.prompt_index - 1}] (prompt {job.prompt_index}, {job.prompt.marked!r}): {exc}"
            ) from exc
        if not job.words:
            log.warning(
                "prompt %d (%r) marks no word: its videos are generated but no attention is captured",
                job.prompt_index,
                job.prompt.marked,
            )


def max_sequence_length(config: Config, variant: Variant | None) -> int | None:
    """``generation.max_sequence_length``, or what the variant needs or its family uses by default (None: unknown)."""
    given = config.generation.max_sequence_length
    if given is not None or variant is None:
        return given
    return variant.text_length or family_of_variant(variant).text.max_sequence_length


def check_requirements(variant: Variant, prompt_inputs: Sequence[PromptInputs]) -> None:
    """The Python packages the variant's call needs (``variant.requires``) are installed, where the call needs them.

    ``variant.requires_for`` empty: every call; else only where a prompt gives one of those inputs.

    Raises:
        ConfigError: One line naming the variant and what to ``pip install``.
    """
    needed = not variant.requires_for or any(
        name in given.given for given in prompt_inputs for name in variant.requires_for
    )
    missing = [name for name in variant.requires if needed and importlib.util.find_spec(name) is None]
    if missing:
        inputs = f" for a prompt's {' or '.join(variant.requires_for)}" if variant.requires_for else ""
        raise ConfigError(
            f"generation.pipeline: {variant.name} ({variant.pipeline_class}) needs the Python package "
            f"{', '.join(missing)}{inputs}, which is not installed: pip install {' '.join(missing)}"
        )


def check_variant(config: Config, *, local_files_only: bool | None = None) -> Variant | None:
    """Resolve the variant the batch runs (from the checkpoint's config files only) and check against it.

    Checks the generation settings against the variant's family (frame count, sizes against the variant's
    pixels per token, the text length it needs), the ``attention_analysis`` settings that only some
    models take (``image_map``, ``block_list``, ``joint_attention``, ``text_share_map``), and every
    prompt's input files against the task (required/allowed, decodable, frame counts), in that order.

    Args:
        config: The loaded config.
        local_files_only: ``True`` (``attention-visual config``): when the checkpoint's config files are
            not available locally, a log line says so and None is returned (nothing else is skipped by
            the caller). None follows ``HF_HUB_OFFLINE`` (``generate``, which downloads them anyway).

    Returns:
        The variant, or None when it could not be read offline.

    Raises:
        ConfigError: One line naming the key (``generation.*`` or ``prompts[i].image`` ...).
    """
    g = config.generation
    try:
        variant = resolve_variant(g.model_id, g.pipeline, local_files_only=local_files_only)
    except CheckpointUnavailableError as exc:
        if not local_files_only:
            raise
        log.warning("pipeline, sizes and inputs not checked against the model: %s", exc)
        return None
    family = family_of_variant(variant)
    check_generation(g, family, variant)
    check_requirements(variant, config.prompt_inputs)
    a = config.attention_analysis
    check_analysis(a, family, variant)
    if a.image_map and not variant.has_image_map:
        raise ConfigError(
            f"attention_analysis.image_map needs a model with an image branch or image keys; {variant.name} has none"
        )
    if a.block_list is not None and a.block_list not in variant.capture_points:
        raise ConfigError(
            f"attention_analysis.block_list {a.block_list!r} does not exist on {variant.name} "
            f"(it has: {', '.join(variant.capture_points)})"
        )
    source = f"model {g.model_id!r} with generation.pipeline {g.pipeline!r}"
    check_inputs(
        config.prompt_inputs, variant.task, height=g.height, width=g.width, num_frames=g.num_frames, source=source
    )
    return variant


def check_device(device: str, key: str = "generation.device") -> None:
    """Check that ``device`` exists on this machine: ``cuda:N`` with N < the CUDA device count, ``mps`` available.

    Raises:
        ConfigError: ``"generation.device must be one of 'auto', 'cpu' on this machine (no CUDA or MPS
            device), got 'cuda:3'"``.
    """
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = torch.backends.mps.is_available()
    spec = device.strip().lower()
    kind, _, index = spec.partition(":")
    ok = (
        spec in ("auto", "cpu")
        or (kind == "cuda" and index.isdigit() and int(index) < cuda)
        or (spec == "cuda" and cuda > 0)
        or (spec == "mps" and mps)
    )
    if ok:
        return
    allowed = ["'auto'", "'cpu'"]
    if cuda:
        allowed += ["'cuda'", "'cuda:0'" if cuda == 1 else f"'cuda:0'..'cuda:{cuda - 1}'"]
    if mps:
        allowed.append("'mps'")
    machine = f"{cuda} CUDA device(s)" if cuda else "no CUDA device"
    machine += ", MPS" if mps else ", no MPS"
    raise ConfigError(f"{key} must be one of {', '.join(allowed)} on this machine ({machine}), got {device!r}")


def check_blocks(config: Config, family: ModelFamily | None = None) -> None:
    """Check ``attention_analysis.blocks`` against the transformer's config (the family says which entry
    counts each module list: Wan ``num_layers``, or the length of ``vace_layers`` for ``vace_blocks``).

    When the config is not available offline, a log line says so and only this check is skipped (the
    capture checks the blocks again when the model has loaded).

    Raises:
        ConfigError: A block index is past the last block of the list.
    """
    a, model_id = config.attention_analysis, config.generation.model_id
    family = family or config.generation.family
    if a.blocks is None:
        return
    layers, block_list, count_key = None, a.block_list, ""
    if family is not None:
        block_list = block_list or family.block_lists[0]
        count_key = family.block_counts[block_list]
        layers = num_transformer_blocks(model_id, count_key)
    if layers is None:
        log.info(
            "%s of %r is not available offline: attention_analysis.blocks is checked when the model loads",
            TRANSFORMER_CONFIG,
            model_id,
        )
        return
    if a.blocks[-1] >= layers:
        raise ConfigError(
            f"attention_analysis.blocks must be block indices in [0, {layers - 1}] ({model_id!r} has {layers} "
            f"{block_list} ({count_key})), got {list(a.blocks)}"
        )


def check_runnable(config: Config, *, device: str | None = None, fetch_tokenizer: bool = False) -> None:
    """Check everything about ``config`` that can be known before a model loads (see the module docstring).

    ``attention-visual config`` and ``attention-visual generate`` both call this, so a config that
    ``config`` accepts does not fail at the start of ``generate``.

    Args:
        config: The loaded config (already checked by ``load_config``).
        device: The device this process will use when it differs from ``generation.device`` (a rank's
            ``cuda:LOCAL_RANK`` under torchrun).
        fetch_tokenizer: Allow downloading the tokenizer (``generate``, which downloads the model anyway,
            unless ``HF_HUB_OFFLINE`` is set). False (``config``): local files only, and when the tokenizer
            is not there a log line says so and only the word check is skipped.

    Raises:
        ConfigError: The device, dtype, blocks or grid options do not fit (in a comparison, the message
            starts with the model's ``models[i]`` entry).
        MissingExtraError: ``storage_format: zarr`` without the ``analysis`` extra (zarr) installed.
        PromptError: A prompt's marked word cannot be found after tokenisation (names the prompt).
    """
    for i, entry in enumerate(config.models):
        try:
            _check_model(config.for_model(entry.name), device=device, fetch_tokenizer=fetch_tokenizer)
        except ConfigError as exc:
            raise with_model_key(exc, f"models[{i}]", entry) from None
        except PromptError as exc:
            raise PromptError(f"models[{i}] ({entry.name}): {exc}") from None
    if not config.models:
        _check_model(config, device=device, fetch_tokenizer=fetch_tokenizer)


def _check_model(config: Config, *, device: str | None, fetch_tokenizer: bool) -> None:
    """:func:`check_runnable` for the config of one model."""
    g, a = config.generation, config.attention_analysis
    check_device(g.device)
    resolved = resolve_device(device or g.device)
    resolve_dtype(g.dtype, resolved)
    if g.enable_model_cpu_offload and resolved.type != "cuda":
        raise ConfigError("generation.enable_model_cpu_offload needs a CUDA device; set it to false on this machine")
    variant = check_variant(config, local_files_only=True if not fetch_tokenizer else None)
    family = family_of_variant(variant) if variant is not None else g.family
    px = variant.pixels_per_cell if variant is not None else family.size_multiple if family is not None else None
    factor = a.spatial_downsample_factor
    if px is not None and ((g.height // px) % factor or (g.width // px) % factor):
        rows, cols = g.height // px, g.width // px
        raise ConfigError(
            f"attention_analysis.spatial_downsample_factor {factor} must divide the latent grid {rows}x{cols} "
            f"(generation.height/{px} x generation.width/{px})"
        )
    check_blocks(config, family)
    if a.packed and a.store_attention:
        require_extra("analysis", "attention_analysis.storage_format 'zarr' (the packed store)")
    if not a.store_attention and (a.auto_generate_per_video or a.auto_generate_videos):
        log.warning("store_attention is false: no maps are stored, so no attention videos are rendered")
    if fetch_tokenizer:
        tokenizer = load_tokenizer(g.model_id)
    else:
        try:
            tokenizer = load_tokenizer(g.model_id, local_files_only=True)
        except ConfigError as exc:
            log.warning("marked words not checked against the tokenizer: %s", exc)
            return
    length = max_sequence_length(config, variant)
    if length is None:
        log.warning("marked words not checked against the tokenizer: the model's text length is not known offline")
        return
    validate_prompts(plan_batch(config), tokenizer, length, family.text.template if family is not None else None)


def validate_batch(config: Config, jobs: list[VideoJob], device: str) -> None:
    """Check a batch before any model loads: :func:`check_runnable` with the tokenizer fetched if needed.

    Args:
        config: The resolved config.
        jobs: The planned videos (``plan_batch(config)``; kept for callers of the earlier signature).
        device: The device this process will use (``generation.device``, or ``cuda:LOCAL_RANK``).
    """
    del jobs  # check_runnable plans the same jobs from the config
    check_runnable(config, device=device, fetch_tokenizer=True)


__all__ = [
    "capture_settings",
    "check_blocks",
    "check_device",
    "check_requirements",
    "check_runnable",
    "check_variant",
    "load_tokenizer",
    "max_sequence_length",
    "validate_batch",
]

"""Load a Wan pipeline: a tiny offline one, a Hub checkpoint or a local directory.

:func:`load_pipeline` is the one entry point the CLI and the library use. The pipeline class comes
from the checkpoint's ``model_index.json`` (``WanPipeline``, ``WanImageToVideoPipeline``,
``WanVACEPipeline``, ``WanVideoToVideoPipeline``; Wan2.2 A14B with ``transformer_2`` and
``boundary_ratio``, TI2V-5B with ``expand_timesteps``), or from the task asked for (``pipeline="i2v"``
on TI2V-5B, ``"v2v"`` on a Wan2.1 T2V checkpoint; see :mod:`attention_visual.models.checkpoint`).
It follows Wan's loading advice: the VAE in float32 and the text encoder and transformer in
bfloat16 on a GPU (float32 on the CPU), and an optional ``flow_shift`` that replaces the scheduler with a
``UniPCMultistepScheduler`` (3.0 for 480p, 5.0 for 720p). Every foreseeable failure
(a missing directory, a Hub id that is not in the local cache while offline, CPU offload without a GPU)
raises a one-line :class:`~attention_visual.errors.ConfigError` that names the problem and the fix.

Example:
    >>> from attention_visual.models.loading import load_pipeline
    >>> pipe = load_pipeline("tiny")  # no download: built in memory
    >>> type(pipe).__name__
    'WanPipeline'
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

# Concrete modules, not `from diffusers import ...` (see attention_visual.models.tiny for why).
from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline
from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
from diffusers.pipelines.wan.pipeline_wan_video2video import WanVideoToVideoPipeline
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler
from huggingface_hub.errors import EntryNotFoundError

from attention_visual.errors import ConfigError
from attention_visual.models.checkpoint import (
    AUTO_TASK,
    CheckpointSpec,
    pipeline_class_for,
    read_model_index,
    variant_for,
)
from attention_visual.models.tiny import TINY_MODEL_ID
from attention_visual.models.tiny_variants import TINY_MODELS, build_tiny_model, is_tiny_model_id
from attention_visual.models.variants import VARIANTS, WanVariant

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_TRUE_STRINGS = frozenset({"1", "true", "yes", "on"})
_PIPELINE_CLASSES: dict[str, Any] = {
    cls.__name__: cls for cls in (WanPipeline, WanImageToVideoPipeline, WanVACEPipeline, WanVideoToVideoPipeline)
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device spec into a ``torch.device``.

    Args:
        device: ``"auto"`` (CUDA when available, else the CPU), or anything ``torch.device`` accepts
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``).

    Returns:
        The device.

    Raises:
        ConfigError: If the spec is not a device, or names CUDA on a machine without it.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ConfigError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available on this machine; use 'auto' or 'cpu'")
    return resolved


def resolve_dtype(dtype: str | torch.dtype = "auto", device: str | torch.device = "auto") -> torch.dtype:
    """Turn a dtype spec into a ``torch.dtype`` for the text encoder and transformer.

    Args:
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 elsewhere), a name (``"float32"``/``"fp32"``,
            ``"bfloat16"``/``"bf16"``, ``"float16"``/``"fp16"``) or a floating ``torch.dtype``.
        device: The device the model will run on (resolved with :func:`resolve_device`).

    Returns:
        The dtype.

    Raises:
        ConfigError: If the spec is not one of the above.

    Example:
        >>> resolve_dtype("auto", "cpu")
        torch.float32
    """
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ConfigError(f"dtype={dtype} is not a floating-point dtype; use float32, bfloat16 or float16")
        return dtype
    name = dtype.strip().lower()
    if name == "auto":
        return torch.bfloat16 if resolve_device(device).type == "cuda" else torch.float32
    if name not in _DTYPES:
        choices = ", ".join(["auto", *_DTYPES])
        raise ConfigError(f"dtype={dtype!r} is not supported; choose one of: {choices}")
    return _DTYPES[name]


def load_pipeline(
    model_id: str,
    *,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
    enable_model_cpu_offload: bool = False,
    flow_shift: float | None = None,
    local_files_only: bool | None = None,
    pipeline: str = AUTO_TASK,
) -> Any:
    """Load a Wan pipeline, ready to generate.

    Args:
        model_id: ``"tiny"`` for the in-memory test pipeline
            (:func:`~attention_visual.models.tiny.build_tiny_pipeline`), a Hub id such as
            ``"Wan-AI/Wan2.1-T2V-1.3B-Diffusers"`` or ``"Wan-AI/Wan2.1-T2V-14B-Diffusers"``, or a local
            directory written by ``save_pretrained`` (with a ``model_index.json``).
        device: Where to run (see :func:`resolve_device`); ignored with ``enable_model_cpu_offload``
            except to pick the GPU.
        dtype: The text encoder's and transformer's dtype (see :func:`resolve_dtype`). The VAE always
            stays in float32, as Wan recommends.
        enable_model_cpu_offload: Keep the components on the CPU and move each to the GPU only while
            it runs (``pipe.enable_model_cpu_offload()``), instead of ``pipe.to(device)``. Needs CUDA.
        flow_shift: If given, replace the scheduler with
            ``UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)``
            (Wan: 3.0 for 480p, 5.0 for 720p).
        local_files_only: Never reach the network; ``None`` follows the ``HF_HUB_OFFLINE``
            environment variable at call time.
        pipeline: ``"auto"`` (the class in ``model_index.json``) or a task: ``"t2v"``, ``"i2v"``,
            ``"flf2v"``, ``"vace"``, ``"v2v"``; the checkpoint must be able to run it.

    Returns:
        The pipeline (``WanPipeline``, ``WanImageToVideoPipeline``, ``WanVACEPipeline`` or
        ``WanVideoToVideoPipeline``) with ``boundary_ratio``/``expand_timesteps`` as the checkpoint
        says. Footgun: the Hub pipelines are large (1.3B: ~17 GB on disk in float32
        files, 14B: ~70 GB); the first call for a Hub id downloads them unless offline.

    Raises:
        ConfigError: If ``model_id`` is neither ``"tiny"``, an existing pipeline directory nor a
            Hub id; if the checkpoint cannot be loaded (not cached while offline, unknown repo, broken
            files); if the checkpoint is not a supported Wan pipeline (Animate, modular, other) or
            cannot run ``pipeline``; if an option is invalid or CPU offload is asked for without CUDA.
    """
    resolved_device = _resolve_target(device, enable_model_cpu_offload)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    if flow_shift is not None and not flow_shift > 0:
        raise ConfigError(f"flow_shift must be > 0 (Wan: 3.0 for 480p, 5.0 for 720p), got {flow_shift}")

    if is_tiny_model_id(model_id):
        pipe = build_tiny_model(model_id)
        source = f"the built-in tiny pipeline {model_id!r}"
        index = {**pipe.config, "_class_name": type(pipe).__name__}  # what save_pretrained would write
        class_name = pipeline_class_for(read_model_index(index, model_id), pipeline, model_id)
        if class_name != type(pipe).__name__:  # e.g. image-to-video on the text-to-video TI2V-5B
            pipe = _PIPELINE_CLASSES[class_name].from_pipe(pipe)
            pipe.set_progress_bar_config(disable=True)
    else:
        offline = _env_offline() if local_files_only is None else local_files_only
        pipe, source = _from_pretrained(model_id, resolved_dtype, local_files_only=offline, task=pipeline)

    if flow_shift is not None:
        pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)

    _cast_non_vae(pipe, resolved_dtype)
    if enable_model_cpu_offload:
        pipe.enable_model_cpu_offload(device=resolved_device)
        placement = f"model CPU offload to {resolved_device}"
    else:
        pipe.to(resolved_device)
        placement = str(resolved_device)

    logger.info(
        "loaded %s from %s: %s, dtype %s (VAE float32), scheduler %s (flow_shift=%s)",
        type(pipe).__name__,
        source,
        placement,
        resolved_dtype,
        type(pipe.scheduler).__name__,
        pipe.scheduler.config.get("flow_shift"),
    )
    return pipe


def resolve_variant(model_id: str, pipeline: str = AUTO_TASK, *, local_files_only: bool | None = None) -> WanVariant:
    """The variant ``load_pipeline(model_id, pipeline=pipeline)`` runs, from the checkpoint's small config files only.

    Reads ``model_index.json`` and ``transformer/config.json`` (or the tiny model's description), never
    weights, so a batch can check its inputs against the task before any model loads.

    Args:
        model_id: As for :func:`load_pipeline`.
        pipeline: ``"auto"`` or a task.
        local_files_only: As for :func:`load_pipeline`.

    Returns:
        The :class:`~attention_visual.models.variants.WanVariant` (its ``task``: ``"t2v"``, ``"i2v"``,
        ``"flf2v"``, ``"vace"`` or ``"v2v"``; its ``pixels_per_token``, experts, ...).

    Raises:
        ConfigError: The checkpoint cannot be read, is not supported, or cannot run ``pipeline``.

    Example:
        >>> resolve_variant("tiny-flf2v").task, resolve_variant("tiny-ti2v-5b", "i2v").name
        ('flf2v', 'wan2.2-ti2v-5b-i2v')
    """
    if is_tiny_model_id(model_id):
        variant = VARIANTS[TINY_MODELS[model_id].variant]
        spec = CheckpointSpec(
            class_name=variant.pipeline_class,
            boundary_ratio=variant.boundary_ratio,
            expand_timesteps=variant.expand_timesteps,
            has_transformer_2=variant.experts == 2,
            has_image_encoder=variant.image_branch,
            first_last_frame=variant.task == "flf2v",
        )
    else:
        offline = _env_offline() if local_files_only is None else local_files_only
        spec = _read_spec(model_id, local_files_only=offline)
    pipeline_class_for(spec, pipeline, model_id)
    return variant_for(spec, pipeline)


def _read_spec(model_id: str, *, local_files_only: bool) -> CheckpointSpec:
    """A checkpoint's :class:`CheckpointSpec` from its model_index.json and transformer/config.json."""
    local_dir = _classify(model_id)
    location = str(local_dir) if local_dir is not None else model_id
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
            index: Any = WanPipeline.load_config(location, local_files_only=local_files_only)
            spec = read_model_index(index, model_id)
            if spec.class_name != "WanImageToVideoPipeline":
                return spec
            transformer: Any = WanTransformer3DModel.load_config(
                location, subfolder="transformer" if spec.has_transformer else "transformer_2",
                local_files_only=local_files_only,
            )  # fmt: skip
    except ConfigError:
        raise
    except (OSError, ValueError, EntryNotFoundError) as exc:
        raise _load_error(model_id, local_dir is None, local_files_only, exc) from exc
    return dataclasses.replace(spec, first_last_frame=transformer.get("pos_embed_seq_len") is not None)


def _resolve_target(device: str | torch.device, enable_model_cpu_offload: bool) -> torch.device:
    """Resolve ``device``, checking that CPU offload has a CUDA device to offload to."""
    if not enable_model_cpu_offload:
        return resolve_device(device)
    if not torch.cuda.is_available():
        raise ConfigError(
            "enable_model_cpu_offload needs a CUDA GPU, and none is available; "
            "drop the option to run on the CPU (slow for real Wan models)"
        )
    resolved = resolve_device(device)
    if resolved.type != "cuda":
        raise ConfigError(f"enable_model_cpu_offload offloads to a CUDA device, but device={device!r}")
    return resolved


def _env_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set to a true value right now."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE_STRINGS


def _classify(model_id: str) -> Path | None:
    """Return the local directory ``model_id`` names, or ``None`` for a Hub id.

    Raises:
        ConfigError: If ``model_id`` looks like a path that is not a pipeline directory, or is
            neither a path nor a Hub id.
    """
    if not model_id.strip():
        raise ConfigError(f"model_id is empty; use {TINY_MODEL_ID!r}, a directory or a Hub id")
    path = Path(model_id).expanduser()
    looks_like_path = (
        path.exists()
        or path.is_absolute()
        or model_id.startswith((".", "~"))
        or "\\" in model_id
        or model_id.count("/") > 1
    )
    if looks_like_path:
        if not path.is_dir():
            raise ConfigError(f"model_id={model_id!r}: no such directory")
        if (path / "modular_model_index.json").is_file() and not (path / "model_index.json").is_file():
            raise ConfigError(
                f"model_id={model_id!r} is a modular diffusers pipeline (modular_model_index.json), which is not "
                "supported; use a *-Diffusers checkpoint with a model_index.json"
            )
        if not (path / "model_index.json").is_file():
            raise ConfigError(
                f"model_id={model_id!r}: the directory has no model_index.json, so it is not a diffusers "
                "pipeline (write one with pipe.save_pretrained(...) or download a *-Diffusers repo)"
            )
        return path
    if _HUB_ID.match(model_id):
        return None
    raise ConfigError(
        f"model_id={model_id!r} is not {TINY_MODEL_ID!r}, an existing directory or a Hub id like "
        "'Wan-AI/Wan2.1-T2V-1.3B-Diffusers'"
    )


def _from_pretrained(model_id: str, dtype: torch.dtype, *, local_files_only: bool, task: str) -> tuple[Any, str]:
    """Load a pipeline from a directory or the Hub, the VAE in float32, wrapping errors in ConfigError.

    The class and its ``boundary_ratio``/``expand_timesteps`` come from ``model_index.json`` (read
    first, so an unsupported checkpoint fails before any weight loads) and ``task``.
    """
    local_dir = _classify(model_id)
    location = str(local_dir) if local_dir is not None else model_id
    source = f"directory {location}" if local_dir is not None else f"Hub repo {model_id}"
    logger.info("loading %s (local_files_only=%s) ...", source, local_files_only)
    try:
        with warnings.catch_warnings():
            # diffusers passes this deprecated argument to huggingface_hub on every Hub lookup.
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
            spec = _read_spec(model_id, local_files_only=local_files_only)
            class_name = pipeline_class_for(spec, task, model_id)
            vae = AutoencoderKLWan.from_pretrained(
                location, subfolder="vae", dtype=torch.float32, local_files_only=local_files_only
            )
            pipe = _PIPELINE_CLASSES[class_name].from_pretrained(
                location,
                vae=vae,
                dtype=dtype,
                local_files_only=local_files_only,
                **spec.pipeline_kwargs(class_name),
            )
    except ConfigError:
        raise
    except (OSError, ValueError, EntryNotFoundError) as exc:
        raise _load_error(model_id, local_dir is None, local_files_only, exc) from exc
    return pipe, source


class CheckpointUnavailableError(ConfigError):
    """A checkpoint's files cannot be read (not downloaded while offline, missing, broken)."""


def _load_error(model_id: str, from_hub: bool, local_files_only: bool, exc: Exception) -> ConfigError:
    """The one-line error of a checkpoint that cannot be read, with the fix."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    hint = (
        "it is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE=1 or "
        "local_files_only=True): download it first with `hf download " + model_id + "`"
        if from_hub and local_files_only
        else "check the id or path, your network and the files"
    )
    return CheckpointUnavailableError(f"cannot load model {model_id!r}: {hint} ({type(exc).__name__}: {first_line})")


def _cast_non_vae(pipe: Any, dtype: torch.dtype) -> None:
    """Cast the text encoder and transformer(s) to ``dtype``; the VAE stays float32."""
    components = pipe.components  # {name: module or None}; registered modules are not typed attributes
    if components["vae"].dtype != torch.float32:  # diffusers warns on every dtype .to(), even a no-op
        components["vae"].to(torch.float32)
    for name in ("text_encoder", "transformer", "transformer_2"):
        module = components.get(name)
        if module is not None and module.dtype != dtype:
            module.to(dtype)

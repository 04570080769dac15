"""Load a pipeline of a supported model family: a tiny offline one, a Hub checkpoint or a local directory.

:func:`load_pipeline` is the one entry point the CLI and the library use. The pipeline class comes
from the checkpoint's ``model_index.json`` through the model families (:mod:`attention_visual.families`:
the family whose pipelines include its ``_class_name`` reads the rest, e.g. Wan2.2 A14B's
``transformer_2`` and ``boundary_ratio``), or from the task asked for (``pipeline="i2v"`` on TI2V-5B,
``"v2v"`` on a Wan2.1 T2V checkpoint). The family loads it as it advises (Wan: the VAE in float32, the
text encoder and transformer in bfloat16 on a GPU, float32 on the CPU) and applies an optional
``flow_shift`` (Wan: a ``UniPCMultistepScheduler``, 3.0 for 480p, 5.0 for 720p). Every foreseeable
failure (a missing directory, a Hub id that is not in the local cache while offline, CPU offload without
a GPU, a pipeline of no supported family) raises a one-line :class:`~attention_visual.errors.ConfigError`
that names the problem and the fix.

Example:
    >>> from attention_visual.models.loading import load_pipeline
    >>> pipe = load_pipeline("tiny")  # no download: built in memory
    >>> type(pipe).__name__
    'WanPipeline'
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

# Concrete modules, not `from diffusers import ...` (see attention_visual.models.tiny for why).
from diffusers.configuration_utils import ConfigMixin
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from huggingface_hub.errors import EntryNotFoundError

from attention_visual.errors import ConfigError
from attention_visual.families import (
    AUTO_TASK,
    ModelFamily,
    Variant,
    checkpoint_rules,
    family_of_class,
    read_model_index,
    tiny_model_variant,
)
from attention_visual.families.registry import CheckpointSpec
from attention_visual.families.runtime import runtime_of
from attention_visual.models.architecture import shipped_config_of
from attention_visual.models.tiny import TINY_MODEL_ID
from attention_visual.models.tiny_variants import build_tiny_model, is_tiny_model_id

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


class _ModelConfig(ConfigMixin):
    """Reads a component's ``config.json`` (any model class) without loading the model."""

    config_name = "config.json"  # type: ignore[assignment]  # diffusers annotates the base's None


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
    """Load a pipeline of a supported model family, ready to generate.

    Args:
        model_id: ``"tiny"`` for the in-memory test pipeline
            (:func:`~attention_visual.models.tiny.build_tiny_pipeline`), a Hub id such as
            ``"Wan-AI/Wan2.1-T2V-1.3B-Diffusers"`` or ``"Wan-AI/Wan2.1-T2V-14B-Diffusers"``, or a local
            directory written by ``save_pretrained`` (with a ``model_index.json``).
        device: Where to run (see :func:`resolve_device`); ignored with ``enable_model_cpu_offload``
            except to pick the GPU.
        dtype: The text encoder's and transformer's dtype (see :func:`resolve_dtype`); the family may keep
            a component in another (Wan: the VAE in float32).
        enable_model_cpu_offload: Keep the components on the CPU and move each to the GPU only while
            it runs (``pipe.enable_model_cpu_offload()``), instead of ``pipe.to(device)``. Needs CUDA.
        flow_shift: If given, the family applies it (Wan: replaces the scheduler with
            ``UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)``; 3.0 for
            480p, 5.0 for 720p).
        local_files_only: Never reach the network; ``None`` follows the ``HF_HUB_OFFLINE``
            environment variable at call time.
        pipeline: ``"auto"`` (the class in ``model_index.json``) or a task of its family (Wan: ``"t2v"``,
            ``"i2v"``, ``"flf2v"``, ``"vace"``, ``"v2v"``); the checkpoint must be able to run it.

    Returns:
        The pipeline (e.g. ``WanPipeline``) with the options its checkpoint gives (Wan:
        ``boundary_ratio``/``expand_timesteps``). Footgun: the Hub pipelines are large (Wan 1.3B: ~17 GB
        on disk in float32 files, 14B: ~70 GB); the first call for a Hub id downloads them unless offline.

    Raises:
        ConfigError: If ``model_id`` is neither a tiny model id, an existing pipeline directory nor a
            Hub id; if the checkpoint cannot be loaded (not cached while offline, unknown repo, broken
            files); if the checkpoint is not a pipeline of a supported family (or one it refuses, or a
            modular pipeline) or cannot run ``pipeline``; if an option is invalid or CPU offload is asked
            for without CUDA.
    """
    resolved_device = _resolve_target(device, enable_model_cpu_offload)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    if flow_shift is not None and not flow_shift > 0:
        raise ConfigError(f"flow_shift must be > 0 (e.g. Wan: 3.0 for 480p, 5.0 for 720p), got {flow_shift}")

    if is_tiny_model_id(model_id):
        pipe = build_tiny_model(model_id)
        source = f"the built-in tiny pipeline {model_id!r}"
        index = {**pipe.config, "_class_name": type(pipe).__name__}  # what save_pretrained would write
        spec = read_model_index(index, model_id)
        family = _family(spec)
        class_name = checkpoint_rules(family).pipeline_class_for(spec, pipeline, model_id)
        if class_name != type(pipe).__name__:  # e.g. image-to-video on the text-to-video TI2V-5B
            pipe = runtime_of(family).pipeline_class(class_name).from_pipe(pipe)
            pipe.set_progress_bar_config(disable=True)
    else:
        offline = _env_offline() if local_files_only is None else local_files_only
        pipe, family, source = _from_pretrained(model_id, resolved_dtype, local_files_only=offline, task=pipeline)

    runtime = runtime_of(family)
    if flow_shift is not None:
        runtime.set_flow_shift(pipe, flow_shift)

    runtime.cast(pipe, resolved_dtype)
    if enable_model_cpu_offload:
        pipe.enable_model_cpu_offload(device=resolved_device)
        placement = f"model CPU offload to {resolved_device}"
    else:
        pipe.to(resolved_device)
        placement = str(resolved_device)

    logger.info(
        "loaded %s from %s: %s, dtype %s (VAE %s), scheduler %s (flow_shift=%s)",
        type(pipe).__name__,
        source,
        placement,
        resolved_dtype,
        pipe.vae.dtype,
        type(pipe.scheduler).__name__,
        pipe.scheduler.config.get("flow_shift"),
    )
    return pipe


def resolve_variant(model_id: str, pipeline: str = AUTO_TASK, *, local_files_only: bool | None = None) -> Variant:
    """The variant ``load_pipeline(model_id, pipeline=pipeline)`` runs, from the checkpoint's small config files only.

    Reads ``model_index.json`` and ``transformer/config.json`` (or the tiny model's description), never
    weights, so a batch can check its inputs against the task before any model loads.

    Args:
        model_id: As for :func:`load_pipeline`.
        pipeline: ``"auto"`` or a task.
        local_files_only: As for :func:`load_pipeline`.

    Returns:
        The :class:`~attention_visual.families.Variant` (its family, its ``task``, its
        ``pixels_per_cell``, experts, ...).

    Raises:
        ConfigError: The checkpoint cannot be read, is not supported, or cannot run ``pipeline``.

    Example:
        >>> resolve_variant("tiny-flf2v").task, resolve_variant("tiny-ti2v-5b", "i2v").name
        ('flf2v', 'wan2.2-ti2v-5b-i2v')
    """
    tiny = tiny_model_variant(model_id)
    if tiny is not None:
        family = _family_named(tiny.pipeline_class)
        spec = checkpoint_rules(family).spec_of_variant(tiny)
    else:
        offline = _env_offline() if local_files_only is None else local_files_only
        spec = _read_spec(model_id, local_files_only=offline)
        family = _family(spec)
    rules = checkpoint_rules(family)
    rules.pipeline_class_for(spec, pipeline, model_id)
    return rules.variant_for(spec, pipeline)


def _family(spec: CheckpointSpec) -> ModelFamily:
    """The family of a checkpoint the registry has read (its class is one of a family's)."""
    return _family_named(spec.class_name)


def _family_named(class_name: str) -> ModelFamily:
    family = family_of_class(class_name)
    if family is None:  # read_model_index refused every other class
        raise ConfigError(f"{class_name} is not a pipeline of a supported family")
    return family


def _read_spec(model_id: str, *, local_files_only: bool) -> CheckpointSpec:
    """A checkpoint's facts from its model_index.json (and its transformer/config.json where the family needs it)."""
    local_dir = _classify(model_id)
    location = str(local_dir) if local_dir is not None else model_id
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
            index: Any = DiffusionPipeline.load_config(location, local_files_only=local_files_only)
            spec = read_model_index(index, model_id)
            rules = checkpoint_rules(_family(spec))
            if spec.class_name not in rules.TRANSFORMER_CONFIG_CLASSES:
                return spec
            subfolder = "transformer" if getattr(spec, "has_transformer", True) else "transformer_2"
            transformer: Any = _ModelConfig.load_config(
                location, subfolder=subfolder, local_files_only=local_files_only
            )
    except ConfigError:
        raise
    except (OSError, ValueError, EntryNotFoundError) as exc:
        shipped = shipped_config_of(model_id) if local_dir is None and local_files_only else None
        if shipped is None:
            raise _load_error(model_id, local_dir is None, local_files_only, exc) from exc
        # a public checkpoint not downloaded yet: its configs ship with the package (models/configs)
        spec = read_model_index(shipped["model_index"], model_id)
        rules, transformer = checkpoint_rules(_family(spec)), shipped["transformer"]
    return rules.with_transformer_config(spec, transformer)


def _resolve_target(device: str | torch.device, enable_model_cpu_offload: bool) -> torch.device:
    """Resolve ``device``, checking that CPU offload has a CUDA device to offload to."""
    if not enable_model_cpu_offload:
        return resolve_device(device)
    if not torch.cuda.is_available():
        raise ConfigError(
            "enable_model_cpu_offload needs a CUDA GPU, and none is available; "
            "drop the option to run on the CPU (slow for real models)"
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


def _from_pretrained(
    model_id: str, dtype: torch.dtype, *, local_files_only: bool, task: str
) -> tuple[Any, ModelFamily, str]:
    """Load a pipeline from a directory or the Hub, as its family advises, wrapping errors in ConfigError.

    The class and its options come from ``model_index.json`` (read first, so an unsupported checkpoint
    fails before any weight loads) and ``task``.
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
            family = _family(spec)
            class_name = checkpoint_rules(family).pipeline_class_for(spec, task, model_id)
            pipe = runtime_of(family).from_pretrained(
                class_name, location, spec, dtype=dtype, local_files_only=local_files_only
            )
    except ConfigError:
        raise
    except (OSError, ValueError, EntryNotFoundError) as exc:
        raise _load_error(model_id, local_dir is None, local_files_only, exc) from exc
    return pipe, family, source


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

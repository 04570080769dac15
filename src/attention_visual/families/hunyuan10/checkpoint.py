"""What a HunyuanVideo checkpoint's ``model_index.json`` says, and which pipeline runs a task on it (no torch).

=================================  =========  ==============================================
checkpoint ``_class_name``         task       notes
=================================  =========  ==============================================
``HunyuanVideoPipeline``           ``t2v``    hunyuanvideo-community/HunyuanVideo
=================================  =========  ==============================================

Example:
    >>> spec = read_model_index({"_class_name": "HunyuanVideoPipeline"})
    >>> pipeline_class_for(spec, "t2v"), variant_for(spec, "auto").name
    ('HunyuanVideoPipeline', 'hunyuanvideo-t2v')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.hunyuan10.facts import T2V_PIPELINE, VARIANTS
from attention_visual.families.spec import AUTO_TASK, ClassCheckpoint, Variant

#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES = {"t2v": T2V_PIPELINE}
#: No variant depends on the transformer's ``config.json``.
TRANSFORMER_CONFIG_CLASSES: tuple[str, ...] = ()

_TASKS = {cls: task for task, cls in TASK_PIPELINES.items()}
_VARIANT_OF = {T2V_PIPELINE: "hunyuanvideo-t2v"}

CheckpointSpec = ClassCheckpoint
"""A HunyuanVideo checkpoint's facts are its class (one transformer, no pipeline options)."""


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """The checkpoint's class.

    Raises:
        ConfigError: Not one of the HunyuanVideo pipelines read here; one line.
    """
    return ClassCheckpoint.read(data, _TASKS, source)


def with_transformer_config(spec: CheckpointSpec, config: Mapping[str, Any]) -> CheckpointSpec:
    """``spec`` unchanged: no variant depends on the transformer's config."""
    return spec


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint.

    Raises:
        ConfigError: ``task`` is unknown or the checkpoint cannot run it (names what it can run).
    """
    if task == AUTO_TASK:
        return spec.class_name
    if task not in TASK_PIPELINES:
        raise ConfigError(f"pipeline {task!r} is not one of: {', '.join([AUTO_TASK, *TASK_PIPELINES])}")
    if task != spec.default_task:
        raise ConfigError(f"{source} ({spec.class_name}) cannot run pipeline {task!r}; it runs: {spec.default_task}")
    return TASK_PIPELINES[task]


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The variant of ``spec``'s checkpoint.

    Raises:
        ConfigError: The checkpoint cannot run ``task``.
    """
    pipeline_class_for(spec, task)
    return VARIANTS[_VARIANT_OF[spec.class_name]]


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return ClassCheckpoint(variant.pipeline_class, variant.task)


__all__ = [
    "TASK_PIPELINES",
    "TRANSFORMER_CONFIG_CLASSES",
    "CheckpointSpec",
    "pipeline_class_for",
    "read_model_index",
    "spec_of_variant",
    "variant_for",
    "with_transformer_config",
]

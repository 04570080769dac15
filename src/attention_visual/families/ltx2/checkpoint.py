"""What an LTX-2 checkpoint's ``model_index.json`` says, and which pipeline class runs a task on it (no torch).

Every diffusers LTX-2 checkpoint (LTX-2, LTX-2.3) has the same components (a Gemma-3 tokenizer and encoder,
``LTX2TextConnectors``, one ``LTX2VideoTransformer3DModel``, the video and audio VAEs, a vocoder, a
``FlowMatchEulerDiscreteScheduler``) and no pipeline-level options, so each runs every task; ``auto`` picks
the class its ``model_index.json`` names (``LTX2Pipeline``):

========  ================================
task      pipeline class
========  ================================
``t2v``   ``LTX2Pipeline``
``i2v``   ``LTX2ImageToVideoPipeline``
========  ================================

Example:
    >>> spec = read_model_index({"_class_name": "LTX2Pipeline"})
    >>> spec.experts, spec.default_task, pipeline_class_for(spec, "i2v")
    (1, 't2v', 'LTX2ImageToVideoPipeline')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.ltx2.facts import FAMILY, VARIANTS
from attention_visual.families.spec import AUTO_TASK, Variant

#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES: dict[str, str] = {v.task: v.pipeline_class for v in VARIANTS.values()}
#: No LTX-2 class needs the transformer's ``config.json`` to tell its variant.
TRANSFORMER_CONFIG_CLASSES: tuple[str, ...] = ()

_DEFAULT_TASK = {cls: task for task, cls in TASK_PIPELINES.items()}


@dataclass(frozen=True)
class CheckpointSpec:
    """The pipeline-level facts of an LTX-2 checkpoint: only its class (one transformer, no options)."""

    class_name: str

    @property
    def experts(self) -> int:
        """One transformer."""
        return 1

    @property
    def default_task(self) -> str:
        """The task of the checkpoint's own pipeline class (what ``auto`` picks)."""
        return _DEFAULT_TASK[self.class_name]

    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]:
        """No LTX-2 pipeline takes options beyond its components."""
        return {}


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """Read an LTX-2 checkpoint's parsed ``model_index.json``.

    Raises:
        ConfigError: The class is not an LTX-2 pipeline read here, or the transformer is missing; one line.
    """
    class_name = data.get("_class_name")
    if class_name not in _DEFAULT_TASK:
        raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({', '.join(_DEFAULT_TASK)})")
    transformer = data.get("transformer", ["diffusers", "LTX2VideoTransformer3DModel"])
    if not (isinstance(transformer, list | tuple) and len(transformer) == 2 and transformer[1] is not None):
        raise ConfigError(f"{source}: the {class_name} has no transformer")
    return CheckpointSpec(class_name=class_name)


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint (every LTX-2 checkpoint runs all).

    Raises:
        ConfigError: ``task`` is not an LTX-2 task (names the ones it runs).
    """
    if task == AUTO_TASK:
        return spec.class_name
    if task not in TASK_PIPELINES:
        raise ConfigError(
            f"{source} ({FAMILY.title}, {spec.class_name}) cannot run pipeline {task!r}; "
            f"it runs: {', '.join(TASK_PIPELINES)}"
        )
    return TASK_PIPELINES[task]


def with_transformer_config(spec: CheckpointSpec, config: Mapping[str, Any]) -> CheckpointSpec:
    """The transformer's ``config.json`` adds nothing to an LTX-2 checkpoint's facts."""
    return spec


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return CheckpointSpec(class_name=variant.pipeline_class)


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The variant that runs ``task`` (``auto``: the checkpoint's own) on an LTX-2 checkpoint."""
    task = spec.default_task if task == AUTO_TASK else task
    return next(v for v in VARIANTS.values() if v.task == task)


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

"""What an LTX-Video checkpoint's ``model_index.json`` says, and which pipeline class runs a task on it (no torch).

Every LTX-Video 0.9.x diffusers checkpoint has the same components (T5 tokenizer and encoder, one
``LTXVideoTransformer3DModel``, ``AutoencoderKLLTXVideo``, ``FlowMatchEulerDiscreteScheduler``) and no
pipeline-level options, so each runs every task; ``auto`` picks the class its ``model_index.json`` names
(``LTXPipeline`` for 0.9.0–0.9.5, ``LTXConditionPipeline`` for 0.9.7 and later):

========================  =======================================
task                      pipeline class
========================  =======================================
``t2v``                   ``LTXPipeline``
``i2v``                   ``LTXImageToVideoPipeline``
``condition``             ``LTXConditionPipeline`` (needs a scheduler without dynamic shifting:
                          0.9.5 and later; checked when the pipeline is loaded)
========================  =======================================

Example:
    >>> spec = read_model_index({"_class_name": "LTXConditionPipeline"})
    >>> spec.experts, spec.default_task, pipeline_class_for(spec, "i2v")
    (1, 'condition', 'LTXImageToVideoPipeline')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.ltx.facts import FAMILY, VARIANTS
from attention_visual.families.spec import Variant

#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES: dict[str, str] = {v.task: v.pipeline_class for v in VARIANTS.values()}
#: ``auto``: the task the checkpoint's own pipeline class runs.
AUTO_TASK = "auto"
#: No LTX class needs the transformer's ``config.json`` to tell its variant.
TRANSFORMER_CONFIG_CLASSES: tuple[str, ...] = ()

_DEFAULT_TASK = {cls: task for task, cls in TASK_PIPELINES.items()}


@dataclass(frozen=True)
class CheckpointSpec:
    """The pipeline-level facts of an LTX-Video checkpoint: only its class (one transformer, no options)."""

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
        """No LTX pipeline takes options beyond its components."""
        return {}


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """Read an LTX-Video checkpoint's parsed ``model_index.json``.

    Raises:
        ConfigError: The class is not an LTX pipeline read here, or the transformer is missing; one line.
    """
    class_name = data.get("_class_name")
    if class_name not in _DEFAULT_TASK:
        raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({', '.join(_DEFAULT_TASK)})")
    transformer = data.get("transformer", ["diffusers", "LTXVideoTransformer3DModel"])
    if not (isinstance(transformer, list | tuple) and len(transformer) == 2 and transformer[1] is not None):
        raise ConfigError(f"{source}: the {class_name} has no transformer")
    return CheckpointSpec(class_name=class_name)


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint (every LTX checkpoint runs all).

    Raises:
        ConfigError: ``task`` is not an LTX-Video task (names the ones it runs).
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
    """The transformer's ``config.json`` adds nothing to an LTX checkpoint's facts."""
    return spec


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return CheckpointSpec(class_name=variant.pipeline_class)


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The variant that runs ``task`` (``auto``: the checkpoint's own) on an LTX-Video checkpoint."""
    task = spec.default_task if task == AUTO_TASK else task
    return next(v for v in VARIANTS.values() if v.task == task)


__all__ = [
    "AUTO_TASK",
    "TASK_PIPELINES",
    "TRANSFORMER_CONFIG_CLASSES",
    "CheckpointSpec",
    "pipeline_class_for",
    "read_model_index",
    "spec_of_variant",
    "variant_for",
    "with_transformer_config",
]

"""What a HunyuanVideo-1.5 checkpoint's ``model_index.json`` says, and which pipeline runs a task on it (no torch).

The text-to-video and image-to-video checkpoints are different transformers (``480p_t2v``, ``480p_i2v``,
``720p_t2v``, ``720p_i2v``); each runs its own task. Image-to-video makes only the sizes of the resolution
buckets of its transformer's ``target_size`` (640 for 480p, 960 for 720p), read from
``transformer/config.json`` (:data:`TRANSFORMER_CONFIG_CLASSES`).

==========================================  =========  ============================================
checkpoint ``_class_name``                  task       notes
==========================================  =========  ============================================
``HunyuanVideo15Pipeline``                  ``t2v``    any multiple of 16 px
``HunyuanVideo15ImageToVideoPipeline``      ``i2v``    the buckets of ``target_size``
==========================================  =========  ============================================

Example:
    >>> spec = with_transformer_config(read_model_index({"_class_name": I2V_PIPELINE}), {"target_size": 640})
    >>> variant = variant_for(spec, "auto")
    >>> variant.name, (480, 848) in variant.frame_sizes, (480, 480) in variant.frame_sizes
    ('hunyuanvideo1.5-i2v', True, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.common.checkpoints import check_known_task
from attention_visual.families.hunyuan15.facts import I2V_PIPELINE, T2V_PIPELINE, VARIANTS, resolution_buckets
from attention_visual.families.spec import AUTO_TASK, Variant

#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES = {"t2v": T2V_PIPELINE, "i2v": I2V_PIPELINE}
#: The image-to-video transformer's ``config.json`` says its resolution buckets (``target_size``).
TRANSFORMER_CONFIG_CLASSES = (I2V_PIPELINE,)

_TASKS = {T2V_PIPELINE: "t2v", I2V_PIPELINE: "i2v"}
_VARIANT_OF = {T2V_PIPELINE: "hunyuanvideo1.5-t2v", I2V_PIPELINE: "hunyuanvideo1.5-i2v"}


@dataclass(frozen=True)
class CheckpointSpec:
    """The pipeline-level facts of a HunyuanVideo-1.5 checkpoint.

    Attributes:
        class_name: The pipeline class it was saved from (``_class_name``).
        target_size: The transformer's ``target_size`` (image-to-video: its resolution buckets), or None
            when unknown.
    """

    class_name: str
    target_size: int | None = None

    @property
    def experts(self) -> int:
        """One transformer."""
        return 1

    @property
    def default_task(self) -> str:
        return _TASKS[self.class_name]

    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]:
        """No pipeline-level options."""
        return {}


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """The checkpoint's class (its buckets come from :func:`with_transformer_config`).

    Raises:
        ConfigError: Not one of the HunyuanVideo-1.5 pipelines; one line.
    """
    class_name = data.get("_class_name")
    if class_name not in _TASKS:
        raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({', '.join(_TASKS)})")
    return CheckpointSpec(class_name)


def with_transformer_config(spec: CheckpointSpec, config: Mapping[str, Any]) -> CheckpointSpec:
    """``spec`` with the ``target_size`` its ``transformer/config.json`` says."""
    size = config.get("target_size")
    return dataclasses.replace(spec, target_size=int(size) if isinstance(size, int) else None)


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint.

    Raises:
        ConfigError: ``task`` is unknown or the checkpoint cannot run it (names what it can run).
    """
    if task == AUTO_TASK:
        return spec.class_name
    check_known_task(task, TASK_PIPELINES)
    if task != spec.default_task:
        raise ConfigError(
            f"{source} ({spec.class_name}) cannot run pipeline {task!r}; it runs: {spec.default_task} "
            "(the text-to-video and image-to-video checkpoints are different transformers)"
        )
    return TASK_PIPELINES[task]


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The variant of ``spec``'s checkpoint (image-to-video: with the frame sizes of its buckets).

    Raises:
        ConfigError: The checkpoint cannot run ``task``.
    """
    pipeline_class_for(spec, task)
    variant = VARIANTS[_VARIANT_OF[spec.class_name]]
    if spec.class_name == I2V_PIPELINE and spec.target_size is not None:
        return variant.replace(frame_sizes=resolution_buckets(spec.target_size))
    return variant


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return CheckpointSpec(variant.pipeline_class)


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

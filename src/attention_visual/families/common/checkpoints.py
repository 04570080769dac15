"""Checkpoint rules of a family whose checkpoints differ only by their pipeline class (no torch).

Where every checkpoint of a family has the same components, one transformer and no pipeline-level options
(LTX-Video, LTX-2), each runs every task of the family, and ``auto`` picks the class its
``model_index.json`` names. A family's ``checkpoint`` module binds one :class:`ClassOnlyCheckpoints` and
exports its methods as the module-level functions
:class:`~attention_visual.families.registry.CheckpointRules` asks for.

Example:
    >>> from attention_visual.families.spec import Variant
    >>> t2v = Variant("x-t2v", "x", "XPipeline", "t2v", ("blocks",), "attn2")
    >>> i2v = Variant("x-i2v", "x", "XImageToVideoPipeline", "i2v", ("blocks",), "attn2")
    >>> rules = ClassOnlyCheckpoints("X", (t2v, i2v), transformer_class="XTransformer")
    >>> spec = rules.read_model_index({"_class_name": "XPipeline"})
    >>> spec.experts, spec.default_task, rules.pipeline_class_for(spec, "i2v")
    (1, 't2v', 'XImageToVideoPipeline')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.spec import AUTO_TASK, Variant


@dataclass(frozen=True)
class ClassOnlySpec:
    """The pipeline-level facts of such a checkpoint: its class and the task that class runs."""

    class_name: str
    default_task: str

    @property
    def experts(self) -> int:
        """One transformer."""
        return 1

    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]:
        """No pipeline of such a family takes options beyond its components."""
        return {}


class ClassOnlyCheckpoints:
    """The ``model_index.json`` rules of a family whose checkpoints run every task (one variant a task).

    Args:
        title: The family's title, for messages (``"LTX-2"``).
        variants: The family's variants, one per task.
        transformer_class: The transformer class a ``model_index.json`` names when it names none.
    """

    #: No class of such a family needs the transformer's ``config.json`` to tell its variant.
    TRANSFORMER_CONFIG_CLASSES: tuple[str, ...] = ()

    def __init__(self, title: str, variants: Iterable[Variant], *, transformer_class: str) -> None:
        self.title = title
        self.variants = tuple(variants)
        self.transformer_class = transformer_class
        #: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
        self.task_pipelines: dict[str, str] = {v.task: v.pipeline_class for v in self.variants}
        self._default_task = {cls: task for task, cls in self.task_pipelines.items()}

    def read_model_index(self, data: Mapping[str, Any], source: str = "model_index.json") -> ClassOnlySpec:
        """Read a checkpoint's parsed ``model_index.json``.

        Raises:
            ConfigError: The class is not a pipeline of the family read here, or the transformer is missing.
        """
        class_name = data.get("_class_name")
        if class_name not in self._default_task:
            known = ", ".join(self._default_task)
            raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({known})")
        transformer = data.get("transformer", ["diffusers", self.transformer_class])
        if not (isinstance(transformer, list | tuple) and len(transformer) == 2 and transformer[1] is not None):
            raise ConfigError(f"{source}: the {class_name} has no transformer")
        return ClassOnlySpec(class_name, self._default_task[class_name])

    def pipeline_class_for(self, spec: ClassOnlySpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
        """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint (every checkpoint runs all).

        Raises:
            ConfigError: ``task`` is not a task of the family (names the ones it runs).
        """
        if task == AUTO_TASK:
            return spec.class_name
        if task not in self.task_pipelines:
            raise ConfigError(
                f"{source} ({self.title}, {spec.class_name}) cannot run pipeline {task!r}; "
                f"it runs: {', '.join(self.task_pipelines)}"
            )
        return self.task_pipelines[task]

    def with_transformer_config(self, spec: ClassOnlySpec, config: Mapping[str, Any]) -> ClassOnlySpec:
        """The transformer's ``config.json`` adds nothing to such a checkpoint's facts."""
        return spec

    def spec_of_variant(self, variant: Variant) -> ClassOnlySpec:
        """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
        return ClassOnlySpec(variant.pipeline_class, variant.task)

    def variant_for(self, spec: ClassOnlySpec, task: str) -> Variant:
        """The variant that runs ``task`` (``auto``: the checkpoint's own)."""
        task = spec.default_task if task == AUTO_TASK else task
        return next(v for v in self.variants if v.task == task)


def check_known_task(task: str, tasks: Iterable[str]) -> None:
    """A family's ``pipeline_class_for`` first: ``task`` must be ``auto`` or one of the family's ``tasks``.

    Raises:
        ConfigError: Neither (the message lists them, ``auto`` first).
    """
    names = list(tasks)
    if task != AUTO_TASK and task not in names:
        raise ConfigError(f"pipeline {task!r} is not one of: {', '.join([AUTO_TASK, *names])}")


__all__ = ["ClassOnlyCheckpoints", "ClassOnlySpec", "check_known_task"]

"""What a Wan checkpoint's ``model_index.json`` says, and which pipeline class runs a task on it (no torch).

A diffusers checkpoint names its pipeline class in ``model_index.json`` (``_class_name``) and keeps
there the pipeline-level options that are not weights: ``boundary_ratio`` (Wan2.2 A14B: the step at
which the low-noise expert ``transformer_2`` takes over), ``expand_timesteps`` (Wan2.2 TI2V-5B: one
timestep per video token) and which optional components exist (``transformer_2``, ``image_encoder``).
:func:`read_model_index` turns that file into a :class:`CheckpointSpec`; :func:`pipeline_class_for`
picks the pipeline class that runs a *task* (``t2v``, ``i2v``, ``flf2v``, ``vace``, ``v2v``) on it, or
says in one line why the checkpoint cannot run it. Nothing here imports torch. The registry
(:func:`attention_visual.families.read_model_index`) sends a ``model_index.json`` here when its
``_class_name`` is a Wan pipeline; a class of no family is refused there.

==========================  ==========================  =====================================
checkpoint ``_class_name``  tasks it runs               notes
==========================  ==========================  =====================================
``WanPipeline``             ``t2v``, ``v2v``            ``i2v`` too with ``expand_timesteps`` (TI2V-5B);
                                                        ``v2v`` needs one transformer, no expand
``WanImageToVideoPipeline`` ``i2v``, ``flf2v``          Wan2.1 I2V/FLF2V (CLIP image encoder), Wan2.2 I2V-A14B
``WanVACEPipeline``         ``vace``
``WanVideoToVideoPipeline`` ``v2v``, ``t2v``
``SkyReelsV2Pipeline``      ``t2v``
``SkyReelsV2ImageToVideo``  ``i2v``                     CLIP image branch (``...Pipeline``)
``SkyReelsV2Diffusion``     ``t2v``, ``i2v``            diffusion forcing (``...ForcingPipeline``;
                                                        ``i2v``: ``...ForcingImageToVideoPipeline``)
``ChronoEditPipeline``      ``image_edit``              the image and the prompt's edit (5 frames)
``LucyEditPipeline``        ``video_edit``              Wan2.2-TI2V-5B-based; optional ``transformer_2``
==========================  ==========================  =====================================

Example:
    >>> spec = read_model_index({"_class_name": "WanPipeline", "boundary_ratio": 0.875,
    ...                          "transformer_2": ["diffusers", "WanTransformer3DModel"]})
    >>> spec.experts, spec.default_task, pipeline_class_for(spec, "auto")
    (2, 't2v', 'WanPipeline')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.common.checkpoints import check_known_task
from attention_visual.families.spec import AUTO_TASK, Variant
from attention_visual.families.wan.facts import (
    CHRONOEDIT_PIPELINE,
    FAMILY,
    LUCY_EDIT_PIPELINE,
    SKYREELS_DF_I2V_PIPELINE,
    SKYREELS_DF_PIPELINE,
    SKYREELS_I2V_PIPELINE,
    SKYREELS_T2V_PIPELINE,
    VARIANTS,
)

#: The derivatives' checkpoint classes: ``{checkpoint class: {task: (pipeline class, variant)}}``, the
#: checkpoint's own task first (a diffusion-forcing checkpoint also runs its image-to-video pipeline).
_DERIVED: dict[str, dict[str, tuple[str, str]]] = {
    SKYREELS_T2V_PIPELINE: {"t2v": (SKYREELS_T2V_PIPELINE, "skyreels-v2-t2v")},
    SKYREELS_I2V_PIPELINE: {"i2v": (SKYREELS_I2V_PIPELINE, "skyreels-v2-i2v")},
    SKYREELS_DF_PIPELINE: {
        "t2v": (SKYREELS_DF_PIPELINE, "skyreels-v2-df-t2v"),
        "i2v": (SKYREELS_DF_I2V_PIPELINE, "skyreels-v2-df-i2v"),
    },
    SKYREELS_DF_I2V_PIPELINE: {
        "i2v": (SKYREELS_DF_I2V_PIPELINE, "skyreels-v2-df-i2v"),
        "t2v": (SKYREELS_DF_PIPELINE, "skyreels-v2-df-t2v"),
    },
    CHRONOEDIT_PIPELINE: {"image_edit": (CHRONOEDIT_PIPELINE, "chronoedit")},
    LUCY_EDIT_PIPELINE: {"video_edit": (LUCY_EDIT_PIPELINE, "lucy-edit")},
}
#: Tasks a batch can ask for (``generation.pipeline``), and the Wan pipeline class of each (a derivative
#: checkpoint's own classes are in ``_DERIVED``).
TASK_PIPELINES: dict[str, str] = {
    task: next(v.pipeline_class for v in VARIANTS.values() if v.task == task) for task in FAMILY.tasks
}
#: The transformer's ``config.json`` is needed too (FLF2V is told from I2V by ``pos_embed_seq_len``).
TRANSFORMER_CONFIG_CLASSES = ("WanImageToVideoPipeline",)
#: Checkpoint classes that take ``boundary_ratio`` (two experts) and ``expand_timesteps`` from model_index.json.
_EXPERT_CLASSES = ("WanPipeline", "WanImageToVideoPipeline", "WanVACEPipeline", LUCY_EDIT_PIPELINE)
_EXPAND_CLASSES = ("WanPipeline", "WanImageToVideoPipeline", LUCY_EDIT_PIPELINE)

_DEFAULT_TASK: dict[str, str] = {
    "WanPipeline": "t2v",
    "WanImageToVideoPipeline": "i2v",
    "WanVACEPipeline": "vace",
    "WanVideoToVideoPipeline": "v2v",
    **{cls: next(iter(tasks)) for cls, tasks in _DERIVED.items()},
}


@dataclass(frozen=True)
class CheckpointSpec:
    """The pipeline-level facts of a checkpoint (from its ``model_index.json``).

    Attributes:
        class_name: The pipeline class the checkpoint was saved from (``_class_name``).
        boundary_ratio: Wan2.2 A14B: steps with ``t >= boundary_ratio * num_train_timesteps`` run
            ``transformer``, later ones ``transformer_2``; None for one-transformer checkpoints.
        expand_timesteps: Wan2.2 TI2V-5B: the timestep is given per video token.
        has_transformer: Whether ``transformer`` (the high-noise expert of A14B) is present.
        has_transformer_2: Whether ``transformer_2`` (the low-noise expert of A14B) is present.
        has_image_encoder: Whether a CLIP ``image_encoder`` is present (Wan2.1 I2V and FLF2V).
        first_last_frame: The transformer embeds two images' tokens (``pos_embed_seq_len``: FLF2V);
            read from ``transformer/config.json``, not ``model_index.json``.
    """

    class_name: str
    boundary_ratio: float | None = None
    expand_timesteps: bool = False
    has_transformer: bool = True
    has_transformer_2: bool = False
    has_image_encoder: bool = False
    first_last_frame: bool = False

    @property
    def experts(self) -> int:
        """How many transformers take turns over the steps: 2 for Wan2.2 A14B, else 1."""
        return int(self.has_transformer) + int(self.has_transformer_2)

    @property
    def default_task(self) -> str:
        """The task of the checkpoint's own pipeline class (what ``auto`` picks); ``flf2v`` for FLF2V."""
        return "flf2v" if self.first_last_frame else _DEFAULT_TASK[self.class_name]

    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]:
        """The options ``class_name.from_pretrained`` is given: the ones that class accepts."""
        kwargs: dict[str, Any] = {}
        if class_name in _EXPERT_CLASSES:
            kwargs["boundary_ratio"] = self.boundary_ratio
        if class_name in _EXPAND_CLASSES:
            kwargs["expand_timesteps"] = self.expand_timesteps
        return kwargs


def _present(entry: Any) -> bool:
    """Whether a component entry of model_index.json (``["diffusers", "Cls"]`` or ``[null, null]``) exists."""
    return isinstance(entry, list | tuple) and len(entry) == 2 and entry[1] is not None


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """Read the pipeline-level facts of a checkpoint from its parsed ``model_index.json``.

    Args:
        data: The parsed file.
        source: How error messages name it (the model id).

    Returns:
        The checkpoint's facts.

    Raises:
        ConfigError: The class is not one of the Wan pipelines read here, or ``boundary_ratio``/
            ``transformer_2`` do not fit together; one line.
    """
    class_name = data.get("_class_name")
    if class_name not in _DEFAULT_TASK:
        raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({', '.join(_DEFAULT_TASK)})")
    ratio = data.get("boundary_ratio")
    if ratio is not None and (
        isinstance(ratio, bool) or not isinstance(ratio, int | float) or not (0 < ratio <= 1) or math.isnan(ratio)
    ):
        raise ConfigError(f"{source}: boundary_ratio must be in (0, 1] or null, got {ratio!r}")
    expand = data.get("expand_timesteps", False)
    if not isinstance(expand, bool):
        raise ConfigError(f"{source}: expand_timesteps must be true or false, got {expand!r}")
    spec = CheckpointSpec(
        class_name=class_name,
        boundary_ratio=None if ratio is None else float(ratio),
        expand_timesteps=expand,
        has_transformer=_present(data.get("transformer", ["diffusers", "WanTransformer3DModel"])),
        has_transformer_2=_present(data.get("transformer_2")),
        has_image_encoder=_present(data.get("image_encoder")),
    )
    if class_name not in _EXPERT_CLASSES and (spec.boundary_ratio is not None or spec.has_transformer_2):
        raise ConfigError(f"{source}: a {class_name} has one transformer; boundary_ratio/transformer_2 are not read")
    if spec.has_transformer_2 and spec.boundary_ratio is None:
        raise ConfigError(f"{source} has a transformer_2 (Wan2.2 A14B) but no boundary_ratio in model_index.json")
    if spec.boundary_ratio is not None and not spec.has_transformer_2:
        raise ConfigError(f"{source} sets boundary_ratio {spec.boundary_ratio} but has no transformer_2 to switch to")
    if not spec.has_transformer and spec.boundary_ratio != 1.0:
        raise ConfigError(f"{source} has no transformer; that only works with boundary_ratio 1.0 (low-noise only)")
    return spec


def tasks_of(spec: CheckpointSpec) -> tuple[str, ...]:
    """The tasks ``spec``'s checkpoint can run, its default first."""
    if spec.class_name in _DERIVED:
        return tuple(_DERIVED[spec.class_name])
    if spec.class_name == "WanPipeline":
        tasks = ["t2v"]
        if spec.expand_timesteps:
            tasks.append("i2v")  # TI2V-5B: the image becomes the first latent frame
        elif spec.experts == 1:
            tasks.append("v2v")  # WanVideoToVideoPipeline takes neither transformer_2 nor expand_timesteps
        return tuple(tasks)
    if spec.class_name == "WanImageToVideoPipeline":
        return ("i2v", "flf2v")
    if spec.class_name == "WanVideoToVideoPipeline":
        return ("v2v", "t2v")
    return ("vace",)


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The name of the diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint.

    Args:
        spec: The checkpoint's facts.
        task: ``"auto"`` (the checkpoint's own class) or a key of :data:`TASK_PIPELINES`.
        source: How error messages name the checkpoint.

    Raises:
        ConfigError: ``task`` is unknown or the checkpoint cannot run it (names what it can run).
    """
    if task == AUTO_TASK:
        return spec.class_name
    check_known_task(task, TASK_PIPELINES)
    allowed = tasks_of(spec)
    if task not in allowed:
        raise ConfigError(
            f"{source} ({spec.class_name}, {spec.experts} transformer(s), expand_timesteps={spec.expand_timesteps}) "
            f"cannot run pipeline {task!r}; it runs: {', '.join(allowed)}"
        )
    derived = _DERIVED.get(spec.class_name)
    return derived[task][0] if derived is not None else TASK_PIPELINES[task]


def with_transformer_config(spec: CheckpointSpec, config: Mapping[str, Any]) -> CheckpointSpec:
    """``spec`` with what the transformer's ``config.json`` adds (FLF2V: ``pos_embed_seq_len``)."""
    return dataclasses.replace(spec, first_last_frame=config.get("pos_embed_seq_len") is not None)


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return CheckpointSpec(
        class_name=variant.pipeline_class,
        boundary_ratio=variant.boundary_ratio,
        expand_timesteps=variant.expand_timesteps,
        has_transformer_2=variant.experts == 2,
        has_image_encoder=variant.image_branch,
        first_last_frame=variant.task == "flf2v",
    )


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The :data:`~attention_visual.families.wan.facts.VARIANTS` entry that runs ``task`` on ``spec``'s checkpoint.

    ``task`` must be one the checkpoint runs (see :func:`pipeline_class_for`); ``auto`` is resolved first.
    """
    task = spec.default_task if task == AUTO_TASK else task
    derived = _DERIVED.get(spec.class_name)
    if derived is not None:
        return VARIANTS[derived[task][1]]
    if task in ("t2v", "i2v") and spec.expand_timesteps:
        name = f"wan2.2-ti2v-5b-{task}"
    elif task in ("t2v", "i2v") and spec.experts == 2:
        name = f"wan2.2-{task}-a14b"
    else:
        name = {"t2v": "wan2.1-t2v", "i2v": "wan2.1-i2v-14b", "flf2v": "wan2.1-flf2v-14b"}.get(task, "")
        name = name or {"vace": "wan2.1-vace", "v2v": "wan2.1-v2v"}[task]
    return VARIANTS[name]


__all__ = [
    "AUTO_TASK",
    "TASK_PIPELINES",
    "TRANSFORMER_CONFIG_CLASSES",
    "CheckpointSpec",
    "pipeline_class_for",
    "read_model_index",
    "spec_of_variant",
    "tasks_of",
    "variant_for",
    "with_transformer_config",
]

"""What a CogVideoX checkpoint's ``model_index.json`` says, and which pipeline runs a task on it (no torch).

The three pipelines share their components (T5 tokenizer and encoder, ``AutoencoderKLCogVideoX``,
``CogVideoXTransformer3DModel``, a CogVideoX scheduler), so a text-to-video checkpoint also runs
video-to-video (``CogVideoXVideoToVideoPipeline.from_pretrained`` on it), and a video-to-video folder
runs text-to-video. Image-to-video needs an I2V checkpoint: its transformer takes the image latents on
twice the channels. Which *version* (1.0 or 1.5: ``patch_size_t``) and whether it has RoPE is in
``transformer/config.json`` (:data:`TRANSFORMER_CONFIG_CLASSES`: every class).

==================================  ==================  ================================================
checkpoint ``_class_name``          tasks it runs       notes
==================================  ==================  ================================================
``CogVideoXPipeline``               ``t2v``, ``v2v``    CogVideoX-2b, -5b, 1.5-5B (1.5: ``t2v`` only)
``CogVideoXImageToVideoPipeline``   ``i2v``             CogVideoX-5b-I2V, 1.5-5B-I2V
``CogVideoXVideoToVideoPipeline``   ``v2v``, ``t2v``
==================================  ==================  ================================================

Example:
    >>> spec = with_transformer_config(read_model_index({"_class_name": "CogVideoXPipeline"}), {"patch_size_t": 2})
    >>> tasks_of(spec), variant_for(spec, "auto").name
    (('t2v',), 'cogvideox1.5-5b')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import ConfigError
from attention_visual.families.cogvideox.facts import (
    I2V_PIPELINE,
    T2V_PIPELINE,
    TEXT_LENGTH,
    V2V_PIPELINE,
    V15_V2V_REFUSAL,
    VAE_SPATIAL_FACTOR,
    VARIANTS,
)
from attention_visual.families.common.checkpoints import check_known_task
from attention_visual.families.spec import AUTO_TASK, Variant

#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES = {"t2v": T2V_PIPELINE, "i2v": I2V_PIPELINE, "v2v": V2V_PIPELINE}
#: The transformer's ``config.json`` says the version (``patch_size_t``) and RoPE: needed for every class.
TRANSFORMER_CONFIG_CLASSES = (T2V_PIPELINE, I2V_PIPELINE, V2V_PIPELINE)

_TASKS = {T2V_PIPELINE: ("t2v", "v2v"), I2V_PIPELINE: ("i2v",), V2V_PIPELINE: ("v2v", "t2v")}


@dataclass(frozen=True)
class CheckpointSpec:
    """The pipeline-level facts of a CogVideoX checkpoint.

    Attributes:
        class_name: The pipeline class it was saved from (``_class_name``).
        v15: CogVideoX 1.5 (the transformer's ``patch_size_t`` is set); from ``transformer/config.json``.
        rope: The transformer applies RoPE (5B, 1.5); from ``transformer/config.json``.
        fixed_size: ``(height, width)`` in pixels when a learned position embedding fixes the frame size
            (CogVideoX-5b-I2V: 480 × 720); from ``transformer/config.json``.
    """

    class_name: str
    v15: bool = False
    rope: bool = True
    fixed_size: tuple[int, int] | None = None

    @property
    def experts(self) -> int:
        """One transformer."""
        return 1

    @property
    def default_task(self) -> str:
        return _TASKS[self.class_name][0]

    def pipeline_kwargs(self, class_name: str) -> dict[str, Any]:
        """No pipeline-level options."""
        return {}


def read_model_index(data: Mapping[str, Any], source: str = "model_index.json") -> CheckpointSpec:
    """The checkpoint's class (the version comes from :func:`with_transformer_config`).

    Raises:
        ConfigError: Not one of the CogVideoX pipelines read here; one line.
    """
    class_name = data.get("_class_name")
    if class_name not in _TASKS:
        raise ConfigError(f"{source} is a {class_name}, not a pipeline this module reads ({', '.join(_TASKS)})")
    return CheckpointSpec(class_name)


def with_transformer_config(spec: CheckpointSpec, config: Mapping[str, Any]) -> CheckpointSpec:
    """``spec`` with the version, RoPE and fixed frame size its ``transformer/config.json`` says."""
    learned = bool(config.get("use_learned_positional_embeddings", False))
    size = (int(config.get("sample_height", 0)), int(config.get("sample_width", 0)))
    return dataclasses.replace(
        spec,
        v15=config.get("patch_size_t") is not None,
        rope=bool(config.get("use_rotary_positional_embeddings", False)),
        fixed_size=(size[0] * VAE_SPATIAL_FACTOR, size[1] * VAE_SPATIAL_FACTOR) if learned else None,
    )


def tasks_of(spec: CheckpointSpec) -> tuple[str, ...]:
    """The tasks ``spec``'s checkpoint can run, its default first (no video-to-video on 1.5)."""
    return tuple(t for t in _TASKS[spec.class_name] if not (spec.v15 and t == "v2v"))


def pipeline_class_for(spec: CheckpointSpec, task: str = AUTO_TASK, source: str = "the checkpoint") -> str:
    """The diffusers pipeline class that runs ``task`` on ``spec``'s checkpoint.

    Raises:
        ConfigError: ``task`` is unknown or the checkpoint cannot run it (names what it can run).
    """
    if spec.v15 and (task == "v2v" or (task == AUTO_TASK and spec.class_name == V2V_PIPELINE)):
        raise ConfigError(f"{source}: {V15_V2V_REFUSAL}")
    if task == AUTO_TASK:
        return spec.class_name
    check_known_task(task, TASK_PIPELINES)
    allowed = tasks_of(spec)
    if task not in allowed:
        raise ConfigError(f"{source} ({spec.class_name}) cannot run pipeline {task!r}; it runs: {', '.join(allowed)}")
    return TASK_PIPELINES[task]


def variant_for(spec: CheckpointSpec, task: str) -> Variant:
    """The variant that runs ``task`` (``auto`` resolved first) on ``spec``'s checkpoint (with its fixed size)."""
    task = spec.default_task if task == AUTO_TASK else task
    if task == "i2v":
        name = "cogvideox1.5-5b-i2v" if spec.v15 else "cogvideox-5b-i2v"
    elif task == "v2v":
        name = "cogvideox-v2v"
    else:
        name = "cogvideox1.5-5b" if spec.v15 else "cogvideox-5b" if spec.rope else "cogvideox-2b"
    # a sin-cos (2B) or learned (5B-I2V) position embedding is laid out for exactly TEXT_LENGTH text tokens
    positional = not spec.rope or spec.fixed_size is not None
    return VARIANTS[name].replace(fixed_size=spec.fixed_size, text_length=TEXT_LENGTH if positional else None)


def spec_of_variant(variant: Variant) -> CheckpointSpec:
    """The checkpoint facts a variant implies (the tiny models have no ``model_index.json`` to read)."""
    return CheckpointSpec(
        variant.pipeline_class, v15=variant.latent_frames_per_cell == 2, rope=variant.name != "cogvideox-2b",
        fixed_size=variant.fixed_size,
    )  # fmt: skip


__all__ = [
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

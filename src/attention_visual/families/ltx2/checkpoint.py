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

from attention_visual.families.common.checkpoints import ClassOnlyCheckpoints, ClassOnlySpec
from attention_visual.families.ltx2.facts import FAMILY, VARIANTS
from attention_visual.families.spec import AUTO_TASK

_RULES = ClassOnlyCheckpoints(FAMILY.title, VARIANTS.values(), transformer_class="LTX2VideoTransformer3DModel")

CheckpointSpec = ClassOnlySpec
#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES: dict[str, str] = _RULES.task_pipelines
#: No LTX-2 class needs the transformer's ``config.json`` to tell its variant.
TRANSFORMER_CONFIG_CLASSES: tuple[str, ...] = _RULES.TRANSFORMER_CONFIG_CLASSES

read_model_index = _RULES.read_model_index
pipeline_class_for = _RULES.pipeline_class_for
with_transformer_config = _RULES.with_transformer_config
spec_of_variant = _RULES.spec_of_variant
variant_for = _RULES.variant_for

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

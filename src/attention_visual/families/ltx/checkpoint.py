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

from attention_visual.families.common.checkpoints import ClassOnlyCheckpoints, ClassOnlySpec
from attention_visual.families.ltx.facts import FAMILY, VARIANTS
from attention_visual.families.spec import AUTO_TASK

_RULES = ClassOnlyCheckpoints(FAMILY.title, VARIANTS.values(), transformer_class="LTXVideoTransformer3DModel")

CheckpointSpec = ClassOnlySpec
#: Tasks a batch can ask for (``generation.pipeline``), and the diffusers pipeline class of each.
TASK_PIPELINES: dict[str, str] = _RULES.task_pipelines
#: No LTX-Video class needs the transformer's ``config.json`` to tell its variant.
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

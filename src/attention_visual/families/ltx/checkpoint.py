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
    >>> spec = RULES.read_model_index({"_class_name": "LTXConditionPipeline"})
    >>> spec.experts, spec.default_task, RULES.pipeline_class_for(spec, "i2v")
    (1, 'condition', 'LTXImageToVideoPipeline')
"""

from __future__ import annotations

from attention_visual.families.common.checkpoints import ClassOnlyCheckpoints
from attention_visual.families.ltx.facts import FAMILY, VARIANTS

RULES = ClassOnlyCheckpoints(FAMILY.title, VARIANTS.values(), transformer_class="LTXVideoTransformer3DModel")
"""The family's ``checkpoints`` (``attention_visual.families.ltx.checkpoint:RULES``)."""

__all__ = ["RULES"]

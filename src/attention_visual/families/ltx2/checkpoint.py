"""What an LTX-2 checkpoint's ``model_index.json`` says, and which pipeline class runs a task on it (no torch).

Every diffusers LTX-2 checkpoint (LTX-2, LTX-2.3) has the same components (a Gemma-3 tokenizer and encoder,
``LTX2TextConnectors``, one ``LTX2VideoTransformer3DModel``, the video and audio VAEs, a vocoder, a
``FlowMatchEulerDiscreteScheduler``) and no pipeline-level options, so each runs every task; ``auto`` picks
the class its ``model_index.json`` names (``LTX2Pipeline``):

=============  ================================
task           pipeline class
=============  ================================
``t2v``        ``LTX2Pipeline``
``i2v``        ``LTX2ImageToVideoPipeline``
``condition``  ``LTX2ConditionPipeline``
=============  ================================

Example:
    >>> spec = RULES.read_model_index({"_class_name": "LTX2Pipeline"})
    >>> spec.experts, spec.default_task, RULES.pipeline_class_for(spec, "i2v")
    (1, 't2v', 'LTX2ImageToVideoPipeline')
"""

from __future__ import annotations

from attention_visual.families.common.checkpoints import ClassOnlyCheckpoints
from attention_visual.families.ltx2.facts import FAMILY, VARIANTS

RULES = ClassOnlyCheckpoints(FAMILY.title, VARIANTS.values(), transformer_class="LTX2VideoTransformer3DModel")
"""The family's ``checkpoints`` (``attention_visual.families.ltx2.checkpoint:RULES``)."""

__all__ = ["RULES"]

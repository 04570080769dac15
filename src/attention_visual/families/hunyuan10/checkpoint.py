"""What a HunyuanVideo checkpoint's ``model_index.json`` says, and which pipeline runs a task on it (no torch).

=================================  =========  ==============================================
checkpoint ``_class_name``         task       notes
=================================  =========  ==============================================
``HunyuanVideoPipeline``           ``t2v``    hunyuanvideo-community/HunyuanVideo
=================================  =========  ==============================================

The checkpoint's class says all (one transformer, no pipeline options): the rules are the family layer's
:class:`~attention_visual.families.common.checkpoints.ClassOnlyCheckpoints`.

Example:
    >>> spec = RULES.read_model_index({"_class_name": "HunyuanVideoPipeline"})
    >>> RULES.pipeline_class_for(spec, "t2v"), RULES.variant_for(spec, "auto").name
    ('HunyuanVideoPipeline', 'hunyuanvideo-t2v')
"""

from __future__ import annotations

from attention_visual.families.common.checkpoints import ClassOnlyCheckpoints
from attention_visual.families.hunyuan10.facts import FAMILY, VARIANTS

RULES = ClassOnlyCheckpoints(FAMILY.title, VARIANTS.values(), transformer_class="HunyuanVideoTransformer3DModel")
"""The family's ``checkpoints`` (``attention_visual.families.hunyuan10.checkpoint:RULES``)."""

__all__ = ["RULES"]

"""The HunyuanVideo-1.5 family: its facts as data (no torch); the torch side is :mod:`.runtime`.

Outside :mod:`attention_visual.families` reach it through the registry
(``attention_visual.families.family_named("hunyuan15")``), never by importing this package.
"""

from attention_visual.families.hunyuan15.facts import FAMILY

__all__ = ["FAMILY"]

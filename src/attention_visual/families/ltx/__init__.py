"""The LTX-Video 0.9.x family: its facts as data (no torch); the torch side is :mod:`.runtime`.

Outside :mod:`attention_visual.families` reach it through the registry
(``attention_visual.families.family_named("ltx")``), never by importing this package.
"""

from attention_visual.families.ltx.facts import FAMILY

__all__ = ["FAMILY"]

"""The LTX-2 family (LTX-2, LTX-2.3): its facts as data (no torch); the torch side is :mod:`.runtime`.

Outside :mod:`attention_visual.families` reach it through the registry
(``attention_visual.families.family_named("ltx2")``), never by importing this package.
"""

from attention_visual.families.ltx2.facts import FAMILY

__all__ = ["FAMILY"]

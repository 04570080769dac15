"""The Wan family (Wan2.1, Wan2.2): its facts as data (no torch); the torch side is :mod:`.runtime`.

Outside :mod:`attention_visual.families` reach it through the registry
(``attention_visual.families.family_named("wan")``), never by importing this package.
"""

from attention_visual.families.wan.facts import FAMILY

__all__ = ["FAMILY"]

"""The CogVideoX family (CogVideoX 1.0 2B/5B, 1.5 5B): its facts as data (no torch); the torch side is :mod:`.runtime`.

Outside :mod:`attention_visual.families` reach it through the registry
(``attention_visual.families.family_named("cogvideox")``), never by importing this package.
"""

from attention_visual.families.cogvideox.facts import FAMILY

__all__ = ["FAMILY"]

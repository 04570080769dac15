"""The tiny offline models written to disk with ``save_pretrained``, for tests of the real loading code.

Import as ``from support.tiny_models import save_tiny_models`` (tests/ is on pytest's pythonpath).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from attention_visual.models import build_tiny_model


def save_tiny_models(root: Path, model_ids: Iterable[str]) -> dict[str, Path]:
    """Write each tiny model (random weights) to ``root/<model id>``; ``{model id: its folder}``."""
    paths = {}
    for model_id in model_ids:
        paths[model_id] = root / model_id
        build_tiny_model(model_id).save_pretrained(paths[model_id])
    return paths

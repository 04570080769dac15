"""Fixtures of the visualizer tests: a synthetic store with known hot spots and a synthetic video."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.attention_visualizer import AttentionVisualizer
from support.maps import write_store, write_video


@pytest.fixture
def viz_store(tmp_path: Path) -> Path:
    """A complete ``attention_maps/`` folder: words ``kiss`` and ``flowers``, 4 steps, 5×3×4 grid."""
    return write_store(tmp_path / "attention_maps")


@pytest.fixture
def viz_video(tmp_path: Path) -> Path:
    """The matching 17-frame 64×48 8 fps generated video."""
    return write_video(tmp_path / "generated.mp4")


@pytest.fixture
def visualizer(viz_store: Path) -> AttentionVisualizer:
    """A visualizer with small step-video frames (200×150) so encoding is quick."""
    return AttentionVisualizer(AttentionAnalyzer(viz_store), figsize=(4, 3), dpi=50, fps=5)

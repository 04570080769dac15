"""Reading stored maps (:class:`AttentionAnalyzer`) and rendering them (:class:`AttentionVisualizer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attention_visual.lazy import lazy_exports
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    from attention_visual.visualization.attention_visualizer import AttentionVisualizer


# The visualizer pulls in matplotlib and the video encoder: import it only when asked for.
__getattr__ = lazy_exports(__name__, {"AttentionVisualizer": ".attention_visualizer"})


__all__ = ["AttentionAnalyzer", "AttentionVisualizer"]

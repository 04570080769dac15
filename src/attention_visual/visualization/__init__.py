"""Reading stored maps (:class:`AttentionAnalyzer`) and rendering them (:class:`AttentionVisualizer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    from attention_visual.visualization.attention_visualizer import AttentionVisualizer


def __getattr__(name: str) -> Any:
    # The visualizer pulls in matplotlib and the video encoder: import it only when asked for.
    if name == "AttentionVisualizer":
        from attention_visual.visualization.attention_visualizer import AttentionVisualizer

        return AttentionVisualizer
    raise AttributeError(name)


__all__ = ["AttentionAnalyzer", "AttentionVisualizer"]

"""attention_visual: see what a text-to-video diffusion model looks at.

Capture the text→video cross-attention of Wan2.1 at every denoising step, store it, and
render it as heatmap videos, overlays and reports.

Example:
    >>> from attention_visual import AttentionCapture, load_pipeline    # doctest: +SKIP
    >>> pipe = load_pipeline("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")          # doctest: +SKIP
    >>> with AttentionCapture(pipe, "a (red car) on a road") as capture:  # doctest: +SKIP
    ...     pipe(prompt=capture.prompt)
    >>> capture.word_maps()["red car"].shape   # [step, frame, y, x]     # doctest: +SKIP

The names below load their module on first use, so ``import attention_visual`` stays light
(torch and diffusers are imported only by what needs them). ``AttentionCapture``, ``CaptureSettings``,
``load_pipeline`` and ``build_tiny_pipeline`` need the ``wan`` extra; without it they raise
:class:`MissingExtraError` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attention_visual.lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "AttentionCapture": "attention_visual.capture",
    "CaptureSettings": "attention_visual.capture",
    "AttentionAnalyzer": "attention_visual.visualization.attention_analyzer",
    "AttentionVisualizer": "attention_visual.visualization.attention_visualizer",
    "AttentionStore": "attention_visual.storage",
    "Config": "attention_visual.config",
    "load_config": "attention_visual.config",
    "MarkedPrompt": "attention_visual.prompts",
    "parse_prompt": "attention_visual.prompts",
    "load_pipeline": "attention_visual.models",
    "build_tiny_pipeline": "attention_visual.models",
    "write_report": "attention_visual.report",
    "AttentionVisualError": "attention_visual.errors",
    "AttentionDataError": "attention_visual.errors",
    "CaptureError": "attention_visual.errors",
    "ConfigError": "attention_visual.errors",
    "MissingExtraError": "attention_visual.errors",
    "NotFoundError": "attention_visual.errors",
    "PromptError": "attention_visual.errors",
    "RenderError": "attention_visual.errors",
}

if TYPE_CHECKING:
    from attention_visual.capture import AttentionCapture, CaptureSettings
    from attention_visual.config import Config, load_config
    from attention_visual.errors import (
        AttentionDataError,
        AttentionVisualError,
        CaptureError,
        ConfigError,
        MissingExtraError,
        NotFoundError,
        PromptError,
        RenderError,
    )
    from attention_visual.models import build_tiny_pipeline, load_pipeline
    from attention_visual.prompts import MarkedPrompt, parse_prompt
    from attention_visual.report import write_report
    from attention_visual.storage import AttentionStore
    from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
    from attention_visual.visualization.attention_visualizer import AttentionVisualizer


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "AttentionAnalyzer",
    "AttentionCapture",
    "AttentionDataError",
    "AttentionStore",
    "AttentionVisualError",
    "AttentionVisualizer",
    "CaptureError",
    "CaptureSettings",
    "Config",
    "ConfigError",
    "MarkedPrompt",
    "MissingExtraError",
    "NotFoundError",
    "PromptError",
    "RenderError",
    "__version__",
    "build_tiny_pipeline",
    "load_config",
    "load_pipeline",
    "parse_prompt",
    "write_report",
]

"""attention_visual: see what a text-to-video diffusion model looks at.

Capture the text→video cross-attention of Wan2.1 at every denoising step, store it, and
render it as heatmap videos, overlays and reports.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

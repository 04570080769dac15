"""Capture exact word-level cross-attention maps from a diffusers ``WanPipeline``.

See :mod:`attention_visual.capture.settings` for what a map means.
"""

from attention_visual.capture.capture import AttentionCapture
from attention_visual.capture.locator import block_name, locate_cross_attention
from attention_visual.capture.settings import CaptureSettings

__all__ = ["AttentionCapture", "CaptureSettings", "block_name", "locate_cross_attention"]

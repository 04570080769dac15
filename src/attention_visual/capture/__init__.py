"""Capture exact word-level cross-attention maps from any supported diffusers Wan pipeline.

See :mod:`attention_visual.capture.settings` for what a map means, :mod:`attention_visual.models.variants`
for the pipelines, and :mod:`attention_visual.capture.image_share` for the I2V ``<image>`` pseudo-word.
"""

from attention_visual.capture.capture import AttentionCapture
from attention_visual.capture.locator import block_name, locate_cross_attention
from attention_visual.capture.settings import IMAGE_WORD, CaptureSettings

__all__ = ["IMAGE_WORD", "AttentionCapture", "CaptureSettings", "block_name", "locate_cross_attention"]

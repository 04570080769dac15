"""Capture exact word-level cross-attention maps from any supported diffusers Wan pipeline.

See :mod:`attention_visual.capture.settings` for what a map means, :mod:`attention_visual.models.variants`
for the pipelines, and :mod:`attention_visual.capture.image_share` for the I2V ``<image>`` pseudo-word.
Needs the ``wan`` extra (torch, diffusers, transformers); without it, importing this package raises
:class:`~attention_visual.errors.MissingExtraError` with the pip command.
"""

try:
    from attention_visual.capture.capture import AttentionCapture
    from attention_visual.capture.locator import block_name, locate_cross_attention
    from attention_visual.capture.settings import IMAGE_WORD, CaptureSettings
    from attention_visual.capture.word_maps import CapturedMaps
except ModuleNotFoundError:
    from attention_visual.extras import require_extra

    require_extra("wan", __name__)  # one line naming the extra when torch, diffusers or transformers is missing
    raise

__all__ = ["IMAGE_WORD", "AttentionCapture", "CaptureSettings", "CapturedMaps", "block_name", "locate_cross_attention"]

"""Capture exact word-level text→video attention maps from a diffusers pipeline of any supported model family.

See :mod:`attention_visual.capture.settings` for what a map means, :mod:`attention_visual.families` for the
model families and their pipelines, and :mod:`attention_visual.capture.image_share` for the ``<image>``
pseudo-word. The capture core names no family: what differs comes from the family layer.
Needs the ``wan`` extra (torch, diffusers, transformers); without it, importing this package raises
:class:`~attention_visual.errors.MissingExtraError` with the pip command.
"""

try:
    from attention_visual.capture.capture import AttentionCapture
    from attention_visual.capture.settings import IMAGE_WORD, TEXT_WORD, CaptureSettings
    from attention_visual.capture.word_maps import CapturedMaps
except ModuleNotFoundError:
    from attention_visual.extras import GENERATION_EXTRA, require_extra

    require_extra(
        GENERATION_EXTRA, __name__
    )  # one line naming the extra when torch, diffusers or transformers is missing
    raise

__all__ = ["IMAGE_WORD", "TEXT_WORD", "AttentionCapture", "CaptureSettings", "CapturedMaps"]

"""The Wan-family notes of a step or a latent frame, one wording for the step videos and the report.

Map metadata (version 2) says which expert produced a step (Wan2.2 A14B: ``high_noise`` or
``low_noise``) and which latent frames are conditioning inputs rather than generated video (TI2V-5B
image-to-video: frame 0 is the input image; VACE: the reference images' frames at the front).
A title reads ``“kiss” — step 3 / 40 · high-noise expert``, a frame label
``latent frame 1/3 · video frame 1 · conditioning``.
"""

from __future__ import annotations

from attention_visual.storage import MapMetadata


def expert_note(metadata: MapMetadata) -> str:
    """``"high-noise expert"`` / ``"low-noise expert"`` for a step of a two-expert model, else ``""``."""
    return f"{metadata.expert.replace('_', '-')} expert" if metadata.expert else ""


def conditioning_note(metadata: MapMetadata, latent_frame: int) -> str:
    """``"conditioning"`` when ``latent_frame`` is an input (image or reference), else ``""``."""
    return "conditioning" if latent_frame in metadata.conditioning_frames else ""


def with_notes(label: str, *notes: str) -> str:
    """``label`` followed by the non-empty notes, joined with `` · ``."""
    return " · ".join([label, *(n for n in notes if n)])


__all__ = ["conditioning_note", "expert_note", "with_notes"]

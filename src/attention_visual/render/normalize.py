"""Explicit normalisation of attention maps to [0, 1] before colouring.

The modes (the config's ``normalization``):

* ``global`` (default): one range, min to max over every step and frame shown; the colorbar
  shows attention values, so brightness is comparable across the whole video.
* ``per_step``: each diffusion step scaled to its own min..max (over all its frames).
* ``per_frame``: every single 2-D map (one latent frame of one step) scaled on its own.
* ``percentile``: one global range from the 2nd to the 98th percentile, values outside clipped.

A map (or group of maps sharing a range) that is all zero renders at the bottom of the
colormap, and a constant non-zero one at its middle: flat input stays flat and is never
stretched into noise. "Constant" means a spread below ``1e-6`` of the magnitude, so float
round-off on a uniform map does not count as structure.

Example:
    >>> stack = np.zeros((2, 1, 3, 4), dtype=np.float32)  # [step, frame, y, x]
    >>> stack[1, 0, 0, 0] = 2.0
    >>> normed, info = normalize_maps(stack, "global")
    >>> float(normed[1, 0, 0, 0]), info.vmax
    (1.0, 2.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from attention_visual.errors import AttentionDataError, RenderError
from attention_visual.render.options import NORMALIZATIONS

log = logging.getLogger(__name__)

PERCENTILES = (2.0, 98.0)
_RELATIVE_FLAT = 1e-6
_TINY = 1e-30

# Axes of a [step, frame, y, x] stack that share one range, per mode.
_GROUP_AXES: dict[str, tuple[int, ...]] = {
    "global": (0, 1, 2, 3),
    "percentile": (0, 1, 2, 3),
    "per_step": (1, 2, 3),
    "per_frame": (2, 3),
}


@dataclass(frozen=True)
class NormalizationInfo:
    """What the colours mean: the colorbar's range and label.

    Attributes:
        mode: one of :data:`NORMALIZATIONS`.
        vmin: value drawn at the bottom of the colormap (attention units, or 0 when relative).
        vmax: value drawn at the top (attention units, or 1 when relative).
        relative: True for ``per_step``/``per_frame``: each map spans 0..1 of its own range.
        flat_maps: how many ranges were constant (drawn flat rather than stretched).
    """

    mode: str
    vmin: float
    vmax: float
    relative: bool
    flat_maps: int = 0

    @property
    def label(self) -> str:
        """Colorbar label naming the normalisation."""
        text = {
            "global": "attention (global range)",
            "percentile": f"attention ({PERCENTILES[0]:g}–{PERCENTILES[1]:g}th percentile, clipped)",
            "per_step": "attention, normalised per step (min→0, max→1)",
            "per_frame": "attention, normalised per frame (min→0, max→1)",
        }[self.mode]
        return f"{text}; flat map" if self.flat_maps and self.vmin == self.vmax else text


def normalize_maps(stack: np.ndarray, mode: str) -> tuple[np.ndarray, NormalizationInfo]:
    """Scale ``stack`` ``[step, frame, y, x]`` to [0, 1] with normalisation ``mode``.

    Args:
        stack: the maps to be shown together (``frame`` may be 1 for frame-averaged maps).
        mode: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``.

    Returns:
        ``([step, frame, y, x] float32 in [0, 1], info)``.

    Raises:
        RenderError: unknown mode or a stack that is not 4-D.
        AttentionDataError: the maps contain NaN or infinite values.
    """
    if mode not in NORMALIZATIONS:
        raise RenderError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {mode!r}")
    stack = np.asarray(stack, dtype=np.float32)  # [step, frame, y, x]
    if stack.ndim != 4 or stack.size == 0:
        raise RenderError(f"expected a non-empty [step, frame, y, x] stack, got shape {stack.shape}")
    if not np.isfinite(stack).all():
        raise AttentionDataError("attention maps contain NaN or infinite values; the stored data is corrupted")
    axes = _GROUP_AXES[mode]
    lo = stack.min(axis=axes, keepdims=True)  # [step|1, frame|1, 1, 1]
    hi = stack.max(axis=axes, keepdims=True)
    if mode == "percentile":
        p_lo, p_hi = np.percentile(stack, PERCENTILES)
        if _is_flat(np.float32(p_lo), np.float32(p_hi)) and not _is_flat(lo, hi).all():
            log.info("the 2–98th percentiles coincide (sparse map): using the full min..max range")
        else:
            lo = np.full_like(lo, p_lo)
            hi = np.full_like(hi, p_hi)
    flat = _is_flat(lo, hi)  # [step|1, frame|1, 1, 1] bool
    span = np.where(flat, 1.0, hi - lo).astype(np.float32)
    normed = (stack - lo) / span  # [step, frame, y, x]
    np.clip(normed, 0.0, 1.0, out=normed)
    if flat.any():
        # Flat ranges: zero maps at the bottom of the colormap, constant ones at its middle.
        level = np.where(np.abs(hi) <= _TINY, 0.0, 0.5).astype(np.float32)
        normed = np.where(flat, level, normed).astype(np.float32)
        log.warning("%d of %d attention map range(s) are constant; drawn flat", int(flat.sum()), flat.size)
    relative = mode in ("per_step", "per_frame")
    if relative:
        vmin, vmax = 0.0, 1.0
    else:
        vmin, vmax = float(lo.min()), float(hi.max())
    return normed, NormalizationInfo(mode=mode, vmin=vmin, vmax=vmax, relative=relative, flat_maps=int(flat.sum()))


def _is_flat(lo: np.ndarray | np.floating, hi: np.ndarray | np.floating) -> np.ndarray:
    """True where ``hi - lo`` is negligible relative to the values' magnitude."""
    magnitude = np.maximum(np.abs(lo), np.abs(hi))
    return np.asarray(hi - lo <= _RELATIVE_FLAT * magnitude + _TINY)


__all__ = ["PERCENTILES", "NormalizationInfo", "normalize_maps"]

"""Rendering options: the config's ``visualization_params``, validated once.

Every key of ``visualization_params`` is a field here with the same name and meaning, so a
config section maps onto :class:`RenderOptions` one to one (``RenderOptions.from_mapping``).
Invalid values raise :class:`RenderError` naming the key and the fix, in the spirit of
"concise errors rather than silent corrections".

Example:
    >>> RenderOptions(colormap="viridis", fps=8).pixel_size
    (1200, 800)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attention_visual.errors import RenderError
from attention_visual.render.colormap import check_colormap

#: How maps are scaled to the colormap (see :mod:`attention_visual.render.normalize`).
NORMALIZATIONS: tuple[str, ...] = ("global", "per_step", "per_frame", "percentile")
#: Output containers: H.264 in MP4, Motion-JPEG in AVI, animated GIF.
VIDEO_FORMATS: tuple[str, ...] = ("mp4", "avi", "gif")

_MAX_FIGURE_PIXELS = 7680  # one side of a step-video frame; 8K is plenty
_MIN_FIGURE_PIXELS = 64


def even_ceil(value: float) -> int:
    """The smallest even integer >= ``value`` (H.264 with yuv420p needs even sizes)."""
    n = math.ceil(value - 1e-9)
    return n + (n % 2)


@dataclass(frozen=True)
class RenderOptions:
    """How attention videos and figures look.

    Attributes:
        figsize: ``(width, height)`` in inches of a step video frame (pixels = inches × ``dpi``,
            rounded up to even numbers).
        colormap: any matplotlib colormap name (``hot``, ``viridis``, ``magma_r``, ...).
        overlay_alpha: weight of the heatmap when blended over the generated video, in [0, 1].
        static_duration: seconds an aggregated (step-averaged) map is held on screen.
        fps: frame rate of step and aggregated videos (overlays play at the video's own fps).
        interpolation_steps: blended frames inserted between consecutive diffusion steps.
        include_colorbar: draw a colorbar that records the normalisation.
        video_format: ``mp4`` (H.264, yuv420p), ``avi`` (MJPEG) or ``gif``.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``.
        dpi: pixels per inch of the matplotlib-drawn parts.
    """

    figsize: tuple[float, float] = (12.0, 8.0)
    colormap: str = "hot"
    overlay_alpha: float = 0.6
    static_duration: float = 3.0
    fps: float = 10.0
    interpolation_steps: int = 2
    include_colorbar: bool = True
    video_format: str = "mp4"
    normalization: str = "global"
    dpi: int = 100

    def __post_init__(self) -> None:
        figsize = self.figsize
        if isinstance(figsize, str | bytes) or len(tuple(figsize)) != 2:
            raise RenderError(f"figsize must be two numbers (width, height) in inches, got {figsize!r}")
        try:
            w, h = (float(v) for v in figsize)
        except (TypeError, ValueError) as exc:
            raise RenderError(f"figsize must be two numbers (width, height) in inches, got {figsize!r}") from exc
        object.__setattr__(self, "figsize", (w, h))
        _check_number("dpi", self.dpi, minimum=10, integer=True, maximum=1200)
        for side, inches in (("width", w), ("height", h)):
            if not math.isfinite(inches) or not (_MIN_FIGURE_PIXELS <= inches * self.dpi <= _MAX_FIGURE_PIXELS):
                raise RenderError(
                    f"figsize {side} {inches:g} in at dpi {self.dpi} gives {inches * self.dpi:g} px; "
                    f"use {_MIN_FIGURE_PIXELS}-{_MAX_FIGURE_PIXELS} px (e.g. figsize 12,8)"
                )
        check_colormap(self.colormap)
        _check_number("overlay_alpha", self.overlay_alpha, minimum=0.0, maximum=1.0)
        _check_number("static_duration", self.static_duration, minimum=0.0, strict=True, maximum=3600.0)
        _check_number("fps", self.fps, minimum=0.0, strict=True, maximum=240.0)
        _check_number("interpolation_steps", self.interpolation_steps, minimum=0, integer=True, maximum=120)
        if not isinstance(self.include_colorbar, bool):
            raise RenderError(f"include_colorbar must be true or false, got {self.include_colorbar!r}")
        if self.video_format not in VIDEO_FORMATS:
            raise RenderError(f"video_format must be one of {', '.join(VIDEO_FORMATS)}, got {self.video_format!r}")
        if self.normalization not in NORMALIZATIONS:
            raise RenderError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")

    @property
    def pixel_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels of a step-video frame, both even."""
        return even_ceil(self.figsize[0] * self.dpi), even_ceil(self.figsize[1] * self.dpi)

    def replace(self, **changes: Any) -> RenderOptions:
        """A validated copy with ``changes`` applied; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> RenderOptions:
        """Build from a config's ``visualization_params`` section; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise RenderError(
                f"unknown visualization_params key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        return cls(**dict(params))


def _check_number(
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float,
    strict: bool = False,
    integer: bool = False,
) -> None:
    """Raise :class:`RenderError` unless ``value`` is a finite number in range."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        kind = "an integer" if integer else "a number"
        raise RenderError(f"{name} must be {kind}, got {value!r}")
    assert isinstance(value, int | float)
    low_ok = value > minimum if strict else value >= minimum
    if not low_ok or value > maximum:
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise RenderError(f"{name} must be {bound} and <= {maximum:g}, got {value!r}")


__all__ = ["NORMALIZATIONS", "VIDEO_FORMATS", "RenderOptions", "even_ceil"]

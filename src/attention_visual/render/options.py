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
from dataclasses import dataclass, field
from typing import Any

from attention_visual.config import limits
from attention_visual.config.limits import NORMALIZATIONS, VIDEO_FORMATS
from attention_visual.config.validation import checked, validate_fields
from attention_visual.errors import ConfigError, RenderError
from attention_visual.render.colormap import check_colormap


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
        static_duration: seconds a step average is held on screen, in (0, 3600].
        fps: frame rate of step and step-average videos, in (0, 240] (overlays play at the video's own fps).
        interpolation_steps: blended frames inserted between consecutive diffusion steps, 0..120.
        include_colorbar: draw a colorbar that records the normalisation.
        video_format: ``mp4`` (H.264, yuv420p), ``avi`` (MJPEG) or ``gif``.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``.
        dpi: pixels per inch of the matplotlib-drawn parts, 10..1200; each side of a frame must be
            64..7680 px.

    The limits are the config's (:mod:`attention_visual.config.limits`), so every
    ``visualization_params`` that ``load_config`` accepts builds a ``RenderOptions``.
    """

    figsize: tuple[float, float] = (12.0, 8.0)
    colormap: str = "hot"
    overlay_alpha: float = field(default=0.6, metadata=checked(limits.OVERLAY_ALPHA))
    static_duration: float = field(default=3.0, metadata=checked(limits.STATIC_DURATION))
    fps: float = field(default=10.0, metadata=checked(limits.RENDER_FPS))
    interpolation_steps: int = field(default=2, metadata=checked(limits.INTERPOLATION_STEPS))
    include_colorbar: bool = field(default=True, metadata=checked(limits.FLAG))
    video_format: str = field(default="mp4", metadata=checked(limits.VIDEO_FORMAT))
    normalization: str = field(default="global", metadata=checked(limits.NORMALIZATION))
    dpi: int = field(default=limits.DEFAULT_DPI, metadata=checked(limits.DPI))

    def __post_init__(self) -> None:
        # The config's own checks (attention_visual.config.limits), so both accept the same values.
        validate_fields(self, "", RenderError)
        try:
            figsize = limits.figure_size(self.dpi)("figsize", self.figsize)
        except ConfigError as exc:
            raise RenderError(str(exc)) from exc
        object.__setattr__(self, "figsize", figsize)
        check_colormap(self.colormap)

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


__all__ = ["NORMALIZATIONS", "VIDEO_FORMATS", "RenderOptions", "even_ceil"]

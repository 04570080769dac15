"""Frame sources: the three kinds of attention video as lazy streams of RGB frames.

A source knows its size, fps and frame count, and yields RGBX ``[H, W, 4]`` uint8 frames one
at a time from a static :class:`~attention_visual.render.canvas.Canvas`: numpy fills the heatmap
panels (lookup-table colouring, matrix-product upsampling) and stamps the per-step text, which
matplotlib drew once per distinct string. :func:`write_video` streams any source to a file.

* :class:`StepVideo`: one frame per diffusion step, ``interpolation_steps`` blended frames
  between consecutive steps, title ``step k / n``, optional timestamp line and progress bar.
* :class:`StillVideo`: one frame held for a duration (the step-averaged map).
* :class:`OverlayVideo`: the generated video, each frame blended with the map of the latent
  frame that produced it (or video | heatmap | overlay side by side), optional timestamp line.

Example:
    >>> source = StillVideo(frame=np.zeros((48, 64, 4), np.uint8), fps=10, num_frames=30)
    >>> write_video(source, Path("still.mp4")).stat().st_size > 0
    True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from attention_visual.errors import RenderError
from attention_visual.render.canvas import Canvas
from attention_visual.render.colormap import lookup_rgbx, lut_scaled
from attention_visual.render.encoder import VideoWriter
from attention_visual.render.frames import CHANNELS, blend, draw_progress, heatmap_rgbx, premultiply
from attention_visual.render.resize import upsample_bilinear
from attention_visual.render.strip import FOOTER_PT
from attention_visual.render.text import Box, TextRenderer

log = logging.getLogger(__name__)

LAYOUTS = ("overlay", "side_by_side")


class FrameSource(Protocol):
    """Anything :func:`write_video` can encode.

    Frames are RGBX ``[H, W, 4]``; a source may say ``channels = 3`` (an attribute) to yield RGB
    frames ``[H, W, 3]`` instead (a plain overlay: a quarter fewer bytes to blend and to pipe).
    """

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def num_frames(self) -> int: ...

    def frames(self) -> Iterator[np.ndarray]:
        """Yield ``num_frames`` RGBX frames ``[height, width, 4]`` uint8 (RGB with ``channels = 3``)."""
        ...


def write_video(source: FrameSource, path: Path, video_format: str | None = None) -> Path:
    """Encode every frame of ``source`` into ``path`` (atomically; see :class:`VideoWriter`)."""
    channels = getattr(source, "channels", CHANNELS)
    with VideoWriter(path, source.width, source.height, source.fps, video_format, channels=channels) as writer:
        for frame in source.frames():
            writer.write(frame)
    if writer.frames_written != source.num_frames:
        log.warning("wrote %d frames, expected %d", writer.frames_written, source.num_frames)
    return writer.path


class _OnCanvas:
    """A source whose frames are its canvas: its size is the canvas's."""

    canvas: Canvas

    @property
    def width(self) -> int:
        return self.canvas.width

    @property
    def height(self) -> int:
        return self.canvas.height


@dataclass
class StepVideo(_OnCanvas):
    """Heatmaps across diffusion steps.

    Attributes:
        canvas: the static frame (panels, colorbar, title band, optional footer).
        maps: ``[step, panel, y, x]`` float32 in [0, 1], already normalised.
        titles: one title per step (``“kiss” — step 3 / 50``).
        lut: a :func:`packed_lut`.
        fps: frames per second.
        interpolation_steps: blended frames between consecutive steps.
        dpi: pixels per inch of the text.
        footers: one timestamp line per step, drawn when the canvas has a footer.
        progress: denoising progress per step in [0, 1], drawn as a bar when the canvas has one.
    """

    canvas: Canvas
    maps: np.ndarray
    titles: Sequence[str]
    lut: np.ndarray
    fps: float
    interpolation_steps: int
    dpi: int = 100
    footers: Sequence[str] = ()
    progress: Sequence[float] = ()
    _title: TextRenderer = field(init=False, repr=False)
    _footer: TextRenderer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        steps, panels = self.maps.shape[:2]
        if panels != len(self.canvas.panels):
            raise RenderError(f"{panels} maps per step but the canvas has {len(self.canvas.panels)} panels")
        if len(self.titles) != steps:
            raise RenderError(f"{len(self.titles)} titles for {steps} steps")
        self._title = TextRenderer(14.0, self.dpi, weight="bold", max_width=self.canvas.width)
        self._footer = TextRenderer(9.0, self.dpi, max_width=self.canvas.width)

    @property
    def num_frames(self) -> int:
        steps = int(self.maps.shape[0])
        return steps + (steps - 1) * self.interpolation_steps

    def frames(self) -> Iterator[np.ndarray]:
        steps = int(self.maps.shape[0])
        sub = self.interpolation_steps + 1
        current = self._scaled(0)  # [panel, ph, pw], colour-table coordinates
        following, delta = current, current
        for k in range(steps):
            last = k + 1 == steps
            if not last:
                following = self._scaled(k + 1)
                delta = following - current  # [panel, ph, pw]
            for j in range(1 if last else sub):
                t = j / sub
                if j == 0:
                    index = current.astype(np.uint8)  # [panel, ph, pw]
                else:  # blend in value space: the scaling is linear, so blend the table coordinates
                    blended = delta * np.float32(t)
                    blended += current
                    index = blended.astype(np.uint8)
                yield self._compose(index, k + (1 if t >= 0.5 else 0), k + t)
            current = following

    def _scaled(self, step: int) -> np.ndarray:
        """Step ``step``'s maps upsampled to the panel size, as colour-table coordinates ``[panel, ph, pw]``."""
        box = self.canvas.panels[0]
        return lut_scaled(upsample_bilinear(self.maps[step], box.height, box.width), self.lut.shape[0])

    def _compose(self, index: np.ndarray, label_step: int, position: float) -> np.ndarray:
        frame = self.canvas.new_frame()  # [H, W, 4]
        for p, box in enumerate(self.canvas.panels):
            lookup_rgbx(index[p], self.lut, out=frame[box.slices])
        if self.canvas.title is not None:
            self._title.stamp(frame, self.titles[label_step], self.canvas.title)
        if self.canvas.footer is not None and self.footers:
            self._footer.stamp(frame, self.footers[label_step], self.canvas.footer, align="left")
        if self.canvas.progress is not None and self.progress:
            k = int(position)
            t = position - k
            nxt = self.progress[min(k + 1, len(self.progress) - 1)]
            draw_progress(frame, self.canvas.progress, (1.0 - t) * self.progress[k] + t * nxt)
        return frame


@dataclass
class StillVideo:
    """One RGBX frame ``[H, W, 4]`` uint8 held for ``num_frames`` frames."""

    frame: np.ndarray
    fps: float
    num_frames: int

    @property
    def width(self) -> int:
        return int(self.frame.shape[1])

    @property
    def height(self) -> int:
        return int(self.frame.shape[0])

    def frames(self) -> Iterator[np.ndarray]:
        frame = np.ascontiguousarray(self.frame)
        for _ in range(self.num_frames):
            yield frame


@dataclass
class OverlayVideo(_OnCanvas):
    """The generated video with each frame's attention blended over it.

    Attributes:
        canvas: a strip canvas: one panel of the video's display size (``overlay``) or three
            (``side_by_side``: video | heatmap | overlay); with a footer box for ``stamps``.
        maps: ``[latent_frame, y, x]`` float32 in [0, 1], already normalised.
        latent_of_frame: ``[video_frame]`` int, the latent frame that produced each video frame.
        video: returns a fresh iterator over the video's RGBX frames ``[ph, pw, 4]`` uint8 (RGB
            ``[ph, pw, 3]`` with ``video_channels=3``), resampled to ``len(latent_of_frame)`` frames of the
            panel size.
        lut: a :func:`packed_lut`.
        alpha: heatmap weight in [0, 1].
        fps: the video's own frame rate.
        layout: ``overlay`` or ``side_by_side``.
        stamps: optional text per video frame, written into the canvas's footer box.
        dpi: pixels per inch of the text.
        video_channels: 4 (RGBX) or 3 (RGB) per pixel of ``video``'s frames; 3 only for a plain
            overlay (the video's size, no title, colorbar or timestamps), whose frames are then RGB.
    """

    canvas: Canvas
    maps: np.ndarray
    latent_of_frame: np.ndarray
    video: Callable[[], Iterator[np.ndarray]]
    lut: np.ndarray
    alpha: float
    fps: float
    layout: str = "overlay"
    stamps: Sequence[str] = ()
    dpi: int = 100
    video_channels: int = CHANNELS
    _text: TextRenderer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise RenderError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        wanted = 3 if self.layout == "side_by_side" else 1
        if len(self.canvas.panels) != wanted:
            raise RenderError(f"layout {self.layout} needs {wanted} panel(s), the canvas has {len(self.canvas.panels)}")
        if self.latent_of_frame.size and int(self.latent_of_frame.max()) >= self.maps.shape[0]:
            raise RenderError(
                f"video frames refer to latent frame {int(self.latent_of_frame.max())} "
                f"but the map has {self.maps.shape[0]} latent frames"
            )
        if self.stamps and (self.canvas.footer is None or len(self.stamps) != self.num_frames):
            why = "has no footer box" if self.canvas.footer is None else f"has {self.num_frames} frames"
            raise RenderError(f"{len(self.stamps)} timestamps given but the overlay {why}")
        if self.video_channels not in (3, CHANNELS) or (self.video_channels == 3 and not self.plain):
            raise RenderError(f"video frames of {self.video_channels} channels need a plain overlay (RGBX: 4)")
        footer = self.canvas.footer
        self._text = TextRenderer(FOOTER_PT, self.dpi, max_width=footer.width if footer else self.width)

    @property
    def num_frames(self) -> int:
        return int(self.latent_of_frame.shape[0])

    @property
    def plain(self) -> bool:
        """The frames are the video's alone: one panel covering the canvas, no timestamps."""
        return self.canvas.panels == (Box(0, 0, self.width, self.height),) and not self.stamps

    @property
    def channels(self) -> int:
        """Bytes per pixel of the frames: RGB for a plain overlay of an RGB video, else RGBX."""
        return self.video_channels

    def frames(self) -> Iterator[np.ndarray]:
        box = self.canvas.panels[-1]
        plain = self.canvas.panels == (Box(0, 0, self.width, self.height),)
        channels = self.video_channels
        cached = -1
        heat = heat_pre = np.empty(0)
        video = self.video()
        try:
            for n in range(self.num_frames):
                base = next(video, None)  # [ph, pw, 4]
                if base is None:
                    raise RenderError(f"the original video ended after {n} of {self.num_frames} frames")
                k = int(self.latent_of_frame[n])
                if k != cached:
                    heat = heatmap_rgbx(self.maps[k], box.height, box.width, self.lut)[..., :channels]  # [ph, pw, c]
                    heat_pre = premultiply(heat, self.alpha)  # [ph, pw, c] uint16
                    cached = k
                if plain:
                    frame = blend(base, heat, self.alpha, heat_premultiplied=heat_pre)
                else:
                    frame = self.canvas.new_frame()
                    if self.layout == "side_by_side":
                        frame[self.canvas.panels[0].slices] = base
                        frame[self.canvas.panels[1].slices] = heat
                    blend(base, heat, self.alpha, out=frame[box.slices], heat_premultiplied=heat_pre)
                if self.stamps and self.canvas.footer is not None:
                    self._text.stamp(frame, self.stamps[n], self.canvas.footer, align="left")
                yield frame
        finally:
            close = getattr(video, "close", None)
            if close is not None:
                close()


__all__ = ["LAYOUTS", "FrameSource", "OverlayVideo", "StepVideo", "StillVideo", "write_video"]

"""Build the three attention videos from maps on the latent grid and their metadata.

These functions do the one-off work (normalisation, the matplotlib-drawn canvas, titles,
opening the original video) and return a lazy frame source; nothing is rendered until the
source is iterated (usually by :func:`~attention_visual.render.sources.write_video`).

Example:
    >>> from attention_visual.render.sources import write_video
    >>> from attention_visual.visualization import AttentionAnalyzer
    >>> stack, metas = AttentionAnalyzer("outputs/batch/attention_maps").step_stack("prompt_001_vid_001", "kiss")
    >>> source = step_video(stack, metas, "kiss", RenderOptions(figsize=(4, 3), dpi=50))
    >>> source.num_frames, source.width, source.height  # 3 steps, 2 blended frames between each
    (7, 200, 150)
    >>> write_video(source, Path("kiss_steps.mp4")).name
    'kiss_steps.mp4'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from attention_visual.errors import RenderError
from attention_visual.render.canvas import Canvas, ColorbarSpec
from attention_visual.render.colormap import packed_lut
from attention_visual.render.labels import conditioning_note, expert_note, with_notes
from attention_visual.render.normalize import NormalizationInfo, normalize_maps
from attention_visual.render.options import RenderOptions
from attention_visual.render.sources import LAYOUTS, OverlayVideo, StepVideo, StillVideo
from attention_visual.render.step_grid import figure_canvas
from attention_visual.render.strip import MIN_PANEL_HEIGHT, display_size, strip_canvas, strip_layout
from attention_visual.render.video_reader import probe_video, read_frames
from attention_visual.storage.schema.frames import frame_average, frame_weights, video_frame_index
from attention_visual.storage.schema.metadata import MapMetadata

log = logging.getLogger(__name__)

#: How a step video shows a map's latent frames: averaged, tiled, or one of them (an int).
FrameMode = str | int


def step_video(
    stack: np.ndarray,
    metadata: Sequence[MapMetadata],
    word: str,
    options: RenderOptions,
    frame: FrameMode = "mean",
    include_timestamp: bool = False,
) -> StepVideo:
    """The step video: one frame per stored step, blended frames between steps.

    Args:
        stack: ``[step, frame, y, x]`` maps in step order.
        metadata: one per step (for the step index, timestep, sigma and frame mapping).
        word: the word, for the title.
        options: rendering options (``interpolation_steps``, ``fps``, colours, ...).
        frame: ``"mean"`` (averaged over the video's frames), ``"tile"`` (every latent
            frame in a grid) or a latent frame index.
        include_timestamp: add the step index, timestep, sigma and denoising progress.
    """
    if len(metadata) != stack.shape[0]:
        raise RenderError(f"{len(metadata)} metadata entries for {stack.shape[0]} steps")
    panels, labels = _panels(stack, metadata[0], frame)  # [step, panel, y, x]
    normed, info = normalize_maps(panels, options.normalization)
    titles = [
        with_notes(f"“{word}” — step {_step_number(m, i)} / {m.num_steps}", expert_note(m))
        for i, m in enumerate(metadata)
    ]
    footers = [_timestamp(m, i) for i, m in enumerate(metadata)] if include_timestamp else []
    progress = [_step_number(m, i) / max(m.num_steps, 1) for i, m in enumerate(metadata)] if include_timestamp else []
    canvas = _step_canvas(options, metadata[0], normed.shape[1], labels, info, include_timestamp)
    lut = packed_lut(options.colormap)
    return StepVideo(
        canvas, normed, titles, lut, options.fps, options.interpolation_steps, options.dpi, footers, progress
    )


def still_video(
    grid: np.ndarray,
    metadata: MapMetadata,
    word: str,
    options: RenderOptions,
    frame: FrameMode = "mean",
    include_timestamp: bool = False,
) -> StillVideo:
    """The step-average video: one map ``[frame, y, x]`` held still for ``static_duration`` seconds.

    Arguments as :func:`step_video`; the timestamp line names the steps averaged.
    """
    panels, labels = _panels(grid[None], metadata, frame)  # [1, panel, y, x]
    normed, info = normalize_maps(panels, options.normalization)
    steps = len(metadata.steps_used) or metadata.num_steps
    title = f"“{word}” — average over {steps} step{'s' if steps != 1 else ''}"
    footers = [f"mean of {steps} of {metadata.num_steps} denoising steps"] if include_timestamp else []
    canvas = _step_canvas(options, metadata, normed.shape[1], labels, info, include_timestamp)
    lut = packed_lut(options.colormap)
    source = StepVideo(canvas, normed, [title], lut, options.fps, 0, options.dpi, footers, [1.0] * len(footers))
    image = next(source.frames())  # [H, W, 4]
    return StillVideo(image, options.fps, max(1, round(options.static_duration * options.fps)))


def overlay_video(
    grid: np.ndarray,
    metadata: MapMetadata,
    word: str,
    options: RenderOptions,
    original_video: Path,
    layout: str = "overlay",
    include_timestamp: bool = False,
    heading: str = "",
    min_panel_height: int = MIN_PANEL_HEIGHT,
) -> OverlayVideo:
    """The overlay video: the generated video with each frame's attention blended over it.

    The video is shown at :func:`~attention_visual.render.strip.display_size`: its own size
    when it is at least ``min_panel_height`` pixels tall, else scaled up (bicubic, by the
    decoder) to that height; the map is upsampled bilinearly to the same size.

    Args:
        grid: ``[frame, y, x]`` one map (step-averaged or one step).
        metadata: its metadata (video size, fps, frame count, latent→video mapping).
        word: the word, for the title.
        options: ``overlay_alpha``, ``colormap``, ``normalization``, ``include_colorbar``.
        original_video: the generated video file; resampled (with a warning) when its frame
            count or size does not match the metadata.
        layout: ``overlay`` or ``side_by_side`` (video | heatmap | overlay).
        include_timestamp: a line below the video with frame number, latent frame and time.
        heading: the rest of the title (which step, or the average). The title is drawn with
            the colorbar or the side-by-side layout; a plain overlay is just the video.
        min_panel_height: smaller videos are scaled up to this many rows.
    """
    if layout not in LAYOUTS:
        raise RenderError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    dims = metadata.video_dimensions
    latent_of_frame = video_frame_index(metadata, grid.shape[0])  # [video_frame]
    info = probe_video(original_video)
    if info.frames != dims.frames or (info.width, info.height) != (dims.width, dims.height):
        log.warning(
            "original video %s is %d frames of %dx%d but the maps describe %d frames of %dx%d; resampling it",
            original_video, info.frames, info.width, info.height, dims.frames, dims.width, dims.height,
        )  # fmt: skip
    normed, norm = normalize_maps(grid[None], options.normalization)  # [1, frame, y, x]
    labels = ("video", "attention", "overlay") if layout == "side_by_side" else ()
    colorbar = _colorbar(options, norm)
    title = f"“{word}”" + (f" — {heading}" if heading else "") if colorbar or labels else ""
    width, height = display_size(dims.width, dims.height, min_panel_height)
    canvas = strip_canvas(
        strip_layout(
            width,
            height,
            len(labels) or 1,
            options.dpi,
            panel_labels=labels,
            colorbar=colorbar,
            title=title,
            footer=include_timestamp,
        )
    )
    fps = dims.fps if dims.fps > 0 else info.fps or options.fps
    plain = len(canvas.panels) == 1 and (canvas.width, canvas.height) == (width, height) and not include_timestamp
    channels = 3 if plain else 4  # a plain overlay is the video's frames alone: RGB, no padding byte

    def frames() -> Iterator[np.ndarray]:
        return read_frames(original_video, info, dims.frames, width, height, channels=channels)

    stamps: list[str] = []
    if include_timestamp:
        n_frames = dims.frames
        stamps = [
            f"frame {n + 1}/{n_frames} · latent {int(latent_of_frame[n])} · {n / fps:.2f} s" for n in range(n_frames)
        ]
    return OverlayVideo(
        canvas, normed[0], latent_of_frame, frames, packed_lut(options.colormap), options.overlay_alpha, fps, layout,
        stamps, options.dpi, channels,
    )  # fmt: skip


def _panels(stack: np.ndarray, metadata: MapMetadata, frame: FrameMode) -> tuple[np.ndarray, list[str]]:
    """``([step, panel, y, x], labels)`` for the chosen frame mode."""
    n_frames = stack.shape[1]
    if frame == "mean":
        averaged = frame_average(stack, metadata)  # [step, y, x]
        return averaged[:, None], []
    if frame == "tile":
        frame_weights(metadata, n_frames)  # the mapping must fit the stack
        labels = [
            with_notes(
                f"latent {k} · video {first}–{last}" if last >= first else f"latent {k}", conditioning_note(metadata, k)
            )
            for k, (first, last) in enumerate(metadata.latent_to_video_frames)
        ]
        return stack, labels
    if isinstance(frame, int) and not isinstance(frame, bool):
        if not 0 <= frame < n_frames:
            raise RenderError(f"latent frame {frame} does not exist; this map has frames 0–{n_frames - 1}")
        return stack[:, frame : frame + 1], []
    raise RenderError(f"frame must be 'mean', 'tile' or a latent frame index, got {frame!r}")


def _step_canvas(
    options: RenderOptions,
    metadata: MapMetadata,
    n_panels: int,
    labels: Sequence[str],
    info: NormalizationInfo,
    footer: bool,
) -> Canvas:
    dims = metadata.video_dimensions
    return figure_canvas(
        options.figsize,
        options.dpi,
        panel_aspect=dims.width / dims.height,
        n_panels=n_panels,
        panel_labels=labels,
        colorbar=_colorbar(options, info),
        footer=footer,
    )


def _colorbar(options: RenderOptions, info: NormalizationInfo) -> ColorbarSpec | None:
    if not options.include_colorbar:
        return None
    return ColorbarSpec(options.colormap, info.vmin, info.vmax, info.label)


def _step_number(metadata: MapMetadata, position: int) -> int:
    """1-based diffusion step of a map (its stored ``step_index`` + 1)."""
    return (metadata.step_index if metadata.step_index is not None else position) + 1


def _timestamp(metadata: MapMetadata, position: int) -> str:
    parts = [f"step index {_step_number(metadata, position) - 1}"]
    if metadata.timestep is not None:
        parts.append(f"timestep {metadata.timestep:.0f}")
    if metadata.sigma is not None:
        parts.append(f"σ {metadata.sigma:.3f}")
    parts.append(f"denoising {_step_number(metadata, position) / max(metadata.num_steps, 1):.0%}")
    return " · ".join(parts)


__all__ = ["FrameMode", "overlay_video", "step_video", "still_video"]

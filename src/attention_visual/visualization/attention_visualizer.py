"""Render stored attention maps as videos and figures (see docs/visualization.md).

:class:`AttentionVisualizer` reads maps through an :class:`AttentionAnalyzer` and produces

* step videos (how a word's map evolves over the denoising steps),
* overlay videos (the map of each latent frame blended over the generated video),
* step-average videos (the step average held still, or overlaid),
* the temporal comparison figure of several words.

Rendering is streamed: matplotlib draws only the static parts once, numpy colours and blends
each frame, ffmpeg (imageio-ffmpeg's binary) encodes as frames arrive, and the output file
appears atomically at the end.

Example:
    >>> viz = AttentionVisualizer("outputs/batch/attention_maps", colormap="hot", fps=10, figsize=(4, 3), dpi=50)
    >>> viz.generate_attention_video("prompt_001_vid_001", "kiss", "kiss_steps.mp4").name
    'kiss_steps.mp4'
    >>> viz.generate_attention_video("prompt_001_vid_001", "kiss", "kiss_overlay.mp4",
    ...     original_video_path="outputs/batch/videos/prompt_001/video_001.mp4").name
    'kiss_overlay.mp4'
    >>> fig = viz.generate_temporal_comparison("prompt_001_vid_001", ["kiss", "flowers"], "t.png")
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from attention_visual.aliases import keyword_aliases
from attention_visual.errors import NotFoundError, RenderError
from attention_visual.render.encoder import format_of, prepare_output
from attention_visual.render.options import RenderOptions
from attention_visual.render.sources import FrameSource, write_video
from attention_visual.render.videos import FrameMode, overlay_video, step_video, still_video
from attention_visual.storage.durable.atomic import atomic_output
from attention_visual.storage.schema.metadata import GRID_AXES, MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
from attention_visual.visualization.comparison import comparison_figure, snapshot_positions, temporal_metrics
from attention_visual.visualization.in_memory import InMemoryAnalyzer

log = logging.getLogger(__name__)


class AttentionVisualizer:
    """Turns stored attention maps into videos and comparison figures.

    Every ``visualization_params`` key of the config is a constructor argument with the same
    meaning (see :class:`~attention_visual.render.options.RenderOptions`); the per-call
    arguments of :meth:`generate_attention_video` override them for one video.

    Args:
        analyzer: an :class:`AttentionAnalyzer`, or the ``attention_maps/`` folder.
        figsize: ``(width, height)`` inches of step-video frames.
        colormap: any matplotlib colormap name.
        fps: frame rate of step and step-average videos.
        overlay_alpha: heatmap weight over the generated video, in [0, 1].
        static_duration: seconds the step average is shown.
        interpolation_steps: blended frames between consecutive steps.
        include_colorbar: draw a colorbar naming the normalisation.
        video_format: ``mp4`` | ``avi`` | ``gif`` when the output suffix does not say.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``.
        dpi: pixels per inch (frame size = ``figsize × dpi``).
    """

    def __init__(
        self,
        analyzer: AttentionAnalyzer | Path | str,
        figsize: Sequence[float] = (12.0, 8.0),
        colormap: str = "hot",
        fps: float = 10.0,
        overlay_alpha: float = 0.6,
        static_duration: float = 3.0,
        interpolation_steps: int = 2,
        include_colorbar: bool = True,
        video_format: str = "mp4",
        normalization: str = "global",
        dpi: int = 100,
    ) -> None:
        self.analyzer = analyzer if isinstance(analyzer, AttentionAnalyzer) else AttentionAnalyzer(analyzer)
        self.options = RenderOptions(
            figsize=tuple(figsize),  # type: ignore[arg-type]  # validated to two floats
            colormap=colormap,
            overlay_alpha=overlay_alpha,
            static_duration=static_duration,
            fps=fps,
            interpolation_steps=interpolation_steps,
            include_colorbar=include_colorbar,
            video_format=video_format,
            normalization=normalization,
            dpi=dpi,
        )

    @classmethod
    def from_params(
        cls, analyzer: AttentionAnalyzer | Path | str, params: Mapping[str, Any] | Any
    ) -> AttentionVisualizer:
        """Build from a config's ``visualization_params``: the section object or a mapping.

        Unknown keys are an error. ``dpi`` may be added to a mapping.

        Example:
            >>> from attention_visual.config import load_config
            >>> params = load_config("configs/tiny_demo.yaml").attention_analysis.visualization_params
            >>> AttentionVisualizer.from_params("outputs/batch/attention_maps", params).options.colormap
            'hot'
        """
        mapping = params.to_dict() if hasattr(params, "to_dict") else params
        options = RenderOptions.from_mapping(mapping)
        visualizer = cls(analyzer)
        visualizer.options = options
        return visualizer

    @classmethod
    def from_maps(
        cls,
        maps: Mapping[str, np.ndarray],
        metadata: Mapping[str, Sequence[MapMetadata]] | None = None,
        **options: Any,
    ) -> AttentionVisualizer:
        """Render from maps in memory instead of a store, e.g. ``capture.word_maps()``.

        Args:
            maps: ``{word: [step, *leading, frame, y, x]}``.
            metadata: ``{word: [metadata of each step]}``; default: ``maps.metadata`` (what
                ``capture.word_maps()`` returns carries it).
            **options: The constructor's options (``fps``, ``colormap``, ``figsize``, ...).

        The video id to pass to the rendering methods is ``visualizer.analyzer.video_id`` (the metadata's;
        ``"captured"`` unless ``word_maps(video_id=...)`` said otherwise).

        Example:
            >>> viz = AttentionVisualizer.from_maps(capture.word_maps(), fps=4)   # doctest: +SKIP
            >>> viz.generate_attention_video("captured", "kiss", "kiss_steps.mp4")  # doctest: +SKIP
        """
        if metadata is None:
            metadata = getattr(maps, "metadata", None)
            if metadata is None:
                raise RenderError("give the maps' metadata: {word: [metadata of each step]}")
        return cls(InMemoryAnalyzer(maps, metadata), **options)

    # -- videos -------------------------------------------------------------------------------
    @keyword_aliases(token_word="word")
    def generate_attention_video(
        self,
        video_id: str,
        word: str,
        output_path: Path | str,
        original_video_path: Path | str | None = None,
        overlay_alpha: float | None = None,
        interpolation_steps: int | None = None,
        include_timestamp: bool = False,
        use_aggregated: bool = False,
        *,
        step: int | None = None,
        frame: FrameMode = "mean",
        layout: str = "overlay",
        video_format: str | None = None,
    ) -> Path:
        """Render one word's attention video to ``output_path`` and return the path.

        Without ``original_video_path``: a step video (one frame per stored step, blended
        frames between), or with ``use_aggregated`` the step-averaged map held for
        ``static_duration`` seconds. With it: the generated video with each frame's attention
        overlaid, from the step-averaged map (default) or from ``step``.

        Args:
            video_id: a stored video.
            word: one of its marked words, as written in the prompt (``token_word=``: the older name).
            output_path: ``.mp4``, ``.avi`` or ``.gif`` (else ``video_format`` decides).
            original_video_path: the generated video, for overlays.
            overlay_alpha: overrides the constructor's value.
            interpolation_steps: overrides the constructor's value.
            include_timestamp: step index and denoising progress (step video) or frame
                number and time (overlay).
            use_aggregated: the step-averaged map instead of the steps.
            step: overlay the map of this stored step instead of the average.
            frame: step videos: ``"mean"`` over the video's frames, ``"tile"`` all latent
                frames, or one latent frame index.
            layout: overlays: ``"overlay"`` or ``"side_by_side"`` (video | heatmap | overlay).
            video_format: ``mp4`` | ``avi`` | ``gif``; must agree with a known output suffix.

        Raises:
            NotFoundError: unknown video, word or step (the message lists what exists).
            RenderError: invalid option, unwritable output, unreadable original video.
            AttentionDataError: a corrupted map file.
        """
        output = prepare_output(output_path)  # fail before loading or rendering anything
        container = format_of(output, video_format, self.options.video_format)
        if original_video_path is not None and Path(original_video_path).absolute() == output:
            raise RenderError(f"output {output} would overwrite the original video; choose another path")
        source = self.prepare_video(
            video_id,
            word,
            original_video_path,
            overlay_alpha=overlay_alpha,
            interpolation_steps=interpolation_steps,
            include_timestamp=include_timestamp,
            use_aggregated=use_aggregated,
            step=step,
            frame=frame,
            layout=layout,
        )
        log.info("rendering %d frames (%dx%d) to %s", source.num_frames, source.width, source.height, output)
        return write_video(source, output, container)

    @keyword_aliases(token_word="word")
    def prepare_video(
        self,
        video_id: str,
        word: str,
        original_video_path: Path | str | None = None,
        *,
        overlay_alpha: float | None = None,
        interpolation_steps: int | None = None,
        include_timestamp: bool = False,
        use_aggregated: bool = False,
        step: int | None = None,
        frame: FrameMode = "mean",
        layout: str = "overlay",
    ) -> FrameSource:
        """The lazy frame source :meth:`generate_attention_video` encodes (same arguments)."""
        options = self.options.replace(overlay_alpha=overlay_alpha, interpolation_steps=interpolation_steps)
        if step is not None and (use_aggregated or original_video_path is None):
            why = "use_aggregated asks for the average" if use_aggregated else "step videos show every step"
            raise RenderError(f"step selects the map overlaid on an original video; {why}")
        if original_video_path is not None:
            if step is not None:
                info = self.analyzer.load_step(video_id, word, step)
                grid, meta = self.analyzer.grid(info), info.metadata
                heading = f"step {step + 1} / {meta.num_steps}"
            else:
                grid, meta = self._averaged(video_id, word)
                heading = f"mean of {len(meta.steps_used) or meta.num_steps} steps"
            return overlay_video(
                grid, meta, word, options, Path(original_video_path), layout, include_timestamp, heading
            )
        if use_aggregated:
            grid, meta = self._averaged(video_id, word)
            return still_video(grid, meta, word, options, frame, include_timestamp)
        stack, metas = self.analyzer.step_stack(video_id, word)  # [step, frame, y, x]
        return step_video(stack, metas, word, options, frame, include_timestamp)

    # -- arrays and figures ---------------------------------------------------------------------
    @keyword_aliases(token_word="word")
    def generate_aggregated_attention_map(self, video_id: str, word: str, aggregate_steps: bool = True) -> np.ndarray:
        """The word's map on the latent grid.

        Args:
            video_id: a stored video.
            word: one of its marked words (``token_word=``: the older name).
            aggregate_steps: True: the step average ``[frame, y, x]`` (the stored one, else the
                mean of the stored steps); False: every stored step,
                ``[step, frame, y, x]``.
        """
        if aggregate_steps:
            return self._averaged(video_id, word)[0]
        return self.analyzer.step_stack(video_id, word)[0]

    @keyword_aliases(tokens="words")
    def generate_temporal_comparison(
        self,
        video_id: str,
        words: Sequence[str],
        save_path: Path | str | None = None,
        snapshots: int = 4,
    ) -> Figure:
        """Compare several words of one video across denoising steps and video frames.

        Args:
            video_id: a stored video.
            words: its marked words to compare (``tokens=``: the older name).
            save_path: write the figure here (PNG, or any format matplotlib knows by suffix).
            snapshots: how many steps the small-multiples grid shows per word.

        Returns:
            The figure: 2×3 plots of the measures mass, peak and entropy (:mod:`attention_visual.measures`)
            across steps and frames, and one row of snapshots per word.
        """
        if not words:
            raise RenderError("give at least one word to compare")
        output = prepare_output(save_path) if save_path is not None else None
        if output is not None:
            kind = output.suffix.lstrip(".").lower()
            supported = FigureCanvasBase.get_supported_filetypes()
            if kind not in supported:
                raise RenderError(f"cannot save a figure as {output.name}; use one of .{', .'.join(sorted(supported))}")
        metrics, snaps, snap_steps = [], [], []
        for word in words:
            stack, metas = self.analyzer.step_stack(video_id, word)  # [step, frame, y, x]
            steps = [m.step_index if m.step_index is not None else i for i, m in enumerate(metas)]  # 0-based
            weights = self.analyzer.frame_weights(metas[0])  # [frame]
            metrics.append(temporal_metrics(stack, weights, steps))
            picks = snapshot_positions(len(steps), snapshots)
            snaps.append(np.stack([self.analyzer.frame_averaged(stack[i], metas[0]) for i in picks]))
            snap_steps.append([steps[i] for i in picks])
        fig = comparison_figure(
            list(words),
            metrics,
            snaps,
            snap_steps,
            colormap=self.options.colormap,
            title=f"{video_id}: attention over denoising steps and video frames",
            dpi=self.options.dpi,
        )
        if output is not None:
            with atomic_output(output) as fh:
                fig.savefig(fh, format=kind)
            log.info("wrote %s", output)
        return fig

    def _averaged(self, video_id: str, word: str) -> tuple[np.ndarray, MapMetadata]:
        """``([frame, y, x], metadata)`` of the step-averaged map: the stored one, else the mean of the steps."""
        try:
            info = self.analyzer.load_aggregated(video_id, word)
            return self.analyzer.grid(info), info.metadata
        except NotFoundError:
            if not self.analyzer.get_available_steps(video_id, word):
                raise
        stack, metas = self.analyzer.step_stack(video_id, word)  # [step, frame, y, x]
        log.info("no stored step average for %r: averaging its %d stored steps", word, len(metas))
        steps = tuple(m.step_index if m.step_index is not None else i for i, m in enumerate(metas))
        meta = dataclasses.replace(  # describes the averaged grid: [frame, y, x], all stored steps
            metas[0],
            steps_used=steps,
            step_index=None,
            aggregation_method="mean_over_steps",
            shape=tuple(stack.shape[1:]),
            axes=GRID_AXES,
        )
        return stack.mean(axis=0), meta


__all__ = ["AttentionVisualizer"]

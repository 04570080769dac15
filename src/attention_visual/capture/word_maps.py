"""What :meth:`AttentionCapture.word_maps` returns: ``{word: ndarray}`` that can also plot itself.

:class:`CapturedMaps` is a ``dict`` (``maps["kiss"]`` is the ``[step, *leading, frame, y, x]`` array,
as before) that also carries each step's :class:`~attention_visual.storage.MapMetadata` (exactly what
``capture.save`` would write) and draws matplotlib figures, which Jupyter shows inline:

* :meth:`CapturedMaps.plot` — one word's map at one step (or the step average), averaged over the
  video's frames or at one latent frame;
* :meth:`CapturedMaps.overlay` — the word's map over frames of the generated video (each video frame
  with the latent frame that produced it).

For videos rendered from these maps without writing them first, see
:meth:`attention_visual.visualization.AttentionVisualizer.from_maps`. The figures are built with
``matplotlib.figure.Figure`` (no pyplot state; :class:`InlineFigure` adds the PNG that Jupyter shows);
``fig.savefig(path)`` writes them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from attention_visual.errors import NotFoundError, RenderError
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.storage.schema.reduce import to_grid


class InlineFigure(Figure):
    """A matplotlib ``Figure`` that Jupyter shows inline even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


class CapturedMaps(dict[str, np.ndarray]):
    """``{word: [step, *leading, frame, y, x]}`` with per-step metadata, :meth:`plot` and :meth:`overlay`.

    Args:
        maps: ``{word: [step, *leading, frame, y, x]}``.
        metadata: ``{word: [metadata of each step]}``, one per entry of the array's step axis.
    """

    def __init__(self, maps: Mapping[str, np.ndarray], metadata: Mapping[str, Sequence[MapMetadata]]) -> None:
        super().__init__(maps)
        if set(metadata) != set(maps):
            raise ValueError(f"metadata words {sorted(metadata)} differ from the maps' words {sorted(maps)}")
        for word, metas in metadata.items():
            if len(metas) != len(maps[word]):
                raise ValueError(f"{word!r}: {len(metas)} metadata entries for {len(maps[word])} steps")
        self.metadata: dict[str, list[MapMetadata]] = {w: list(m) for w, m in metadata.items()}

    # -- arrays ---------------------------------------------------------------------------------
    def grids(self, word: str, pass_name: str = "cond") -> np.ndarray:
        """``[step, frame, y, x]`` float32: the word's steps reduced to the token grid (leading axes averaged)."""
        stack = self._get(word)
        return np.stack([to_grid(stack[i], meta, pass_name) for i, meta in enumerate(self.metadata[word])])

    def grid(self, word: str, step: int | None = None, pass_name: str = "cond") -> np.ndarray:
        """``[frame, y, x]`` float32: the word's map at denoising step ``step`` (None: the mean of all steps)."""
        grids = self.grids(word, pass_name)  # [step, frame, y, x]
        if step is None:
            return np.asarray(grids.mean(axis=0), dtype=np.float32)
        return np.asarray(grids[self._step_position(word, step)])

    # -- figures --------------------------------------------------------------------------------
    def plot(self, word: str, step: int | None = None, frame: int | None = None, *, colormap: str = "hot") -> Figure:
        """One word's map as a heatmap figure.

        Args:
            word: A marked word.
            step: A captured denoising step index; None: the mean over the captured steps.
            frame: A latent frame index; None: the mean over the *video's* frames (latent frames weighted
                by the video frames each produced).
            colormap: Any matplotlib colormap name.

        Returns:
            A ``matplotlib.figure.Figure`` (shown inline by Jupyter).
        """
        grid = self.grid(word, step)  # [frame, y, x]
        meta = self.metadata[word][0]
        if frame is None:
            weights = _frame_weights(meta)  # [frame]
            image = np.tensordot(weights / weights.sum(), grid, axes=([0], [0]))  # [y, x]
            where = "mean over the video's frames"
        else:
            if not -grid.shape[0] <= frame < grid.shape[0]:
                raise NotFoundError(f"no latent frame {frame}; the map has frames 0..{grid.shape[0] - 1}")
            image = grid[frame]
            where = f"latent frame {frame % grid.shape[0]}"
        when = "mean of the captured steps" if step is None else f"step {step + 1} / {meta.num_steps}"
        fig = InlineFigure(figsize=(5.0, 5.0 * image.shape[0] / image.shape[1] + 0.8), layout="constrained")
        ax = fig.add_subplot()
        shown = ax.imshow(image, cmap=colormap, interpolation="nearest")
        fig.colorbar(shown, ax=ax, shrink=0.8, label="attention probability")
        ax.set_title(f"“{word}” — {when}, {where}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig

    def overlay(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        word: str,
        step: int | None = None,
        *,
        show: Sequence[int] | int = 4,
        alpha: float = 0.6,
        colormap: str = "hot",
    ) -> Figure:
        """The word's map over frames of the generated video, as a figure with one panel per shown frame.

        Each video frame ``n`` is overlaid with the map of the latent frame that produced it (Wan: latent
        ``(n + 3) // 4``), stretched bilinearly over the frame; values are scaled to the map's own range.

        Args:
            frames: The generated video, ``[frame, H, W, 3]`` (uint8, or float in ``[0, 1]``, e.g. the
                pipeline's ``output_type="np"`` frames ``out.frames[0]``), with as many frames as the
                metadata's video (``video_dimensions.frames``).
            word: A marked word.
            step: A captured denoising step index; None: the mean over the captured steps.
            show: How many evenly spaced frames to show, or the video frame indices to show.
            alpha: Opacity of the heatmap, in ``[0, 1]``.
            colormap: Any matplotlib colormap name.

        Returns:
            A ``matplotlib.figure.Figure`` (shown inline by Jupyter); it holds no array of its own.

        Raises:
            RenderError: ``frames`` is not ``[frame, H, W, 3]`` of the video's length, or a bad ``alpha``.
        """
        video = np.asarray(frames)  # [frame, H, W, 3]
        grid = self.grid(word, step)  # [frame, y, x]
        meta = self.metadata[word][0]
        expected = meta.latent_to_video_frames[-1][1] + 1
        if video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] != expected:
            raise RenderError(f"frames must be [frame, H, W, 3] with {expected} frames, got shape {video.shape}")
        if not 0.0 <= alpha <= 1.0:
            raise RenderError(f"alpha must be in [0, 1], got {alpha}")
        picks = (
            [int(i) for i in np.linspace(0, expected - 1, min(show, expected)).round()]
            if isinstance(show, int)
            else [int(i) for i in show]
        )
        if not picks or any(not 0 <= i < expected for i in picks):
            raise RenderError(f"show must name video frames in 0..{expected - 1}, got {show}")
        latent_of = {
            n: k for k, (first, last) in enumerate(meta.latent_to_video_frames) for n in range(first, last + 1)
        }
        height, width = video.shape[1:3]
        low, high = float(grid.min()), float(grid.max())
        fig = InlineFigure(figsize=(3.0 * len(picks), 3.0 * height / width + 0.6), layout="constrained")
        axes = fig.subplots(1, len(picks), squeeze=False)[0]
        for ax, n in zip(axes, picks, strict=True):
            ax.imshow(video[n])
            ax.imshow(grid[latent_of[n]], cmap=colormap, alpha=alpha, vmin=low, vmax=high,
                      extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="bilinear")  # fmt: skip
            ax.set_title(f"frame {n} (latent {latent_of[n]})", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        when = "mean of the captured steps" if step is None else f"step {step + 1} / {meta.num_steps}"
        fig.suptitle(f"“{word}” — {when}", fontsize=9)
        return fig

    # -- helpers --------------------------------------------------------------------------------
    def _get(self, word: str) -> np.ndarray:
        if word not in self:
            raise NotFoundError(f"no word {word!r}; captured words: {', '.join(self) or '(none)'}")
        return self[word]

    def _step_position(self, word: str, step: int) -> int:
        steps = [m.step_index for m in self.metadata[word]]
        if step not in steps:
            raise NotFoundError(f"step {step} was not captured; captured steps: {steps}")
        return steps.index(step)


def _frame_weights(meta: MapMetadata) -> np.ndarray:
    """``[frame]``: how many video frames each latent frame produced (Wan: 1, 4, 4, ...)."""
    return np.asarray([last - first + 1 for first, last in meta.latent_to_video_frames], dtype=np.float32)


__all__ = ["CapturedMaps", "InlineFigure"]

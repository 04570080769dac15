"""What :meth:`AttentionCapture.word_maps` returns: ``{word: ndarray}`` that can also plot itself.

:class:`CapturedMaps` is a ``dict`` (``maps["kiss"]`` is the ``[step, *leading, frame, y, x]`` array,
as before) that also carries each step's :class:`~attention_visual.storage.MapMetadata` (exactly what
``capture.save`` would write) and draws matplotlib figures, which Jupyter shows inline:

* :meth:`CapturedMaps.plot` — one word's map at one step (or the step average), averaged over the
  video's frames or at one latent frame;
* :meth:`CapturedMaps.overlay` — the word's map over frames of the generated video (each video frame
  with the latent frame that produced it).

The figures are drawn by :mod:`attention_visual.visualization.map_figures` (plotting lives in
visualization; capture sits above it in the import layers, so the maps it returns can draw themselves).
For videos rendered from these maps without writing them first, see
:meth:`attention_visual.visualization.AttentionVisualizer.from_maps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from attention_visual.errors import NotFoundError
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.storage.schema.reduce import to_grid
from attention_visual.visualization.map_figures import InlineFigure, map_figure, overlay_figure


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
        """``[step, frame, y, x]`` float32: the word's steps reduced to the latent grid (leading axes averaged)."""
        stack = self._get(word)
        return np.stack([to_grid(stack[i], meta, pass_name) for i, meta in enumerate(self.metadata[word])])

    def grid(self, word: str, step: int | None = None, pass_name: str = "cond") -> np.ndarray:
        """``[frame, y, x]`` float32: the word's map at denoising step ``step`` (None: the mean of all steps)."""
        grids = self.grids(word, pass_name)  # [step, frame, y, x]
        if step is None:
            return np.asarray(grids.mean(axis=0), dtype=np.float32)
        return np.asarray(grids[self._step_position(word, step)])

    # -- figures (drawn by attention_visual.visualization.map_figures) ----------------------------
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
        return map_figure(self.grid(word, step), self.metadata[word][0], word, step, frame, colormap)

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
        """The word's map over frames of the generated video, one panel per shown frame.

        Each video frame is overlaid with the map of the latent frame that produced it; the drawing is
        :func:`~attention_visual.visualization.map_figures.overlay_figure` (its ``show``, ``alpha`` and
        ``colormap``).

        Args:
            frames: The generated video, ``[frame, H, W, 3]`` (uint8, or float in ``[0, 1]``, e.g. the
                pipeline's ``output_type="np"`` frames ``out.frames[0]``), of the metadata's length.
            word: A marked word.
            step: A captured denoising step index; None: the mean over the captured steps.

        Raises:
            RenderError: ``frames`` is not ``[frame, H, W, 3]`` of the video's length, or a bad ``alpha``.
        """
        grid = self.grid(word, step)  # [frame, y, x]
        return overlay_figure(np.asarray(frames), grid, self.metadata[word][0], word, step, show, alpha, colormap)

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


__all__ = ["CapturedMaps", "InlineFigure"]

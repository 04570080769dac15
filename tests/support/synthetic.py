"""Synthetic maps for store/analyzer tests: non-square grids, no model needed.

Import as ``from support.synthetic import make_metadata`` (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import numpy as np

from attention_visual.storage import LatentGrid, MapMetadata, VideoDimensions
from attention_visual.storage.schema.frames import latent_to_video_frame_ranges

GRID = (3, 2, 5)  # [frame, y, x]: non-square so a transposed axis cannot pass


def make_metadata(
    word: str = "kiss",
    step: int | None = 0,
    video_id: str = "prompt_001_vid_001",
    shape: tuple[int, ...] = GRID,
    axes: tuple[str, ...] = ("frame", "y", "x"),
    num_steps: int = 4,
    width: int = 80,
    height: int = 32,
    fps: float = 16.0,
    **extra: object,
) -> MapMetadata:
    """Metadata of one synthetic map (``step=None``: the step-average); ``extra`` sets any other field."""
    frames = shape[-3]
    return MapMetadata(
        video_id=video_id,
        token_word=word,
        shape=shape,
        dtype="float32",
        axes=axes,
        num_steps=num_steps,
        steps_used=(step,) if step is not None else tuple(range(num_steps)),
        step_index=step,
        aggregation_method="per_step" if step is not None else "mean_over_steps",
        video_dimensions=VideoDimensions(width=width, height=height, fps=fps, frames=4 * (frames - 1) + 1),
        token_grid=LatentGrid(frames=shape[-3], height=shape[-2], width=shape[-1]),
        latent_to_video_frames=latent_to_video_frame_ranges(frames),
        **extra,  # type: ignore[arg-type]
    )


def hot_spot(shape: tuple[int, ...] = GRID, at: tuple[int, ...] = (2, 0, 0), value: float = 1.0) -> np.ndarray:
    arr = np.zeros(shape, dtype=np.float32)
    arr[at] = value
    return arr

"""The report's map sprites: one PNG of every step × latent frame per word.

A sprite is a grid of tiles, one row per stored denoising step and one column per latent frame,
plus a first column holding the map averaged over the video's frames::

    row s, column 0      step s, mean over the video frames (latent frames weighted by frames owned)
    row s, column k ≥ 1  step s, latent frame k − 1

Every tile is the word's map on the latent grid, coloured through the render colormap's lookup table
(:func:`attention_visual.render.colormap.colormap_lut`) after :func:`normalize_maps` (one range for
the whole sprite with the default ``global`` mode), and upscaled nearest-neighbour by a small integer
factor so grid cells stay crisp blocks. The PNG is palette-based (one byte per pixel, the LUT as palette).
The page shows one tile at a time by moving the sprite's CSS ``background-position``.

What the page needs to show a sprite (tile size, step and frame labels, the normalisation range) is a
:class:`SpriteInfo`, kept in the video's ``assets.json`` (:mod:`.video_assets`).

Example:
    >>> from attention_visual.visualization.attention_analyzer import AttentionAnalyzer
    >>> analyzer = AttentionAnalyzer("outputs/batch/attention_maps")
    >>> info = write_sprite(analyzer, "prompt_001_vid_001", "kiss", Path("kiss.png"))
    >>> info.rows, info.cols  # a row per stored step; the frame mean, then each of the 3 latent frames
    (3, 4)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from attention_visual.render.colormap import colormap_lut, lut_index
from attention_visual.render.labels import conditioning_note, expert_note, with_notes
from attention_visual.render.normalize import normalize_maps
from attention_visual.storage.durable.atomic import atomic_write_with
from attention_visual.storage.schema.frames import frame_weights
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

log = logging.getLogger(__name__)

TARGET_TILE_PX = 48
"""Tiles are upscaled until their longer side reaches this many pixels (integer factor)..."""
MAX_SCALE = 16
"""...by at most this factor..."""
MAX_SPRITE_PIXELS = 16_000_000
"""...and never beyond this many pixels per sprite (Wan 480p, 50 steps: scale 1, 1.7 M pixels)."""
GRADIENT_STOPS = 9


@dataclass(frozen=True)
class SpriteInfo:
    """What the page needs to show one word's sprite (kept in the video's ``assets.json``).

    Attributes:
        rows: Stored steps (one tile row each).
        cols: 1 + latent frames (column 0 is the frame average).
        tile_height: Pixels per tile in the PNG.
        tile_width: Pixels per tile in the PNG.
        grid: ``(frame, y, x)`` latent grid of the map.
        step_labels: One label per row, e.g. ``"step 3/50 · t=812"``.
        frame_labels: One label per column, e.g. ``"latent frame 2/21 · video frames 2–5"``.
        vmin: The value at the bottom of the colormap (see ``norm_label``).
        vmax: The value at the top.
        norm_label: What the colours mean (the normalisation mode).
        colormap: The matplotlib colormap name.
        gradient: CSS colours of the colormap, bottom to top, for the colour bar.
    """

    rows: int
    cols: int
    tile_height: int
    tile_width: int
    grid: tuple[int, int, int]
    step_labels: tuple[str, ...]
    frame_labels: tuple[str, ...]
    vmin: float
    vmax: float
    norm_label: str
    colormap: str
    gradient: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpriteInfo:
        kwargs = dict(data)
        for name in ("grid", "step_labels", "frame_labels", "gradient"):
            kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)


def tile_scale(grid_hw: tuple[int, int], tiles: int) -> int:
    """The integer upscaling factor of a tile of ``grid_hw`` grid cells in a sprite of ``tiles`` tiles."""
    h, w = grid_hw
    scale = max(1, min(MAX_SCALE, math.ceil(TARGET_TILE_PX / max(h, w))))
    while scale > 1 and tiles * h * w * scale * scale > MAX_SPRITE_PIXELS:
        scale -= 1
    return scale


def step_label(metadata: MapMetadata, position: int) -> str:
    """``"step 3/50 · t=812"``: the 1-based denoising step (and timestep when stored, and the expert).

    With two experts (Wan2.2 A14B): ``"step 3/40 · t=812 · high-noise expert"``.
    """
    step = metadata.step_index if metadata.step_index is not None else position
    label = f"step {step + 1}/{metadata.num_steps}"
    timestep = f"t={metadata.timestep:.0f}" if metadata.timestep is not None else ""
    return with_notes(label, timestep, expert_note(metadata))


def frame_labels(metadata: MapMetadata, frames: int) -> tuple[str, ...]:
    """Column labels: the frame average, then each latent frame with the video frames it produced.

    Conditioning frames (an input image's or VACE reference's latent) end in ``· conditioning``.
    """
    labels = ["all frames (weighted mean)"]
    frame_weights(metadata, frames)  # the mapping must fit the map's frames
    for k, (first, last) in enumerate(metadata.latent_to_video_frames):
        label = f"latent frame {k + 1}/{frames}"
        if last >= first:  # VACE reference frames map to no video frame
            label += f" · video frame {first + 1}" if first == last else f" · video frames {first + 1}–{last + 1}"
        labels.append(with_notes(label, conditioning_note(metadata, k)))
    return tuple(labels)


def css_gradient(colormap: str) -> tuple[str, ...]:
    """:data:`GRADIENT_STOPS` CSS ``#rrggbb`` colours sampled evenly from the colormap's LUT."""
    lut = colormap_lut(colormap)  # [256, 3] uint8
    picks = np.linspace(0, lut.shape[0] - 1, GRADIENT_STOPS).round().astype(int)
    return tuple("#{:02x}{:02x}{:02x}".format(*(int(c) for c in lut[i])) for i in picks)


def sprite_indices(normed: np.ndarray, scale: int) -> np.ndarray:
    """Lay ``normed`` ``[row, col, y, x]`` in [0, 1] out as LUT indices ``[row*y*scale, col*x*scale]`` uint8."""
    rows, cols, h, w = normed.shape
    index = lut_index(normed, 256)  # [row, col, y, x] uint8
    index = np.repeat(np.repeat(index, scale, axis=2), scale, axis=3)  # [row, col, Y, X]
    return np.ascontiguousarray(index.transpose(0, 2, 1, 3).reshape(rows * h * scale, cols * w * scale))


def write_palette_png(path: Path, index: np.ndarray, lut: np.ndarray) -> None:
    """Write ``index`` ``[H, W]`` uint8 as a palette PNG whose palette is ``lut`` ``[n, 3]``, atomically.

    Not fsynced: the report's images are made again from the maps, and their records list their sizes
    (a power cut can leave a short file, which then does not match).
    """
    image = Image.frombytes("P", (index.shape[1], index.shape[0]), index.tobytes())
    image.putpalette(np.asarray(lut, dtype=np.uint8).reshape(-1).tolist())

    def save(fh: IO[bytes]) -> None:
        image.save(fh, format="PNG", optimize=False, compress_level=6)

    atomic_write_with(path, save, sync=False)


def sprite_from_stack(
    stack: np.ndarray,
    metas: Sequence[MapMetadata],
    output: Path,
    colormap: str = "hot",
    normalization: str = "global",
    pass_name: str = "cond",
) -> SpriteInfo:
    """Write the sprite of one word's maps ``stack`` ``[step, frame, y, x]`` to ``output`` (PNG, atomically).

    Args:
        stack: The word's stored steps on the token grid, in step order.
        metas: Their metadata (step labels, frame mapping).
        output: The PNG.
        colormap: Any matplotlib colormap name.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``.
        pass_name: The guidance pass ``stack`` holds (named in the colour bar when not ``cond``).

    Returns:
        The sprite's layout and labels.
    """
    stack = np.asarray(stack, dtype=np.float32)  # [step, frame, y, x]
    mean = AttentionAnalyzer.frame_averaged(stack, metas[0])  # [step, y, x]
    columns = np.concatenate([mean[:, None], stack], axis=1)  # [step, 1 + frame, y, x]
    normed, norm = normalize_maps(columns, normalization)
    rows, cols, h, w = normed.shape
    scale = tile_scale((h, w), rows * cols)
    write_palette_png(output, sprite_indices(normed, scale), colormap_lut(colormap))
    log.debug("wrote sprite %s (%d steps × %d columns, scale %d)", output, rows, cols, scale)
    return SpriteInfo(
        rows=rows,
        cols=cols,
        tile_height=h * scale,
        tile_width=w * scale,
        grid=(stack.shape[1], h, w),
        step_labels=tuple(step_label(m, i) for i, m in enumerate(metas)),
        frame_labels=frame_labels(metas[0], stack.shape[1]),
        vmin=norm.vmin,
        vmax=norm.vmax,
        norm_label=norm.label if pass_name == "cond" else f"{norm.label} · {pass_name} pass",
        colormap=colormap,
        gradient=css_gradient(colormap),
    )


def write_sprite(
    analyzer: AttentionAnalyzer,
    video_id: str,
    word: str,
    output: Path,
    colormap: str = "hot",
    normalization: str = "global",
) -> SpriteInfo:
    """Read ``word`` of ``video_id`` and write its sprite to ``output`` (:func:`sprite_from_stack`).

    The ``cond`` pass when stored, else the stored one.

    Raises:
        NotFoundError: The video or word has no stored steps.
        AttentionDataError: A corrupted map file.
    """
    steps = analyzer.get_available_steps(video_id, word)
    passes = analyzer.load_step(video_id, word, steps[0]).metadata.passes if steps else ("cond",)
    pass_name = "cond" if "cond" in passes else passes[0]  # guidance_pass: uncond stores only that one
    stack, metas = analyzer.step_stack(video_id, word, pass_name=pass_name)  # [step, frame, y, x]
    return sprite_from_stack(stack, metas, output, colormap, normalization, pass_name)


__all__ = [
    "SpriteInfo",
    "css_gradient",
    "frame_labels",
    "sprite_from_stack",
    "sprite_indices",
    "step_label",
    "tile_scale",
    "write_palette_png",
    "write_sprite",
]

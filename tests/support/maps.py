"""The hot-spot scene for the visualizer and CLI tests (written by :mod:`support.synthetic`), and videos.

Import as ``from support.maps import ...`` (tests/ is on pytest's pythonpath).

The default video: 5 latent frames of 3 × 4 grid cells (non-square, so a transposed axis cannot
pass), Wan's frame mapping (latent 0 → video frame 0, latent k → 4k−3 … 4k), so 17 video frames
of 64 × 48 pixels (16 × 16 pixels per grid cell) at 8 fps.

* ``kiss``: a hot spot at the top-left grid cell of latent frame 2 only (video frames 5–8), growing
  over the steps; everything else a low uniform level.
* ``flowers``: a hot spot at the bottom-right grid cell of every latent frame.
"""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np

from attention_visual.storage import MapMetadata
from support.synthetic import save_video, stored_metadata

VIDEO_ID = "prompt_001_vid_001"
GRID = (5, 3, 4)  # [frame, y, x]
WIDTH, HEIGHT, FPS = 64, 48, 8.0
FRAMES = 4 * (GRID[0] - 1) + 1  # 17 video frames
NUM_STEPS = 4
BACKGROUND = 0.01
HOT_FRAME = 2  # latent frame of kiss's hot spot: video frames 5..8
SCENE = {"width": WIDTH, "height": HEIGHT, "fps": FPS, "clean_prompt": "a kiss with flowers"}
"""The metadata fields every map of the scene has."""


def word_map(word: str, step: int, num_steps: int = NUM_STEPS, grid: tuple[int, int, int] = GRID) -> np.ndarray:
    """``[frame, y, x]`` float32 map of ``word`` at ``step``."""
    arr = np.full(grid, BACKGROUND, dtype=np.float32)
    scale = (step + 1) / num_steps
    if word == "kiss":
        arr[HOT_FRAME, 0, 0] = scale
    elif word == "flowers":
        arr[:, -1, -1] = 0.5 * scale
    else:
        arr[:, grid[1] // 2, grid[2] // 2] = 0.3
    return arr


def metadata(
    word: str,
    step: int | None,
    num_steps: int = NUM_STEPS,
    grid: tuple[int, int, int] = GRID,
    video_id: str = VIDEO_ID,
) -> MapMetadata:
    """Metadata of one map of the scene (``step=None``: the step average), as :func:`write_store` stores it."""
    return stored_metadata(step, word=word, video_id=video_id, shape=grid, num_steps=num_steps, **SCENE)


def write_store(
    root: Path,
    words: tuple[str, ...] = ("kiss", "flowers"),
    num_steps: int = NUM_STEPS,
    aggregated: bool = True,
    grid: tuple[int, int, int] = GRID,
    video_id: str = VIDEO_ID,
) -> Path:
    """Write a complete synthetic store under ``root`` (the ``attention_maps/`` folder) and return it."""
    maps = {word: np.stack([word_map(word, s, num_steps, grid) for s in range(num_steps)]) for word in words}
    save_video(root, video_id, maps, aggregated=aggregated, **SCENE)
    return root


def frame_colour(n: int) -> tuple[int, int, int]:
    """The flat colour of synthetic video frame ``n``: dark red, green encodes the frame number."""
    return (20, 12 * n % 256, 90)


def write_video(path: Path, frames: int = FRAMES, width: int = WIDTH, height: int = HEIGHT, fps: float = FPS) -> Path:
    """A synthetic "generated video" (H.264) written with imageio-ffmpeg, frame colour per :func:`frame_colour`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, macro_block_size=1, quality=9)
    writer.send(None)
    for n in range(frames):
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[...] = frame_colour(n)
        writer.send(frame.tobytes())
    writer.close()
    return path


def decode(path: Path) -> tuple[np.ndarray, dict[str, object]]:
    """Decode a video independently of the package: ``([frame, H, W, 3] uint8, ffmpeg metadata)``."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(b, dtype=np.uint8).reshape(height, width, 3) for b in reader]
    return np.stack(frames), meta

"""Reading a prompt's input images and videos without trusting them: the header first, then the pixels.

An input file may come from anywhere; a 490 KB PNG can declare 13000 × 13000 pixels (half a gigabyte
once decoded, three times that as RGB). So every input is measured from its header before a pixel is
decoded, and refused when it exceeds the limits of :mod:`attention_visual.config.limits`:

* an image, or one frame of a video: at most :data:`~attention_visual.config.limits.MAX_INPUT_PIXELS`
  (4096 × 4096);
* a video: at most :data:`~attention_visual.config.limits.MAX_INPUT_FRAMES` frames, and
  :data:`~attention_visual.config.limits.MAX_INPUT_VIDEO_PIXELS` pixels in all.

Images (and animated images) are measured by Pillow, which reads the header only on ``open``; other
videos by ffmpeg (imageio-ffmpeg's binary): the size from the stream's header, the frame count by
copying the packets without decoding them. Decoding then stops at the limits too, should the header lie.
Every problem is one :class:`~attention_visual.errors.ConfigError` naming the dotted key and the file.

Example:
    >>> probe_input("prompts[0].image", Path("inputs/dog.png"), video=False)  # doctest: +SKIP
    InputHeader(width=832, height=480, frames=1)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attention_visual.config import validation as v
from attention_visual.config.limits import MAX_INPUT_FRAMES, MAX_INPUT_PIXELS, MAX_INPUT_VIDEO_PIXELS
from attention_visual.errors import ConfigError

_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


@dataclass(frozen=True)
class InputHeader:
    """What an input file's header says: the size of its images and how many there are."""

    width: int
    height: int
    frames: int


def _too_large(key: str, path: Path, what: str) -> ConfigError:
    return ConfigError(f"{key}: {path} is too large: {what}; resize it or trim it before using it as an input")


def _check(key: str, path: Path, header: InputHeader, video: bool) -> InputHeader:
    pixels = header.width * header.height
    if header.width < 1 or header.height < 1:
        raise ConfigError(f"{key}: cannot decode {'video' if video else 'image'} {path}: it has no pixels")
    if pixels > MAX_INPUT_PIXELS:
        raise _too_large(
            key, path, f"{header.width}×{header.height} = {pixels} pixels, more than {MAX_INPUT_PIXELS} (4096×4096)"
        )
    if video and header.frames > MAX_INPUT_FRAMES:
        raise _too_large(key, path, f"{header.frames} frames, more than {MAX_INPUT_FRAMES}")
    if video and header.frames * pixels > MAX_INPUT_VIDEO_PIXELS:
        raise _too_large(
            key, path, f"{header.frames} frames of {pixels} pixels, more than {MAX_INPUT_VIDEO_PIXELS} pixels in all"
        )
    return header


def _pillow_header(key: str, path: Path, video: bool) -> InputHeader | None:
    """The header of a file Pillow reads (images, animated GIF/PNG/WebP), or None when it does not know it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
                _check(key, path, InputHeader(width, height, 1), video)
                frames = int(getattr(image, "n_frames", 1)) if video else 1
    except Image.DecompressionBombError as exc:
        found = _BOMB_PIXELS.search(str(exc))
        pixels = f"{found.group(1)} pixels" if found else "far more pixels"
        raise _too_large(key, path, f"{pixels}, more than {MAX_INPUT_PIXELS} (4096×4096)") from exc
    except UnidentifiedImageError:
        return None
    except ConfigError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        kind = "video" if video else "image"
        raise ConfigError(f"{key}: cannot decode {kind} {path}: {v.show(str(exc))}") from exc
    return InputHeader(width, height, frames)


def _ffmpeg_header(key: str, path: Path) -> InputHeader:
    """The header of a video ffmpeg reads: its size, and its frames counted by copying the packets (no decoding)."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        try:
            meta: dict[str, Any] = next(reader)
        finally:
            reader.close()
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        width, height = (int(n) for n in meta["size"])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, StopIteration) as exc:
        last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]  # ffmpeg's own last line
        raise ConfigError(f"{key}: cannot decode video {path}: {v.show(last)}") from exc
    return InputHeader(width, height, int(frames))


def probe_input(key: str, path: Path, *, video: bool) -> InputHeader:
    """The size (and frame count) of an input file from its header, checked against the limits; nothing decoded.

    Args:
        key: The dotted key that names the file in messages, e.g. ``"prompts[0].image"``.
        path: The file.
        video: A video (or animated image) rather than an image.

    Raises:
        ConfigError: The file cannot be read, or is larger than the limits.
    """
    header = _pillow_header(key, path, video)
    if header is None:
        if not video:
            raise ConfigError(f"{key}: cannot decode image {path}: not an image file")
        header = _ffmpeg_header(key, path)
    return _check(key, path, header, video)


def load_image(key: str, path: Path) -> Any:
    """An input image, checked from its header (:func:`probe_input`), decoded as RGB (a ``PIL.Image``)."""
    from PIL import Image

    probe_input(key, path, video=False)
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{key}: cannot decode image {path}: {v.show(str(exc))}") from exc


def iter_video_frames(key: str, path: Path) -> Iterator[Any]:
    """The frames of an input video (or animated image) as ``[height, width, 3]`` uint8 arrays, one at a time.

    The header is checked first (:func:`probe_input`); decoding stops with an error at a frame that
    breaks the limits, should the header lie.
    """
    import imageio.v3 as iio
    import numpy as np

    header = probe_input(key, path, video=True)
    count = 0
    try:
        with warnings.catch_warnings():  # imageio warns about each legacy plugin it tries on a broken file
            warnings.simplefilter("ignore", DeprecationWarning)
            for frame in iio.imiter(path):
                count += 1
                height, width = frame.shape[:2]
                _check(key, path, InputHeader(width, height, max(count, header.frames)), video=True)
                yield np.asarray(frame)[..., :3]  # [height, width, rgb]
    except ConfigError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{key}: cannot decode video {path}: {v.show(str(exc))}") from exc


def read_video_frames(key: str, path: Path) -> list[Any]:
    """Every frame of an input video (or animated image) as ``[height, width, 3]`` uint8 arrays (see
    :func:`iter_video_frames`)."""
    return list(iter_video_frames(key, path))


def decode_video(key: str, path: Path) -> tuple[int, tuple[int, int]]:
    """``(frames, (width, height))`` of an input video that decodes, holding one frame at a time."""
    frames, sizes = 0, set()
    for frame in iter_video_frames(key, path):
        frames += 1
        sizes.add(frame.shape[:2])
    if not frames or len(sizes) != 1:
        raise ConfigError(f"{key}: video {path} has no frames or frames of different sizes")
    height, width = sizes.pop()
    return frames, (width, height)


def decode_image(key: str, path: Path) -> tuple[int, int]:
    """``(width, height)`` of an input image that decodes (checked from its header first)."""
    from PIL import Image

    header = probe_input(key, path, video=False)
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{key}: cannot decode image {path}: {v.show(str(exc))}") from exc
    return header.width, header.height


__all__ = [
    "InputHeader",
    "decode_image",
    "decode_video",
    "iter_video_frames",
    "load_image",
    "probe_input",
    "read_video_frames",
]

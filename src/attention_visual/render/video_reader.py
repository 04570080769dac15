"""Reading the generated ("original") video back, streamed and resampled to the metadata.

:func:`probe_video` asks ffmpeg (imageio-ffmpeg's binary) for the size, frame rate, codec
and exact frame count without decoding (``-c copy``). :func:`read_frames` then decodes frame
by frame, scaled by ffmpeg to the requested size and resampled in time to the requested frame
count (nearest frame in time, streamed, so the video is never held whole in memory).

Example:
    >>> video = Path("outputs/batch/videos/prompt_001/video_001.mp4")
    >>> info = probe_video(video)
    >>> info.width, info.height, info.frames
    (48, 32, 9)
    >>> [frame.shape for frame in read_frames(video, info, frames=3, width=24, height=16)]  # [H, W, 3]
    [(16, 24, 3), (16, 24, 3), (16, 24, 3)]
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_visual.errors import RenderError
from attention_visual.render.encoder import ffmpeg_exe, grow_pipe

log = logging.getLogger(__name__)

_STREAM = re.compile(r"Stream #\d+:\d+[^\n]*?: Video: (?P<codec>[\w-]+)[^\n]*?\b(?P<w>\d{1,5})x(?P<h>\d{1,5})\b")
_FPS = re.compile(r"(?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg reports about a video file's first video stream."""

    width: int
    height: int
    fps: float
    frames: int
    codec: str


def probe_video(path: Path | str) -> VideoInfo:
    """Size, fps, frame count and codec of ``path``'s first video stream.

    Raises:
        RenderError: the file is missing, is not a video, or has no frames.
    """
    path = Path(path)
    if not path.is_file():
        raise RenderError(f"original video {path} does not exist")
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "null",
        "-",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"cannot read original video {path}: {exc}") from exc
    text = done.stderr.decode(errors="replace")
    stream = _STREAM.search(text)
    if done.returncode != 0 or stream is None:
        raise RenderError(f"cannot read original video {path}: {_last_error(text)}")
    fps_match = _FPS.search(text, stream.end())
    fps = float(fps_match["fps"]) * (1000.0 if fps_match and fps_match["k"] else 1.0) if fps_match else 0.0
    counts = _FRAMES.findall(text)
    frames = int(counts[-1]) if counts else 0
    if frames <= 0:
        raise RenderError(f"cannot read original video {path}: it has no frames")
    return VideoInfo(int(stream["w"]), int(stream["h"]), fps, frames, stream["codec"])


def source_index(target_frames: int, source_frames: int) -> np.ndarray:
    """``[target_frames]`` int: the source frame shown at each target frame (nearest in time)."""
    centres = (np.arange(target_frames) + 0.5) * (source_frames / target_frames)  # [target_frames]
    index: np.ndarray = np.clip(np.floor(centres), 0, source_frames - 1).astype(np.int64)
    return index


def read_frames(
    path: Path | str,
    info: VideoInfo,
    frames: int | None = None,
    width: int | None = None,
    height: int | None = None,
    channels: int = 3,
) -> Iterator[np.ndarray]:
    """Decode ``path`` and yield ``[height, width, channels]`` uint8 frames, ``frames`` of them.

    Args:
        path: the video file.
        info: its :func:`probe_video` result.
        frames: how many frames to yield (default: the video's own count); a different count
            repeats or skips frames, nearest in time.
        width: output width (default: the video's); ffmpeg rescales (bicubic).
        height: output height (default: the video's).
        channels: 3 for RGB, 4 for RGBX (a padding byte after each pixel).

    Frames are read-only arrays (a repeated frame is the same array). The decoder is
    stopped when the iterator is closed.
    """
    path = Path(path)
    frames = frames or info.frames
    width, height = width or info.width, height or info.height
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0"]
    if (width, height) != (info.width, info.height):
        cmd += ["-vf", f"scale={width}:{height}:flags=bicubic"]
    pix_fmt = {3: "rgb24", 4: "rgb0"}[channels]
    cmd += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    wanted = source_index(frames, info.frames)  # [frames]
    frame_bytes = width * height * channels
    with tempfile.TemporaryFile() as stderr:
        # Its own process group: a terminal's Ctrl-C reaches this process, which stops the decoder itself.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, process_group=0)
        assert proc.stdout is not None
        grow_pipe(proc.stdout)  # the decoder runs ahead by a frame instead of waking this process 25 times a frame
        try:
            current: np.ndarray | None = None  # [height, width, channels], read-only
            decoded = -1
            for i in range(len(wanted)):
                while decoded < wanted[i]:
                    data = proc.stdout.read(frame_bytes)
                    if len(data) != frame_bytes:
                        break
                    current = np.frombuffer(data, dtype=np.uint8).reshape(height, width, channels)
                    decoded += 1
                if current is None:
                    proc.wait()
                    stderr.seek(0)
                    reason = _last_error(stderr.read().decode(errors="replace"))
                    raise RenderError(f"cannot decode original video {path}: {reason}")
                if decoded < wanted[i]:
                    log.warning(
                        "original video %s ended after %d of %d frames; repeating the last",
                        path,
                        decoded + 1,
                        info.frames,
                    )
                    wanted[i:] = decoded
                yield current
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "rror" in ln or "nvalid" in ln or "No such" in ln]
    return (errors or lines or ["no video stream found"])[-1]


__all__ = ["VideoInfo", "probe_video", "read_frames", "source_index"]

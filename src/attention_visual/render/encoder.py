"""Streaming, atomic video encoding through the ffmpeg binary that imageio-ffmpeg ships.

Frames are piped to ffmpeg as raw RGB one at a time, so a long video never sits in memory
whole. ffmpeg writes a hidden temporary file beside the target (``.<name>.tmp-*``); only
when it exits cleanly is that file renamed over the target, so an existing file is never
touched by a failed or interrupted render.

Formats:

* ``mp4``: H.264 (libx264, ``-preset medium -crf 20``), yuv420p, ``+faststart``: plays in browsers.
  Needs even frame sizes.
* ``avi``: Motion-JPEG (``-q:v 3``), full-range 4:2:0.
* ``gif``: 256-colour palette computed over the whole clip (``palettegen``/``paletteuse``), loops.

Example:
    >>> import numpy as np
    >>> with VideoWriter(Path("out.mp4"), width=64, height=48, fps=10) as writer:
    ...     for value in range(0, 250, 25):
    ...         writer.write(np.full((48, 64, 3), value, np.uint8))  # [48, 64, 3] uint8
    >>> Path("out.mp4").stat().st_size > 0
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO

import imageio_ffmpeg
import numpy as np

from attention_visual.errors import RenderError
from attention_visual.render.options import VIDEO_FORMATS
from attention_visual.storage.durable.atomic import TMP_MARKER, publish
from attention_visual.storage.durable.faults import fault_in_message

log = logging.getLogger(__name__)

#: ffmpeg output arguments of each format (after the raw-video input).
FORMAT_ARGS: dict[str, tuple[str, ...]] = {
    "mp4": (
        "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-f", "mp4",
    ),
    "avi": ("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "avi"),
    "gif": (
        "-vf", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=bayer:bayer_scale=4",
        "-loop", "0", "-f", "gif",
    ),
}  # fmt: skip

_PIXEL_FORMATS = {3: "rgb24", 4: "rgb0"}
_PIPE_BYTES = 1 << 20  # a larger pipe lets rendering run ahead of the encoder a little


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (no system ffmpeg needed)."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def format_of(path: Path, requested: str | None = None, default: str = "mp4") -> str:
    """The video format for ``path``: its suffix, or ``requested`` or ``default`` when it has none.

    Raises:
        RenderError: an unknown suffix or ``requested`` format, or the two disagree.
    """
    suffix = path.suffix.lower().lstrip(".")
    if requested is not None and requested not in VIDEO_FORMATS:
        raise RenderError(f"video format must be one of {', '.join(VIDEO_FORMATS)}, got {requested!r}")
    if suffix and suffix not in VIDEO_FORMATS:
        raise RenderError(f"output {path.name}: unsupported video suffix .{suffix}; use .mp4, .avi or .gif")
    if suffix in VIDEO_FORMATS:
        if requested is not None and requested != suffix:
            raise RenderError(f"output {path.name} has suffix .{suffix} but the video format is {requested!r}")
        return suffix
    return requested or default


def prepare_output(path: Path | str) -> Path:
    """Check, before anything is rendered, that ``path`` can be written; return it absolute.

    Creates missing parent folders. The check writes and removes a hidden probe file, so it
    also catches read-only file systems and root-owned folders; the target itself is untouched.

    Raises:
        RenderError: the path is a folder, or its folder cannot be created or written.
    """
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise RenderError(f"output {target} is a folder; give a file name such as {target / 'attention.mp4'}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # An unnamed file (O_TMPFILE on Linux): an interruption here can leave no temporary file behind.
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        raise RenderError(f"cannot write output {target}: {exc.strerror or exc}") from exc
    return target


def fps_argument(fps: float) -> str:
    """``fps`` as an exact ffmpeg rational (``16``, ``30000/1001``)."""
    return str(Fraction(fps).limit_denominator(1001))


class VideoWriter:
    """Context manager that streams ``[height, width, channels]`` uint8 frames into a video file.

    The target appears (or is replaced) only when the block exits without an exception and
    ffmpeg succeeded; otherwise the temporary file is removed and the target is untouched.

    Args:
        path: the output file.
        width: frame width in pixels (even for ``mp4``).
        height: frame height in pixels (even for ``mp4``).
        fps: frames per second.
        video_format: ``mp4`` | ``avi`` | ``gif``; default from the suffix, else mp4.
        channels: 3 for RGB frames, 4 for RGBX frames (the 4th byte is ignored).
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        fps: float,
        video_format: str | None = None,
        channels: int = 3,
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.video_format = format_of(self.path, video_format)
        if width <= 0 or height <= 0:
            raise RenderError(f"frame size must be positive, got {width}x{height}")
        if self.video_format == "mp4" and (width % 2 or height % 2):
            raise RenderError(f"H.264 needs even frame sizes, got {width}x{height}")
        if not fps > 0:
            raise RenderError(f"fps must be > 0, got {fps}")
        if channels not in _PIXEL_FORMATS:
            raise RenderError(f"frames must have 3 (RGB) or 4 (RGBX) channels, got {channels}")
        self.width, self.height, self.fps, self.channels = width, height, fps, channels
        self.frames_written = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdin: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._log: IO[bytes] | None = None

    def command(self, output: str) -> list[str]:
        """The ffmpeg command line that reads raw RGB frames on stdin and writes ``output``."""
        return [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", _PIXEL_FORMATS[self.channels], "-s", f"{self.width}x{self.height}",
            "-r", fps_argument(self.fps), "-i", "-", "-an", *FORMAT_ARGS[self.video_format], output,
        ]  # fmt: skip

    def __enter__(self) -> VideoWriter:
        prepare_output(self.path)
        try:
            return self._start()
        except BaseException:  # interrupted or failed while starting: no ffmpeg and no temporary file stay
            self._abort()
            raise

    def _start(self) -> VideoWriter:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}{TMP_MARKER}", suffix=f".{self.video_format}", dir=self.path.parent
        )
        self._tmp = Path(tmp_name)
        os.close(fd)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in _cleanup)
        try:
            self._proc = subprocess.Popen(
                self.command(str(self._tmp)),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                process_group=0,  # a terminal's Ctrl-C reaches this process only; it stops ffmpeg itself
            )
        except OSError as exc:
            self._cleanup()
            raise RenderError(f"cannot start ffmpeg ({ffmpeg_exe()}): {exc}") from exc
        assert self._proc.stdin is not None
        self._stdin = self._proc.stdin
        grow_pipe(self._stdin)
        log.debug(
            "encoding %s (%dx%d @ %s fps, %s)",
            self.path,
            self.width,
            self.height,
            self.fps,
            self.video_format,
        )
        return self

    def write(self, frame: np.ndarray) -> None:
        """Send one frame ``[height, width, channels]`` uint8 to the encoder."""
        if self._stdin is None:
            raise RenderError("VideoWriter.write called outside its `with` block")
        if frame.shape != (self.height, self.width, self.channels) or frame.dtype != np.uint8:
            raise RenderError(
                f"frame must be [{self.height}, {self.width}, {self.channels}] uint8, "
                f"got {list(frame.shape)} {frame.dtype}"
            )
        data = np.ascontiguousarray(frame)
        try:
            self._stdin.write(data.tobytes() if not data.flags.c_contiguous else data.data)
        except (BrokenPipeError, OSError) as exc:
            tail = self._stderr_tail()
            raise self._failure(f"ffmpeg stopped while encoding {self.path.name}: {tail}", tail, exc)  # noqa: B904
        self.frames_written += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        self._finish()

    def _finish(self) -> None:
        assert self._proc is not None and self._stdin is not None and self._tmp is not None
        try:
            with contextlib.suppress(BrokenPipeError):
                self._stdin.close()
            code = self._proc.wait()
            if code != 0 or self.frames_written == 0:
                why = self._stderr_tail() if code != 0 else "no frames were rendered"
                raise self._failure(f"ffmpeg could not write {self.path.name} (exit {code}): {why}", why)
            publish(self._tmp, self.path)
            self._tmp = None
            log.info("wrote %s (%d frames, %dx%d)", self.path, self.frames_written, self.width, self.height)
        except BaseException:
            self._abort()
            raise
        finally:
            self._cleanup()

    def _abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        with contextlib.suppress(OSError):
            if self._stdin is not None:
                self._stdin.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._stdin = None

    def _failure(self, message: str, ffmpeg_said: str, cause: BaseException | None = None) -> RenderError:
        """A :class:`RenderError` caused by ``cause``, or by an ``OSError`` when ffmpeg reported a write
        fault (disk full, file too large...), so that :func:`~attention_visual.storage.durable.faults.storage_fault`
        finds it."""
        error = RenderError(message)
        number = fault_in_message(ffmpeg_said)
        error.__cause__ = OSError(number, os.strerror(number), str(self.path)) if number is not None else cause
        return error

    def _stderr_lines(self) -> list[str]:
        """What ffmpeg said, line by line (after it ended, or within 5 s)."""
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._log is None:
            return []
        self._log.seek(0)
        return [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]

    def _stderr_tail(self) -> str:
        """ffmpeg's line about a write fault (disk full...) when it reported one, else its last line."""
        lines = self._stderr_lines()
        faults = [ln for ln in lines if fault_in_message(ln) is not None]
        return (faults or lines or ["(no ffmpeg output)"])[-1]


def grow_pipe(stream: IO[bytes]) -> None:
    """Enlarge a pipe's kernel buffer where the OS allows it (Linux ``F_SETPIPE_SZ``); best effort."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), 1031, _PIPE_BYTES)  # F_SETPIPE_SZ
    except (ImportError, OSError, ValueError):
        pass


__all__ = [
    "FORMAT_ARGS",
    "TMP_MARKER",
    "VideoWriter",
    "ffmpeg_exe",
    "format_of",
    "fps_argument",
    "grow_pipe",
    "prepare_output",
]

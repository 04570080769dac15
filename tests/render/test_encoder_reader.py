"""Streaming encoder (mp4/avi/gif, atomic) and the original-video reader, checked by decoding."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from attention_visual.errors import RenderError
from attention_visual.render.encoder import VideoWriter, format_of, prepare_output
from attention_visual.render.sources import OverlayVideo, write_video
from attention_visual.render.video_reader import probe_video, read_frames, source_index
from attention_visual.storage.durable.atomic import default_file_mode

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)


def _frames(n: int = 12, width: int = 64, height: int = 48) -> list[np.ndarray]:
    out = []
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)  # [H, W, 3]
        frame[..., 1] = 20 * i
        frame[:8, :8] = 255
        out.append(frame)
    return out


def _decode(path: Path) -> tuple[list[np.ndarray], dict[str, object]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader], meta


@pytest.mark.parametrize(("fmt", "codec", "fps"), [("mp4", "h264", 12.0), ("avi", "mjpeg", 12.0), ("gif", "gif", 10.0)])
def test_each_format_decodes_with_count_fps_size_codec(tmp_path: Path, fmt: str, codec: str, fps: float) -> None:
    path = tmp_path / f"clip.{fmt}"
    with VideoWriter(path, 64, 48, fps) as writer:
        for frame in _frames():
            writer.write(frame)
    frames, meta = _decode(path)
    assert len(frames) == 12
    assert tuple(meta["size"]) == (64, 48)  # type: ignore[arg-type]
    assert str(meta["codec"]).startswith(codec)
    assert float(meta["fps"]) == pytest.approx(fps, rel=0.05)  # type: ignore[arg-type]
    assert abs(int(frames[5][30, 30, 1]) - 100) <= 12 and frames[5][2, 2].min() > 200
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_mp4_is_h264_yuv420p_with_faststart(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 64, 48, 8) as writer:
        for frame in _frames(3):
            writer.write(frame)
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 64, 48, 3)
    assert path.stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's owner-only 0600
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    stream = next(line for line in probe.stderr.decode().splitlines() if "Video:" in line)
    assert "h264" in stream and "yuv420p" in stream


def test_failed_render_leaves_existing_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"precious")
    with pytest.raises(ZeroDivisionError), VideoWriter(path, 64, 48, 8) as writer:
        writer.write(_frames(1)[0])
        raise ZeroDivisionError
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_no_frames_is_an_error_and_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"precious")
    with pytest.raises(RenderError, match="no frames"), VideoWriter(path, 64, 48, 8):
        pass
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_rejects_bad_sizes_and_frames(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="even"):
        VideoWriter(tmp_path / "a.mp4", 63, 48, 8)
    with pytest.raises(RenderError, match="fps"):
        VideoWriter(tmp_path / "a.mp4", 64, 48, 0)
    with (
        pytest.raises(RenderError, match=r"frame must be \[48, 64, 3\]"),
        VideoWriter(tmp_path / "a.mp4", 64, 48, 8) as w,
    ):
        w.write(np.zeros((48, 64, 4), np.uint8))
    assert not list(tmp_path.iterdir())


def test_format_of_suffix_and_request() -> None:
    assert format_of(Path("a.GIF")) == "gif"
    assert format_of(Path("a"), "avi") == "avi"
    assert format_of(Path("a"), None, "gif") == "gif"
    with pytest.raises(RenderError, match=r"unsupported video suffix \.webm"):
        format_of(Path("a.webm"))
    with pytest.raises(RenderError, match=r"suffix \.mp4 but the video format is 'gif'"):
        format_of(Path("a.mp4"), "gif")


def test_prepare_output_checks_before_rendering(tmp_path: Path) -> None:
    assert prepare_output(tmp_path / "new" / "dir" / "x.mp4").parent.is_dir()
    with pytest.raises(RenderError, match="is a folder"):
        prepare_output(tmp_path)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(RenderError, match="cannot write output"):
        prepare_output(blocker / "x.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "new"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only folders")
def test_prepare_output_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(RenderError, match="cannot write output"):
            prepare_output(folder / "x.mp4")
    finally:
        folder.chmod(0o700)


def test_reader_resamples_count_and_size(tmp_path: Path) -> None:
    path = tmp_path / "src.mp4"
    with VideoWriter(path, 64, 48, 8) as writer:
        for frame in _frames(12):
            writer.write(frame)
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frames, info.codec) == (64, 48, 8.0, 12, "h264")
    same = list(read_frames(path, info))
    assert len(same) == 12 and same[0].shape == (48, 64, 3)
    resampled = list(read_frames(path, info, frames=6, width=32, height=24, channels=4))
    assert len(resampled) == 6 and resampled[0].shape == (24, 32, 4)
    greens = [int(f[20, 20, 1]) for f in resampled]
    assert greens == sorted(greens)  # time order kept
    assert abs(greens[1] - 20 * 3) <= 12  # frame 1 of 6 ← source frame 3 (nearest in time)
    assert list(source_index(6, 12)) == [1, 3, 5, 7, 9, 11]
    assert list(source_index(4, 2)) == [0, 0, 1, 1]


def test_unreadable_and_missing_videos_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(RenderError, match=r"cannot read original video .*junk\.mp4"):
        probe_video(junk)
    with pytest.raises(RenderError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")


def test_overlay_source_reports_a_short_video(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from attention_visual.render.colormap import packed_lut
    from attention_visual.render.strip import strip_canvas, strip_layout

    maps = np.zeros((2, 3, 4), np.float32)
    source = OverlayVideo(strip_canvas(strip_layout(64, 48, 1, 100)), maps, np.array([0, 1, 1]),
                          lambda: iter([np.zeros((48, 64, 4), np.uint8)]), packed_lut("hot"), 0.5, 8.0)  # fmt: skip
    with caplog.at_level(logging.WARNING), pytest.raises(RenderError, match="ended after 1 of 3 frames"):
        write_video(source, tmp_path / "o.mp4")
    assert not list(tmp_path.iterdir())


def test_a_plain_overlay_in_rgb_gives_the_pixels_and_the_file_of_the_rgbx_one(tmp_path: Path) -> None:
    """A plain overlay streams RGB (a quarter fewer bytes): the same blended pixels and the same encoded
    file as streaming RGBX, whose padding byte the encoder ignores."""
    import dataclasses

    from attention_visual.render.colormap import packed_lut
    from attention_visual.render.strip import strip_canvas, strip_layout

    width, height = 96, 64  # [frame, y, x] maps of 3 × 4 × 6 below; a hot spot that moves per latent frame
    video = tmp_path / "video.mp4"
    with VideoWriter(video, width, height, 8.0) as writer:
        for frame in _frames(9, width, height):
            writer.write(frame)
    info = probe_video(video)
    maps = np.full((3, 4, 6), 0.1, np.float32)
    for k in range(3):
        maps[k, 1 + k % 2, 2 * k] = 1.0
    latent = np.array([0, 1, 1, 1, 1, 2, 2, 2, 2])
    rgb = OverlayVideo(
        strip_canvas(strip_layout(width, height, 1, 100)), maps, latent,
        lambda: read_frames(video, info, channels=3), packed_lut("viridis"), 0.6, 8.0, video_channels=3,
    )  # fmt: skip
    rgbx = dataclasses.replace(rgb, video=lambda: read_frames(video, info, channels=4), video_channels=4)
    assert (rgb.channels, rgbx.channels) == (3, 4)
    frames3, frames4 = list(rgb.frames()), list(rgbx.frames())
    assert [f.shape for f in frames3] == [(height, width, 3)] * 9
    assert all(np.array_equal(a, b[..., :3]) for a, b in zip(frames3, frames4, strict=True))
    assert write_video(rgb, tmp_path / "a.mp4").read_bytes() == write_video(rgbx, tmp_path / "b.mp4").read_bytes()
    with pytest.raises(RenderError, match="need a plain overlay"):
        dataclasses.replace(rgb, canvas=strip_canvas(strip_layout(width, height, 1, 100, footer=True)))

"""Input images and videos are measured from their header and refused above the limits before decoding.

The issue's cases: a 13000 × 13000 PNG of ~170 KB (169 MB decoded, 507 MB as RGB) and a 30000² PNG
(Pillow's own bomb check fires first), as image-to-video inputs; a video with more frames or larger
frames than the limits. ``config`` and ``generate`` are run as real child processes: one line, exit 2,
no traceback, and a peak far below what decoding the image would need.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import yaml
from PIL import Image

from attention_visual.config.inputs import PromptInputs, check_inputs
from attention_visual.config.limits import MAX_INPUT_FRAMES, MAX_INPUT_PIXELS
from attention_visual.config.media import probe_input, read_video_frames
from attention_visual.errors import ConfigError
from cli.hostile_support import cli, run_measured


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, width: int, height: int, *, rows: int | None = None) -> Path:
    """An 8-bit grayscale PNG of ``width`` × ``height`` black pixels (``rows``: only so many rows of data).

    Written row by row into one deflate stream, so a 13000² image (169 MB of pixels) takes ~170 KB and
    is never held in memory.
    """
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def _check(inputs: PromptInputs, task: str, frames: int = 9) -> None:
    check_inputs([inputs], task, height=32, width=48, num_frames=frames, source="model 'x'")


def test_a_13000_square_png_is_refused_from_its_header(tmp_path: Path) -> None:
    png = write_png(tmp_path / "huge.png", 13000, 13000)
    assert png.stat().st_size < 1_000_000
    with pytest.warns(Image.DecompressionBombWarning), Image.open(png) as image:  # valid: only its size is wrong
        assert image.size == (13000, 13000)
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image: .*huge\.png is too large: 13000×13000") as info:
        _check(PromptInputs(image=png), "i2v")
    assert "\n" not in str(info.value)


def test_a_30000_square_png_is_one_line_not_a_decompression_bomb_error(tmp_path: Path) -> None:
    png = write_png(tmp_path / "bomb.png", 30000, 30000, rows=1)
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image: .*bomb\.png is too large: 900000000 pixels"):
        _check(PromptInputs(image=png), "i2v")
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.reference_images\[0\]: .*too large"):
        _check(PromptInputs(reference_images=(png,)), "vace")


def test_the_limit_itself_is_accepted(tmp_path: Path) -> None:
    side = int(MAX_INPUT_PIXELS**0.5)
    png = write_png(tmp_path / "limit.png", side, side, rows=1)
    assert probe_input("image", png, video=False).width == side  # the header only: the data is short
    over = write_png(tmp_path / "over.png", side + 1, side, rows=1)
    with pytest.raises(ConfigError, match="too large"):
        probe_input("image", over, video=False)


def test_videos_with_too_many_or_too_large_frames(tmp_path: Path) -> None:
    gif = tmp_path / "long.gif"
    frames = [Image.new("L", (4, 2), color=i % 256) for i in range(MAX_INPUT_FRAMES + 1)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=10)
    with pytest.raises(
        ConfigError, match=rf"prompts\[0\]\.video: .*long\.gif is too large: {MAX_INPUT_FRAMES + 1} frames"
    ):
        _check(PromptInputs(video=gif), "v2v")
    wide = tmp_path / "wide.mp4"
    iio.imwrite(wide, np.zeros((1, 4112, 4112, 3), np.uint8), fps=8, codec="libx264")  # [frame, y, x, rgb]
    with pytest.raises(ConfigError, match=r"wide\.mp4 is too large: 4112×4112"):
        read_video_frames("video", wide)


def test_a_video_within_the_limits_reads_frame_by_frame(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    frames = np.zeros((9, 32, 48, 3), np.uint8)  # [frame, y, x, rgb]
    iio.imwrite(clip, frames, fps=8, codec="libx264")
    assert probe_input("video", clip, video=True).frames == 9
    assert [f.shape for f in read_video_frames("video", clip)] == [(32, 48, 3)] * 9
    _check(PromptInputs(video=clip), "v2v")


def _i2v_config(folder: Path, image: str) -> Path:
    config = folder / f"i2v-{image}.yaml"
    generation = {"model_id": "tiny-i2v", "device": "cpu", "height": 32, "width": 48, "num_frames": 9}
    prompts = [{"prompt": "a (cat) on a sofa", "image": image}]
    config.write_text(yaml.safe_dump({"prompts": prompts, "generation": generation, "output_dir": str(folder / "out")}))
    return config


@pytest.mark.slow
@pytest.mark.parametrize("command", ["config", pytest.param("generate", marks=pytest.mark.soak)])
def test_config_and_generate_refuse_a_huge_image_in_one_line(command: str, tmp_path: Path) -> None:
    """Refused in one line before the image is decoded (``make test``: ``config``; ``make soak``: ``generate`` too)."""
    write_png(tmp_path / "huge.png", 13000, 13000)
    (tmp_path / "broken.png").write_bytes(b"not a png")  # fails at the same check, decoding nothing
    # The two runs side by side (each is mostly torch's import): their peaks are each process's own.
    with ThreadPoolExecutor(2) as pool:
        configs = [_i2v_config(tmp_path, image) for image in ("huge.png", "broken.png")]
        runs = [pool.submit(run_measured, cli(command, config), timeout=300) for config in configs]
        run, baseline = (r.result() for r in runs)
    assert run.status == 2, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "huge.png is too large: 13000×13000" in errors[0], run.describe()
    # Both commands load torch and the tokenizer first; decoding the image would add 169 MB (L) + 507 MB (RGB).
    assert baseline.status == 2 and "cannot decode image" in baseline.stderr, baseline.describe()
    assert run.peak_mb < baseline.peak_mb + 100, f"{run.describe()}\nbaseline: {baseline.peak_mb:.0f} MB"
    assert not (tmp_path / "out").exists()

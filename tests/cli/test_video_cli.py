"""``attention-visual video`` / ``compare`` and scripts/generate_attention_video.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from attention_visual.cli.main import main
from support.maps import FRAMES, VIDEO_ID, decode, write_store, write_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def maps(tmp_path: Path) -> Path:
    return write_store(tmp_path / "attention_maps")


def _base(maps: Path, out: Path) -> list[str]:
    return ["video", "--attention-dir", str(maps), "--video-id", VIDEO_ID, "--token", "kiss", "--output", str(out)]


def test_step_video_from_the_cli(maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kiss.mp4"
    argv = [*_base(maps, out), "--figsize", "4,3", "--fps", "6", "--interpolation-steps", "1", "--colormap", "viridis",
            "--include-timestamp", "--dpi", "50"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out)
    frames, meta = decode(out)
    assert len(frames) == 4 + 3 and tuple(meta["size"]) == (200, 150) and float(meta["fps"]) == 6.0  # type: ignore[arg-type]


def test_overlay_gif_from_the_cli(maps: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "gen.mp4")
    out = tmp_path / "kiss.gif"
    argv = [*_base(maps, out), "--original-video", str(video), "--overlay-alpha", "0.5", "--no-colorbar"]
    assert main(argv) == 0
    frames, meta = decode(out)
    assert len(frames) == FRAMES and str(meta["codec"]).startswith("gif")


def test_visualization_params_from_a_config(maps: Path, tmp_path: Path) -> None:
    out = tmp_path / "cfg.mp4"
    config = ROOT / "configs" / "example_minimal.yaml"
    argv = [*_base(maps, out), "--config", str(config), "--set", "attention_analysis.visualization_params.fps=3",
            "--dpi", "40"]  # fmt: skip
    assert main(argv) == 0
    frames, meta = decode(out)
    assert len(frames) == 4 + 3 * 2  # the config's interpolation_steps: 2
    assert float(meta["fps"]) == 3.0  # type: ignore[arg-type]
    assert tuple(meta["size"]) == (240, 160)  # type: ignore[arg-type]  # the config's figsize [6, 4] at dpi 40
    assert main([*_base(maps, out), "--set", "x=1"]) == 2


def test_list_available(maps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["video", "--attention-dir", str(maps), "--list-available"]) == 0
    out = capsys.readouterr().out
    assert VIDEO_ID in out and "'kiss': 4 step(s) 0–3" in out and "'flowers'" in out


def test_compare_writes_the_png(maps: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    argv = ["compare", "--attention-dir", str(maps), "--video-id", VIDEO_ID, "--tokens", "kiss", "flowers",
            "--output", str(out), "--dpi", "40"]  # fmt: skip
    assert main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BAD_INPUT = [
    (["--video-id", "nope"], "no video 'nope'.*available videos: prompt_001_vid_001"),
    (["--token", "dog"], "no word 'dog'.*available words: flowers, kiss"),
    (["--overlay-alpha", "1.5"], "argument --overlay-alpha: must be in \\[0, 1\\], got 1.5"),
    (["--overlay-alpha", "-0.1"], "argument --overlay-alpha: must be in \\[0, 1\\]"),
    (["--fps", "0"], "argument --fps: must be > 0"),
    (["--fps", "-5"], "argument --fps: must be > 0"),
    (["--figsize", "12"], 'argument --figsize: expected "width,height"'),
    (["--figsize", "a,b"], 'argument --figsize: expected "width,height"'),
    (["--figsize", "0,8"], "argument --figsize: width and height must be positive"),
    (["--colormap", "virdis"], "unknown colormap 'virdis'; did you mean viridis"),
    (["--video-format", "gif"], "suffix .mp4 but the video format is 'gif'"),
    (["--interpolation-steps", "-1"], "argument --interpolation-steps: must be >= 0"),
    (["--original-video", "{tmp}/missing.mp4"], "original video .*missing.mp4 does not exist"),
    (["--original-video", "{tmp}/junk.mp4"], "cannot read original video"),
    (["--output", "{tmp}/blocker.txt/x.mp4"], "cannot write output"),
    (["--step", "1", "--use-aggregated"], "step selects the map overlaid on an original video; use_aggregated"),
    (["--step", "1"], "step selects the map overlaid on an original video; step videos show every step"),
    (["--frame", "7"], "latent frame 7 does not exist"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2_and_touches_nothing(
    maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    (tmp_path / "blocker.txt").write_text("a file, not a folder")
    out = tmp_path / "existing.mp4"
    out.write_bytes(b"precious")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = _base(maps, out) + [e.replace("{tmp}", str(tmp_path)) for e in extra]
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_corrupted_map_file_is_exit_2(maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    step = maps / VIDEO_ID / "kiss" / "step_002.npz"
    step.write_bytes(b"PK\x03\x04 garbage")
    assert main(_base(maps, tmp_path / "x.mp4")) == 2
    err = capsys.readouterr().err
    assert "step_002.npz" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.mp4").exists()


def test_missing_required_options(maps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["video", "--attention-dir", str(maps), "--video-id", VIDEO_ID]) == 2
    assert "missing --word, --output (or use --list-available)" in capsys.readouterr().err


@pytest.mark.slow
def test_script_is_the_same_command(maps: Path, tmp_path: Path) -> None:
    script = ROOT / "scripts" / "generate_attention_video.py"
    listing = subprocess.run(
        [sys.executable, str(script), "--attention-dir", str(maps), "--list-available"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listing.returncode == 0 and "'kiss'" in listing.stdout
    bad = subprocess.run(
        [sys.executable, str(script), *_base(maps, tmp_path / "x.mp4")[1:], "--fps", "0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    out = tmp_path / "x.avi"
    ok = subprocess.run(
        [sys.executable, str(script), *_base(maps, out)[1:], "--figsize", "4,3", "--dpi", "40"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    frames, meta = decode(out)
    assert len(frames) == 4 + 3 * 2 and str(meta["codec"]).startswith("mjpeg")

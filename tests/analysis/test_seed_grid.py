"""The seed grid video and ``attention-visual seeds``: tiles, labels, frames, decoded independently."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from attention_visual.analysis.seed_grid import (
    SEEDS_PER_PAGE,
    seed_labels,
    seed_tiles,
    seed_titles,
    seed_video,
)
from attention_visual.analysis.seeds import word_seed_views
from attention_visual.cli.main import main
from attention_visual.errors import RenderError
from attention_visual.render.canvas import LABEL_PT
from attention_visual.render.options import RenderOptions
from support.synthetic import write_batch

GRID = (2, 2, 3)  # [frame, y, x]: non-square
STEPS = 2
OPTIONS = RenderOptions(figsize=(6.0, 3.0), dpi=50, fps=4.0, interpolation_steps=1)


def _seed_map(column: int, strength: float = 1.0) -> np.ndarray:
    """``[step, frame, y, x]``: a dim background and one hot token at row 0, ``column`` (every step)."""
    stack = np.full((STEPS, *GRID), 0.05, dtype=np.float32)
    stack[:, :, 0, column] = strength * np.array([0.5, 1.0])[:, None]  # step 1 twice as hot as step 0
    return stack


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    maps = {(1, v): {"dog": _seed_map(v - 1)} for v in (1, 2, 3)}
    maps[(2, 1)] = {"dog": _seed_map(0, 2.0)}
    write_batch(tmp_path / "b", ["a (dog)", "the (dog) again"], maps, seeds={(1, 1): 42, (1, 2): 43, (1, 3): 44})
    return tmp_path / "b"


def decode(path: Path) -> tuple[np.ndarray, dict[str, object]]:
    """``([frame, H, W, 3] uint8, ffmpeg metadata)``, decoded independently of the package."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return np.stack([np.frombuffer(b, dtype=np.uint8).reshape(height, width, 3) for b in reader]), meta


def test_tiles_are_steps_then_the_average_per_seed(batch: Path) -> None:
    view = word_seed_views(batch, "dog", prompt=1, keep_steps=True).by_prompt[1]
    tiles = seed_tiles(view)  # [row, seed, y, x]
    assert tiles.shape == (STEPS + 1, 3, GRID[1], GRID[2])
    for seed in range(3):
        np.testing.assert_allclose(tiles[1, seed, 0, seed], 1.0)  # step 1: hot token at the seed's column
        np.testing.assert_allclose(tiles[2, seed, 0, seed], 0.75)  # the average of 0.5 and 1.0
        assert tiles[2, seed].argmax() == seed
    np.testing.assert_allclose(seed_tiles(view, frame=1), tiles)  # both latent frames are alike here
    assert seed_labels(view, 0.5)[-2:] == ["mean of 3", "std · max 0.5"]
    # Each map is background + 2 hot cells of 12, disjoint between seeds: r = −(2/12) / (1 − 2/12) = −0.2.
    assert seed_labels(view, 0.5)[0] == "seed 42 · r -0.20"
    assert seed_titles(view)[0] == "“dog” · prompt 1 — step 1/2 · consistency -0.20"
    assert seed_titles(view)[-1] == "“dog” · prompt 1 — mean of 2 steps · consistency -0.20"


def test_grid_video_panels_show_each_seed_then_mean_and_std(batch: Path, tmp_path: Path) -> None:
    view = word_seed_views(batch, "dog", prompt=1, keep_steps=True).by_prompt[1]
    source = seed_video(view, OPTIONS)
    panels = source.canvas.panels
    assert len(panels) == 3 + 2 and len({(b.width, b.height) for b in panels}) == 1
    assert panels[0].width / panels[0].height == pytest.approx(80 / 32, rel=0.05)  # the video's aspect ratio
    assert source.num_frames == (STEPS + 1) + STEPS * OPTIONS.interpolation_steps
    last = list(source.frames())[-1][..., :3]  # [H, W, 3]: the step-averaged maps
    for seed, box in enumerate(panels[:3]):
        tile = last[box.slices].astype(int).sum(axis=-1)  # [ph, pw] brightness ("hot": brighter = more)
        y, x = np.unravel_index(int(tile.argmax()), tile.shape)
        assert y < box.height // 2 and x * GRID[2] // box.width == seed, (seed, y, x)
    mean_tile = last[panels[3].slices].astype(int).sum(axis=-1)
    top, bottom = mean_tile[: panels[3].height // 4].mean(), mean_tile[-panels[3].height // 4 :].mean()
    assert top > bottom  # every seed's hot row is the top one

    out = tmp_path / "grid.mp4"
    assert main(["seeds", str(batch), "--word", "dog", "--prompt", "1", "--output", str(out), "--figsize", "6,3",
                 "--dpi", "50", "--fps", "4", "--interpolation-steps", "1"]) == 0  # fmt: skip
    frames, meta = decode(out)
    assert len(frames) == source.num_frames and tuple(meta["size"]) == (source.width, source.height)  # type: ignore[arg-type]
    assert float(meta["fps"]) == 4.0  # type: ignore[arg-type]
    assert np.abs(frames[-1].astype(int) - last.astype(int)).mean() < 6  # lossy H.264 of the same frame


def test_across_prompts_and_defaults(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seeds", str(batch), "--word", "dog", "--figsize", "6,3", "--dpi", "40", "--interpolation-steps",
                 "0", "--video-format", "gif"]) == 0  # fmt: skip
    path = Path(capsys.readouterr().out.strip())
    assert path == batch / "seed_videos" / "dog.gif"
    frames, _ = decode(path)
    assert len(frames) == STEPS + 1
    view = word_seed_views(batch, "dog", keep_steps=True).across
    # Seed 201's map is seed 42's doubled (r = 1) and disjoint from 43's and 44's: (1 − 0.2 − 0.2) / 3.
    assert view is not None and seed_labels(view, 1.0)[3] == "p2 · seed 201 · r 0.20"


def test_many_seeds_are_paged_with_readable_tiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    seeds = SEEDS_PER_PAGE + 2
    maps = {(1, v): {"dog": _seed_map((v - 1) % GRID[2], 1.0 + v)} for v in range(1, seeds + 1)}
    write_batch(tmp_path / "b", ["a (dog)"], maps)
    view = word_seed_views(tmp_path / "b", "dog", keep_steps=True).by_prompt[1]
    first, second = seed_video(view, OPTIONS), seed_video(view, OPTIONS, page=2)
    assert len(first.canvas.panels) == SEEDS_PER_PAGE + 2 and len(second.canvas.panels) == 2 + 2
    # At the default look, each tile is wider than its label (~0.6 em per character at LABEL_PT).
    default = seed_video(view, RenderOptions())
    em = LABEL_PT * RenderOptions().dpi / 72
    widest = max(len(label) for label in seed_labels(view, 1.0))
    assert all(box.width >= 0.6 * em * widest for box in default.canvas.panels)
    assert (
        second.titles[0]
        == f"“dog” · prompt 1 · seeds {SEEDS_PER_PAGE + 1}–{seeds} of {seeds} — step 1/2 · "
        + (first.titles[0].split(" — step 1/2 · ")[1])
    )
    assert seed_tiles(view).shape[1] == seeds
    np.testing.assert_array_equal(first.maps[:, -1], second.maps[:, -1])  # the std tile covers every seed
    with pytest.raises(RenderError, match=f"page 3 does not exist: {seeds} seeds make 2 pages"):
        seed_video(view, OPTIONS, page=3)
    assert main(["seeds", str(tmp_path / "b"), "--word", "dog", "--page", "2", "--figsize", "6,3", "--dpi", "40",
                 "--interpolation-steps", "0"]) == 0  # fmt: skip
    assert Path(capsys.readouterr().out.strip()).name == "dog_page_002.mp4"
    assert f"{seeds} seeds of 'dog' do not fit one frame: page 2 of 2 shows seeds 9–10" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--word", "cat"], "no stored maps of 'cat'"),
        (["--word", "dog", "--prompt", "3"], "in prompt 3"),
        (["--word", "dog", "--frame", "7"], "latent frame 7 does not exist"),
        (["--word", "dog", "--frame", "tile"], "--frame tile"),
        (["--word", "dog", "--fps", "0"], "must be > 0"),
        (["--word", "dog", "--prompt", "1", "--page", "2"], "page 2 does not exist: 3 seeds make 1 page of 8"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    batch: Path, tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["seeds", str(batch), *args, "--output", str(tmp_path / "x.mp4")])
    except SystemExit as exc:  # argparse's own errors (also one line, status 2)
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.mp4").exists()


def test_not_a_batch_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seeds", str(tmp_path), "--word", "dog"]) == 2
    assert "no manifest.json" in capsys.readouterr().err

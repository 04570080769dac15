"""The seed views on the tiny demo batch (the real model path, random weights): grid video and report."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest

from attention_visual.analysis import word_seed_views
from attention_visual.cli.main import main
from attention_visual.report import write_report
from support.report_files import batch_view

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_demo_seed_grid_and_batch_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = REPO / "configs" / "tiny_demo.yaml"
    quick = ("auto_generate_per_video", "auto_generate_videos", "generate_report")
    sets = [f"--set=attention_analysis.{key}=false" for key in quick]
    assert main(["generate", str(config), f"--set=output_dir={tmp_path}", "--set=batch_name=tiny", *sets]) == 0
    batch = tmp_path / "tiny"
    capsys.readouterr()

    views = word_seed_views(batch, "dog")
    view = views.by_prompt[2]
    assert view.seeds == (44, 45) and view.mean.shape == (5, 8, 12)  # tiny model: 5 latent frames × 8 × 12
    assert -1.0 <= view.consistency <= 1.0 and np.all(view.std >= 0)

    out = tmp_path / "dog.mp4"
    assert main(["seeds", str(batch), "--word", "dog", "--output", str(out), "--interpolation-steps", "0"]) == 0
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = sum(1 for _ in reader)
    assert frames == 4 + 1 and tuple(meta["size"]) == (600, 400)  # 4 steps + the average; figsize 6 × 4 at 100 dpi

    page = write_report(batch, comparison_plots=False).read_text(encoding="utf-8")
    stats = pd.read_parquet(batch / "report" / "batch" / "stats.parquet")
    assert set(stats.word) == {"kiss", "flowers", "dog", "beach", "sky"} and set(stats.seed) == {42, 43, 44, 45}
    assert 'id="batch"' in page
    view = batch_view(batch / "report")  # the batch view's data, loaded when opened
    groups = "".join(g["html"] for g in view["groups"])
    assert groups.count('class="panel seeds"') == 5 and "batch/curves/dog.svg" in view["html"]

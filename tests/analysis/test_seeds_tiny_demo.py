"""The seed views on the tiny demo batch (the real model path, random weights): grid video and report.

The batch is the session's shared tiny demo (read-only): the seed video and the report are written
under this test's own folder.
"""

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
from support.tiny_demo import TinyDemo


@pytest.mark.slow
def test_tiny_demo_seed_grid_and_batch_view(tiny_demo: TinyDemo, tmp_path: Path) -> None:
    batch = tiny_demo.batch

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

    report = tmp_path / "report"
    page = write_report(batch, comparison_plots=False, output_dir=report).read_text(encoding="utf-8")
    stats = pd.read_parquet(report / "batch" / "stats.parquet")
    assert set(stats.word) == {"kiss", "flowers", "dog", "beach", "sky"} and set(stats.seed) == {42, 43, 44, 45}
    assert 'id="batch"' in page
    view = batch_view(report)  # the batch view's data, loaded when opened
    groups = "".join(g["html"] for g in view["groups"])
    assert groups.count('class="panel seeds"') == 5 and "batch/curves/dog.svg" in view["html"]

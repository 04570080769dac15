"""``benchmarks/analysis_speed.py --reuse``: an earlier batch's videos copied under new ids, verifiable."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from attention_visual.visualization import AttentionAnalyzer

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "analysis_speed.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("analysis_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STEPS", 2)  # a small batch: 2 steps of the real grid
    return module


def test_reuse_copies_videos_under_new_ids(bench: ModuleType, tmp_path: Path) -> None:
    bench.build_batch(tmp_path / "earlier", 2)
    bench.reuse_batch(tmp_path / "earlier", tmp_path / "seed", 5)
    original = AttentionAnalyzer(tmp_path / "earlier" / "attention_maps")
    copies = AttentionAnalyzer(tmp_path / "seed" / "attention_maps")
    ids = [bench.video_id_of(v) for v in range(5)]
    assert copies.get_available_videos(include_incomplete=False) == ids
    for v, video_id in enumerate(ids):
        assert copies.damaged_files(video_id, checksums=True) == {}  # the completion mark matches the copies
        for word in bench.WORDS:
            step = copies.load_step(video_id, word, 1)
            average = copies.load_aggregated(video_id, word)
            assert step.metadata.video_id == average.metadata.video_id == video_id
            assert step.metadata.seed == average.metadata.seed == v
            source = original.load_step(bench.video_id_of(v % 2), word, 1)
            np.testing.assert_array_equal(step.attention_map, source.attention_map)

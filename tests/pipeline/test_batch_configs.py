"""The shipped batch configs: valid, and the real-model ones show every option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from attention_visual.config import AttentionAnalysisConfig, GenerationConfig, VisualizationParams, load_config
from attention_visual.models import build_tiny_tokenizer
from attention_visual.pipeline.plan import plan_batch
from attention_visual.pipeline.validation import validate_prompts
from attention_visual.prompts import parse_prompt
from pipeline.pipeline_support import REPO
from support.tiny_demo import TINY_DEMO_CONFIG as TINY_DEMO

REAL = ["attention_visualization_demo.yaml", "attention_visualization_14b.yaml"]


def names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("name", REAL)
def test_real_model_configs_show_every_option(name: str) -> None:
    path = REPO / "configs" / name
    config = load_config(path)
    assert config.generation.model_id.startswith("Wan-AI/Wan2.1-T2V-")
    data = yaml.safe_load(path.read_text())
    assert set(data["generation"]) == names(GenerationConfig)
    assert set(data["attention_analysis"]) == names(AttentionAnalysisConfig)
    assert set(data["attention_analysis"]["visualization_params"]) == names(VisualizationParams)
    text = path.read_text()
    for key in ("prompts_file:", "batch_name:", "output_dir:"):  # the two optional ones as comments
        assert key in text
    for prompt in config.prompts:
        assert parse_prompt(prompt).words


def test_tiny_demo_is_the_documented_small_batch() -> None:
    config = load_config(TINY_DEMO)
    g, a = config.generation, config.attention_analysis
    assert (g.model_id, g.device, len(config.prompts), g.videos_per_prompt) == ("tiny", "cpu", 2, 2)
    assert a.auto_generate_per_video and a.auto_generate_videos and a.store_attention
    jobs = plan_batch(config)
    assert len({w for j in jobs for w in j.words}) >= 4
    validate_prompts(jobs, build_tiny_tokenizer(), g.max_sequence_length)


def test_docs_name_the_shipped_configs() -> None:
    doc = (REPO / "docs" / "batch.md").read_text()
    for name in ("tiny_demo.yaml", *REAL):
        assert f"configs/{name}" in doc
        assert (REPO / "configs" / name).is_file()
    assert Path(TINY_DEMO).is_file()

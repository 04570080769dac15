"""The config dataclasses: defaults, validation on construction, to_dict and dump round trips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

import attention_visual.config as config_pkg
from attention_visual.config import (
    AttentionAnalysisConfig,
    Config,
    GenerationConfig,
    VisualizationParams,
    config_from_dict,
    dump_config,
    load_config,
)
from attention_visual.errors import ConfigError

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "example_minimal.yaml"


def test_public_api() -> None:
    assert sorted(config_pkg.__all__) == [
        "AttentionAnalysisConfig",
        "Config",
        "GenerationConfig",
        "VisualizationParams",
        "config_from_dict",
        "dump_config",
        "load_config",
    ]


def test_defaults() -> None:
    cfg = config_from_dict({"prompts": ["a (cat)"]})
    assert cfg.prompts == ("a (cat)",)
    assert cfg.prompts_file is None
    assert cfg.output_dir == Path("outputs")
    assert cfg.batch_name is None
    assert cfg.generation == GenerationConfig(
        model_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        device="auto",
        dtype="auto",
        num_inference_steps=50,
        guidance_scale=5.0,
        negative_prompt="",
        height=480,
        width=832,
        num_frames=81,
        fps=None,  # the model family's (Wan: 16)
        seed=42,
        videos_per_prompt=1,
        max_sequence_length=None,  # the model family's (Wan: 512)
        enable_model_cpu_offload=False,
        flow_shift=None,
    )
    analysis = cfg.attention_analysis
    assert (analysis.store_attention, analysis.store_aggregated_attention) == (True, True)
    assert (analysis.aggregated_storage_format, analysis.storage_format) == ("numpy", "numpy")
    assert (analysis.auto_generate_videos, analysis.auto_generate_per_video) == (False, True)
    assert (analysis.compress_attention, analysis.storage_dtype) == (True, "float32")
    assert (analysis.store_per_head, analysis.store_per_block) == (False, False)
    assert analysis.spatial_downsample_factor == 1
    assert (analysis.guidance_pass, analysis.padding, analysis.token_reduction) == ("cond", "include", "sum")
    assert (analysis.blocks, analysis.steps, analysis.storage_interval) == (None, None, 1)
    assert analysis.generate_report is True
    assert analysis.visualization_params == VisualizationParams(
        figsize=(12.0, 8.0),
        colormap="hot",
        overlay_alpha=0.6,
        static_duration=3.0,
        fps=10,
        interpolation_steps=2,
        include_colorbar=True,
        video_format="mp4",
        normalization="global",
    )
    assert cfg.generation.uses_guidance


def test_dataclasses_are_frozen() -> None:
    cfg = Config(prompts=("a (cat)",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.generation.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.prompts = ()  # type: ignore[misc]


def test_construction_validates_and_normalises() -> None:
    params = VisualizationParams(figsize=[10, 6], overlay_alpha=1)  # type: ignore[arg-type]
    assert params.figsize == (10.0, 6.0)
    assert isinstance(params.overlay_alpha, float)
    analysis = AttentionAnalysisConfig(blocks=[7, "blocks.2.attn2", 7], steps=[3, 0])  # type: ignore[arg-type]
    assert analysis.blocks == (2, 7)
    assert analysis.steps == (0, 3)
    with pytest.raises(ConfigError, match=r"^generation\.height must be a multiple of 16 for Wan, got 470$"):
        GenerationConfig(height=470)
    with pytest.raises(ConfigError, match=r"^generation must be a GenerationConfig, got \{\} \(a mapping\)$"):
        Config(prompts=("a (cat)",), generation={})  # type: ignore[arg-type]


def test_replace_revalidates() -> None:
    gen = GenerationConfig()
    assert dataclasses.replace(gen, seed=7).seed == 7
    with pytest.raises(ConfigError, match=r"generation\.seed must be >= 0, got -1"):
        dataclasses.replace(gen, seed=-1)


def test_to_dict_is_plain_yaml_data() -> None:
    cfg = config_from_dict(
        {"prompts": ["a (cat)"], "attention_analysis": {"blocks": [1, 0], "visualization_params": {}}}
    )
    data = cfg.to_dict()
    assert data["prompts"] == ["a (cat)"]
    assert "prompts_file" not in data
    assert data["output_dir"] == "outputs"
    assert data["attention_analysis"]["blocks"] == [0, 1]
    assert data["attention_analysis"]["visualization_params"]["figsize"] == [12.0, 8.0]
    assert list(data) == ["prompts", "output_dir", "batch_name", "generation", "attention_analysis"]
    yaml.safe_dump(data)  # only plain types


def test_round_trip_inline_prompts() -> None:
    cfg = config_from_dict(
        {
            "prompts": ["a (cat) on a (sofa)", "two (dogs)"],
            "batch_name": "run-1",
            "generation": {"seed": 3, "flow_shift": 3, "guidance_scale": 1},
            "attention_analysis": {"steps": [4, 1], "blocks": ["blocks.3.attn2"], "storage_dtype": "float16"},
        }
    )
    assert config_from_dict(cfg.to_dict()) == cfg
    assert config_from_dict(yaml.safe_load(dump_config(cfg))) == cfg


def test_round_trip_prompts_file(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("# demo\na (cat)\n\na (dog)\n", encoding="utf-8")
    (tmp_path / "cfg.yaml").write_text("prompts_file: prompts.txt\n", encoding="utf-8")
    cfg = load_config(tmp_path / "cfg.yaml")
    data = cfg.to_dict()
    assert data["prompts_file"] == str((tmp_path / "prompts.txt").resolve())
    assert "prompts" not in data
    assert config_from_dict(data) == cfg
    dumped = dump_config(cfg)
    assert "#   0: a (cat)\n#   1: a (dog)\n" in dumped
    (tmp_path / "dumped.yaml").write_text(dumped, encoding="utf-8")
    assert load_config(tmp_path / "dumped.yaml") == cfg


def test_example_config_is_valid_and_round_trips(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE_CONFIG)
    assert cfg.generation.model_id == "tiny"
    assert len(cfg.prompts) == 2
    (tmp_path / "again.yaml").write_text(dump_config(cfg), encoding="utf-8")
    assert load_config(tmp_path / "again.yaml") == cfg


def test_dump_quotes_prompts_that_look_like_other_yaml_types(tmp_path: Path) -> None:
    tricky = ["1e3", "no", "null", "# (x)", "a: (b)", "[(c)]", "  (lead) and trail  ", "ünïcode (ß)"]
    cfg = config_from_dict({"prompts": tricky})
    (tmp_path / "dumped.yaml").write_text(dump_config(cfg), encoding="utf-8")
    assert load_config(tmp_path / "dumped.yaml").prompts == tuple(tricky)


def test_yaml_loaders_of_other_modules_are_untouched() -> None:
    assert yaml.safe_load("x: 1e-3") == {"x": "1e-3"}  # PyYAML's own YAML 1.1 behaviour

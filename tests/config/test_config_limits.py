"""One set of limits: what the config accepts, CaptureSettings and RenderOptions accept, and the reverse."""

from __future__ import annotations

from typing import Any

import pytest

from attention_visual.capture import CaptureSettings
from attention_visual.config import Config, GenerationConfig, config_from_dict
from attention_visual.config.limits import SEED_LIMIT, captured_steps, is_captured
from attention_visual.errors import CaptureError, ConfigError, RenderError
from attention_visual.render.options import RenderOptions

# The extreme values the config allows; each must build RenderOptions as the batch does.
EDGE_PARAMS: list[dict[str, Any]] = [
    {"fps": 240, "static_duration": 3600, "interpolation_steps": 120, "overlay_alpha": 1.0},
    {"fps": 1, "static_duration": 0.001, "interpolation_steps": 0, "overlay_alpha": 0.0},
    {"figsize": [0.64, 76.8]},
    {"figsize": [76.8, 0.64], "video_format": "gif", "normalization": "percentile"},
]


def config_with(section: str, **values: Any) -> Config:
    data: dict[str, Any] = {"prompts": ["a (cat)"], "attention_analysis": {}}
    if section == "visualization_params":
        data["attention_analysis"]["visualization_params"] = values
    else:
        data["attention_analysis"].update(values)
    return config_from_dict(data)


@pytest.mark.parametrize("params", EDGE_PARAMS)
def test_every_render_value_the_config_accepts_builds_render_options(params: dict[str, Any]) -> None:
    section = config_with("visualization_params", **params).attention_analysis.visualization_params
    options = RenderOptions.from_mapping(section.to_dict())
    for key, value in params.items():
        got = getattr(options, key)
        assert (list(got) if isinstance(got, tuple) else got) == value


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("fps", 500, " must be in [1, 240], got 500"),  # RenderOptions: in (0, 240] (it takes fractional rates)
        ("static_duration", 3601, " must be in (0, 3600], got 3601"),
        ("interpolation_steps", 121, " must be in [0, 120], got 121"),
        ("overlay_alpha", 1.5, " must be in [0, 1], got 1.5"),
        ("figsize", [80, 8], "[0] (width) must be in [0.64, 76.8] inches (64-7680 px at dpi 100), got 80.0"),
        ("video_format", "mkv", " must be one of 'mp4', 'avi', 'gif', got 'mkv'"),
        ("normalization", "minmax", " must be one of 'global', 'per_step', 'per_frame', 'percentile', got 'minmax'"),
    ],
)
def test_a_render_value_out_of_range_is_refused_by_both_with_the_same_range(
    key: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as config_error:
        config_with("visualization_params", **{key: value})
    assert str(config_error.value) == f"attention_analysis.visualization_params.{key}{expected}"
    with pytest.raises(RenderError) as render_error:
        RenderOptions(**{key: value})
    if key != "fps":  # the config's fps is a whole number of frames per second
        assert str(render_error.value) == f"{key}{expected}"
    else:
        assert str(render_error.value) == "fps must be in (0, 240], got 500"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("guidance_pass", "neg"),
        ("padding", "none"),
        ("token_reduction", "median"),
        ("storage_dtype", "int8"),
        ("storage_interval", 0),
        ("spatial_downsample_factor", 0),
        ("blocks", []),
        ("blocks", ["blocks.x.attn2"]),
        ("blocks", ["vace_blocks.2.attn2"]),  # a control-stream name while block_list is "blocks"
        ("steps", [-1]),
        ("store_per_head", "yes"),
    ],
)
def test_a_capture_value_is_refused_by_both_with_the_same_message(key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as config_error:
        config_with("attention_analysis", **{key: value})
    with pytest.raises(CaptureError) as capture_error:
        CaptureSettings(**{key: value})
    config_message = str(config_error.value).removeprefix("attention_analysis.")
    assert str(capture_error.value).removeprefix("CaptureSettings.") == config_message


def test_capture_settings_take_block_names_like_the_config() -> None:
    assert CaptureSettings(blocks=("blocks.1.attn2", 0, 1)).blocks == (0, 1)  # type: ignore[arg-type]
    assert config_with("attention_analysis", blocks=["blocks.1.attn2", 0]).attention_analysis.blocks == (0, 1)


def test_vace_block_names_are_taken_with_the_vace_block_list() -> None:
    names = ["vace_blocks.1.attn2", 0]
    settings = CaptureSettings(blocks=names, block_list="vace_blocks")  # type: ignore[arg-type]
    assert settings.blocks == (0, 1)
    config = config_with("attention_analysis", blocks=names, block_list="vace_blocks")
    assert config.attention_analysis.blocks == (0, 1)
    with pytest.raises(ConfigError) as error:
        config_with("attention_analysis", blocks=["vace_blocks.1.attn2", "blocks.0.attn2"], block_list="vace_blocks")
    assert str(error.value) == (
        "attention_analysis.blocks[1] 'blocks.0.attn2' names a block of 'blocks', but block_list is 'vace_blocks' "
        "(set block_list: blocks, or give indices)"
    )


def test_storage_interval_keeps_every_nth_selected_step() -> None:
    assert captured_steps((1, 3, 5), 2) == (1, 5)  # the example: the old rule captured nothing
    assert captured_steps((1, 3, 5), 2, num_steps=4) == (1,)
    assert captured_steps(None, 3, num_steps=8) == (0, 3, 6)
    assert captured_steps((2, 4, 6, 8), 10) == (2,)
    settings = CaptureSettings(steps=(1, 3, 5), storage_interval=2)
    assert [s for s in range(8) if settings.captures_step(s)] == [1, 5]
    assert settings.captured_steps(8) == (1, 5)
    assert all(is_captured(s, None, 4) == (s % 4 == 0) for s in range(10))
    with pytest.raises(ValueError, match="num_steps is needed"):
        captured_steps(None, 2)


def test_steps_past_the_run_are_a_config_error_whatever_the_interval() -> None:
    data = {"prompts": ["a (cat)"], "generation": {"num_inference_steps": 4}}
    expected = r"^attention_analysis\.steps must be < generation\.num_inference_steps \(4\), got \[4, 6\]$"
    with pytest.raises(ConfigError, match=expected):
        config_from_dict({**data, "attention_analysis": {"steps": [4, 6], "storage_interval": 2}})
    ok = config_from_dict({**data, "attention_analysis": {"steps": [0, 1, 3], "storage_interval": 2}})
    analysis = ok.attention_analysis
    assert captured_steps(analysis.steps, analysis.storage_interval, 4) == (0, 3)


def test_the_seed_of_every_video_fits_the_generator() -> None:
    prompts = ("a (cat)", "a (dog)")
    last_ok = SEED_LIMIT - 6  # 2 prompts x 3 videos: indices 0..5
    config = Config(prompts=prompts, generation=GenerationConfig(seed=last_ok, videos_per_prompt=3))
    assert config.generation.seed + 5 == SEED_LIMIT - 1
    with pytest.raises(ConfigError) as info:
        Config(prompts=prompts, generation=GenerationConfig(seed=last_ok + 1, videos_per_prompt=3))
    assert str(info.value) == (
        f"generation.seed must be in [0, {last_ok}] so that every video's seed (seed + index, 6 videos) "
        f"is < 2**63, got {last_ok + 1}"
    )


@pytest.mark.parametrize("value", ["auto", 0, 1, 64])
def test_render_workers_take_auto_or_a_count(value: Any) -> None:
    assert config_with("attention_analysis", render_workers=value).attention_analysis.render_workers == value


@pytest.mark.parametrize("value", ["many", -1, 65, 2.0, True, None])
def test_a_bad_render_workers_is_one_line_naming_the_key(value: Any) -> None:
    with pytest.raises(ConfigError) as error:
        config_with("attention_analysis", render_workers=value)
    expected = "attention_analysis.render_workers must be 'auto' or an integer in [0, 64], got "
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)

"""load_config / config_from_dict: a full file, and one-line errors naming the key and the value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from attention_visual.config import config_from_dict, load_config
from attention_visual.errors import ConfigError

FULL_YAML = """\
prompts:
  - "A romantic (kiss) between a man and woman with (flowers)"
  - "a (red car) on a \\\\(wet\\\\) road"
output_dir: runs/out
batch_name: full_run.v2
generation:
  model_id: /models/wan-1.3b
  device: "cuda:1"
  dtype: bfloat16
  num_inference_steps: 30
  guidance_scale: 6
  negative_prompt: "blurry, low quality"
  height: 320
  width: 576
  num_frames: 33
  fps: 24
  seed: 0
  videos_per_prompt: 2
  max_sequence_length: 256
  enable_model_cpu_offload: true
  flow_shift: 3.0
attention_analysis:
  store_attention: false
  store_aggregated_attention: false
  aggregated_storage_format: torch
  auto_generate_videos: true
  auto_generate_per_video: false
  storage_format: torch
  compress_attention: false
  storage_dtype: float16
  store_per_head: true
  store_per_block: true
  spatial_downsample_factor: 2
  guidance_pass: both
  padding: exclude
  token_reduction: max
  blocks: [29, "blocks.7.attn2", 0]
  steps: [29, 0, 10]
  storage_interval: 5
  generate_report: false
  render_workers: 3
  visualization_params:
    figsize: [10, 6.5]
    colormap: viridis
    overlay_alpha: 0.25
    static_duration: 1.5
    fps: 12
    interpolation_steps: 0
    include_colorbar: false
    video_format: gif
    normalization: percentile
"""


def nested(dotted: str, value: Any) -> dict[str, Any]:
    """Return ``{"a": {"b": value}}`` for ``"a.b"``, with a valid inline prompt added."""
    data: dict[str, Any] = {"prompts": ["a (cat)"]}
    node = data
    *parents, last = dotted.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value
    return data


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_full_yaml_sets_every_key(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, FULL_YAML))
    assert cfg.prompts == (
        "A romantic (kiss) between a man and woman with (flowers)",
        "a (red car) on a \\(wet\\) road",
    )
    assert cfg.output_dir == Path("runs/out")
    assert cfg.batch_name == "full_run.v2"
    gen = cfg.generation
    assert (gen.model_id, gen.device, gen.dtype) == ("/models/wan-1.3b", "cuda:1", "bfloat16")
    assert (gen.num_inference_steps, gen.guidance_scale, gen.negative_prompt) == (
        30,
        6.0,
        "blurry, low quality",
    )
    assert isinstance(gen.guidance_scale, float)
    assert (gen.height, gen.width, gen.num_frames, gen.fps) == (320, 576, 33, 24)
    assert (gen.seed, gen.videos_per_prompt, gen.max_sequence_length) == (0, 2, 256)
    assert (gen.enable_model_cpu_offload, gen.flow_shift) == (True, 3.0)
    an = cfg.attention_analysis
    assert (an.store_attention, an.store_aggregated_attention, an.aggregated_storage_format) == (
        False,
        False,
        "torch",
    )
    assert (an.auto_generate_videos, an.auto_generate_per_video) == (True, False)
    assert (an.storage_format, an.compress_attention, an.storage_dtype) == ("torch", False, "float16")
    assert (an.store_per_head, an.store_per_block, an.spatial_downsample_factor) == (True, True, 2)
    assert (an.guidance_pass, an.padding, an.token_reduction) == ("both", "exclude", "max")
    assert an.blocks == (0, 7, 29)
    assert an.steps == (0, 10, 29)
    assert (an.storage_interval, an.generate_report, an.render_workers) == (5, False, 3)
    vp = an.visualization_params
    assert (vp.figsize, vp.colormap, vp.overlay_alpha, vp.static_duration) == (
        (10.0, 6.5),
        "viridis",
        0.25,
        1.5,
    )
    assert (vp.fps, vp.interpolation_steps, vp.include_colorbar) == (12, 0, False)
    assert (vp.video_format, vp.normalization) == ("gif", "percentile")


def test_empty_sections_take_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "prompts: ['a (cat)']\ngeneration:\nattention_analysis:\n"))
    assert cfg == config_from_dict({"prompts": ["a (cat)"]})


def test_exponent_floats_are_numbers(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "prompts: ['a']\ngeneration: {flow_shift: 5e-1, guidance_scale: 1E1}\n"))
    assert (cfg.generation.flow_shift, cfg.generation.guidance_scale) == (0.5, 10.0)


def test_input_mapping_is_not_modified() -> None:
    data = nested("generation.seed", 3)
    config_from_dict(data, ["generation.seed=4"])
    assert data == nested("generation.seed", 3)


BAD_VALUES = [
    # (dotted key, value, message without the key: the message is exactly key + this)
    ("attention_analysis.visualization_params.overlay_alpha", 1.5, " must be in [0, 1], got 1.5"),
    (
        "attention_analysis.visualization_params.overlay_alpha",
        "0.5",
        " must be a number in [0, 1], got '0.5' (a string)",
    ),
    ("generation.height", 470, " must be a multiple of 16 for Wan, got 470"),
    ("generation.width", 0, " must be >= 1, got 0"),
    ("generation.num_frames", 80, " must be of the form 4k+1 for Wan (e.g. 81), got 80"),
    ("generation.seed", "7", " must be an integer >= 0, got '7' (a string)"),
    ("generation.seed", True, " must be an integer >= 0, got True (a boolean)"),
    ("generation.seed", 7.0, " must be an integer >= 0, got 7.0 (a number)"),
    ("generation.seed", -1, " must be >= 0, got -1"),
    ("generation.num_inference_steps", 0, " must be >= 1, got 0"),
    ("generation.guidance_scale", -0.5, " must be >= 0, got -0.5"),
    ("generation.guidance_scale", float("nan"), " must be a number >= 0, got nan (a number)"),
    ("generation.max_sequence_length", 513, " must be in [1, 512] for Wan, got 513"),
    ("generation.fps", 0, " must be >= 1, got 0"),
    ("generation.videos_per_prompt", 0, " must be >= 1, got 0"),
    ("generation.flow_shift", 0, " must be > 0, got 0"),
    ("generation.enable_model_cpu_offload", "yes", " must be true or false, got 'yes' (a string)"),
    ("generation.device", "gpu", " must be one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', got 'gpu'"),
    ("generation.device", "cuda:x", " must be one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', got 'cuda:x'"),
    ("generation.dtype", "fp16", " must be one of 'auto', 'float32', 'bfloat16', 'float16', got 'fp16'"),
    ("generation.model_id", "", " must be a non-empty string, got ''"),
    ("generation.negative_prompt", None, " must be a string, got None (null)"),
    ("attention_analysis.storage_format", "npz", " must be one of 'numpy', 'torch', 'zarr', got 'npz'"),
    ("attention_analysis.aggregated_storage_format", "pt", " must be one of 'numpy', 'torch', got 'pt'"),
    (
        "attention_analysis.storage_dtype",
        "float64",
        " must be one of 'float32', 'float16', got 'float64' (did you mean 'float16'?)",
    ),
    (
        "attention_analysis.guidance_pass",
        "uncond_only",
        " must be one of 'cond', 'uncond', 'both', got 'uncond_only' (did you mean 'uncond'?)",
    ),
    ("attention_analysis.padding", "drop", " must be one of 'include', 'exclude', got 'drop'"),
    ("attention_analysis.token_reduction", "avg", " must be one of 'sum', 'mean', 'max', got 'avg'"),
    ("attention_analysis.spatial_downsample_factor", 0, " must be >= 1, got 0"),
    ("attention_analysis.storage_interval", 1.5, " must be an integer >= 1, got 1.5 (a number)"),
    ("attention_analysis.store_attention", 1, " must be true or false, got 1 (an integer)"),
    ("attention_analysis.blocks", [], " must be null (all) or a non-empty list, got []"),
    ("attention_analysis.blocks", 3, " must be null (all) or a list, got 3 (an integer)"),
    (
        "attention_analysis.blocks",
        [0, "block7"],
        "[1] must be a block index >= 0 or a name like 'blocks.7.attn2', got 'block7'",
    ),
    (
        "attention_analysis.blocks",
        [-1],
        "[0] must be a block index >= 0 or a name like 'blocks.7.attn2', got -1",
    ),
    ("attention_analysis.steps", [0, -2], "[1] must be >= 0, got -2"),
    ("attention_analysis.steps", [0, 50], " must be < generation.num_inference_steps (50), got [0, 50]"),
    (
        "attention_analysis.visualization_params.figsize",
        [12],
        " must be two positive numbers [width, height], got [12]",
    ),
    (
        "attention_analysis.visualization_params.figsize",
        [12, 0],
        " must be two positive numbers [width, height], got [12, 0]",
    ),
    (
        "attention_analysis.visualization_params.figsize",
        [100, 8],
        "[0] (width) must be in [0.64, 76.8] inches (64-7680 px at dpi 100), got 100.0",
    ),
    ("attention_analysis.visualization_params.static_duration", 0, " must be in (0, 3600], got 0"),
    ("attention_analysis.visualization_params.static_duration", 7200, " must be in (0, 3600], got 7200"),
    ("attention_analysis.visualization_params.fps", -1, " must be in [1, 240], got -1"),
    ("attention_analysis.visualization_params.fps", 500, " must be in [1, 240], got 500"),
    ("attention_analysis.visualization_params.interpolation_steps", -1, " must be in [0, 120], got -1"),
    ("attention_analysis.visualization_params.interpolation_steps", 121, " must be in [0, 120], got 121"),
    (
        "attention_analysis.visualization_params.include_colorbar",
        "no",
        " must be true or false, got 'no' (a string)",
    ),
    (
        "attention_analysis.visualization_params.video_format",
        "mkv",
        " must be one of 'mp4', 'avi', 'gif', got 'mkv'",
    ),
    (
        "attention_analysis.visualization_params.normalization",
        "per-step",
        " must be one of 'global', 'per_step', 'per_frame', 'percentile', got 'per-step' (did you mean 'per_step'?)",
    ),
    (
        "batch_name",
        ".hidden",
        " must be a folder name of letters, digits, '.', '_' and '-' that does not start with a dot, got '.hidden'",
    ),
    (
        "batch_name",
        "a/b",
        " must be a folder name of letters, digits, '.', '_' and '-' that does not start with a dot, got 'a/b'",
    ),
    ("output_dir", "", " must be a path, got '' (a string)"),
    ("output_dir", 5, " must be a path, got 5 (an integer)"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_VALUES, ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES])
def test_bad_value_names_key_choices_and_value(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(nested(key, value))
    assert str(info.value) == key + message


def test_bad_value_from_yaml_file(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['a (cat)']\ngeneration:\n  seed: seven\n")
    with pytest.raises(ConfigError, match=r"^generation\.seed must be an integer >= 0, got 'seven' \(a string\)$"):
        load_config(path)


def test_unknown_colormap_suggests_close_names() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(nested("attention_analysis.visualization_params.colormap", "viridiss"))
    message = str(info.value)
    assert message.startswith(
        "attention_analysis.visualization_params.colormap must be a matplotlib colormap name, got 'viridiss'"
    )
    assert "(did you mean 'viridis'" in message


def test_valid_block_names_and_cuda_index() -> None:
    cfg = config_from_dict(
        {
            "prompts": ["a (cat)"],
            "generation": {"device": "cuda:0"},
            "attention_analysis": {"blocks": ["blocks.12.attn2", 3]},
        }
    )
    assert cfg.generation.device == "cuda:0"
    assert cfg.attention_analysis.blocks == (3, 12)


@pytest.mark.parametrize("guidance_pass", ["uncond", "both"])
def test_uncond_pass_needs_guidance(guidance_pass: str) -> None:
    data = nested("attention_analysis.guidance_pass", guidance_pass)
    data["generation"] = {"guidance_scale": 1.0}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert str(info.value) == (
        f"attention_analysis.guidance_pass '{guidance_pass}' needs classifier-free guidance "
        "(generation.guidance_scale > 1), got guidance_scale 1.0"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"prompts": ["a"], "attention_analysis": {"store_atention": False}},
            "unknown key attention_analysis.store_atention (did you mean store_attention?)",
        ),
        (
            {"prompts": ["a"], "attention_analysis": {"visualization_params": {"colourmap": "hot"}}},
            "unknown key attention_analysis.visualization_params.colourmap (did you mean colormap?)",
        ),
        ({"prompts": ["a"], "generaton": {}}, "unknown key generaton (did you mean generation?)"),
        ({"prompts": ["a"], "generation": {"zzz": 1}}, "unknown key generation.zzz (valid keys: model_id, "),
        ({"prompts": ["a"], "generation": [1, 2]}, "generation must be a mapping, got a list"),
        (
            {"prompts": ["a"], "attention_analysis": {"visualization_params": "hot"}},
            "attention_analysis.visualization_params must be a mapping, got a string",
        ),
        ({"prompts": []}, "prompts must be a non-empty list of prompts, got []"),
        ({"prompts": "a (cat)"}, "prompts must be a list of prompts, got 'a (cat)' (a string)"),
        ({"prompts": ["a", 5]}, "prompts[1] must be a string, got 5 (an integer)"),
        ({"prompts": ["a", "  "]}, "prompts[1] must be a non-empty string, got '  '"),
        ({}, "no prompts: set prompts (a list of prompts) or prompts_file (a text file)"),
        ({"prompts": ["a"], "prompts_file": "p.txt"}, "set either prompts or prompts_file, not both"),
    ],
)
def test_structural_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_malformed_prompt_names_the_prompt_number() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"prompts": ["a (cat)", "a (dog)", "a small (red car"]})
    message = str(info.value)
    assert message.startswith("prompts[2]: unbalanced '(' at column 9")
    assert isinstance(info.value.__cause__, Exception)
    assert type(info.value.__cause__).__name__ == "PromptError"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"^config file not found: {re.escape(str(missing))}$"):
        load_config(missing)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['a (cat)']\ngeneration:\n  seed: 1\n   fps: [2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4:")
    assert "invalid YAML" in message
    assert "\n" not in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['a']\ngeneration:\n  seed: 1\ngeneration:\n  fps: 8\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:4:1: invalid YAML: duplicate key 'generation'$"):
        load_config(path)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a string")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(path))}: the top level must be a mapping of keys, got {kind}$"
    ):
        load_config(path)


def test_empty_file_asks_for_prompts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^no prompts"):
        load_config(write(tmp_path, "# nothing yet\n"))


def test_prompts_file_relative_to_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "prompts.txt").write_text(
        "# my prompts\n\nA romantic (kiss) between a man and woman\n   \n  # indented comment\n"
        "  a (dog) on the (beach)  \n",
        encoding="utf-8",
    )
    path = write(tmp_path, "prompts_file: prompts.txt\n", name="conf/cfg.yaml")
    monkeypatch.chdir(tmp_path)  # the working directory does not matter
    cfg = load_config(path)
    assert cfg.prompts == ("A romantic (kiss) between a man and woman", "a (dog) on the (beach)")
    assert cfg.prompts_file == (tmp_path / "conf" / "prompts.txt").resolve()


def test_prompts_file_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts_file: prompts.txt\n")
    missing = (tmp_path / "prompts.txt").resolve()
    with pytest.raises(ConfigError, match=rf"^prompts_file not found: {re.escape(str(missing))}$"):
        load_config(path)
    (tmp_path / "prompts.txt").write_text("# only comments\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"contains no prompts"):
        load_config(path)
    (tmp_path / "prompts.txt").write_text("# demo\na (cat)\n\na (dog\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith("prompts[1] (prompts.txt line 4): unbalanced '(' at column 3")


def test_prompts_file_type_error() -> None:
    with pytest.raises(ConfigError, match=r"^prompts_file must be a path, got \[1\] \(a list\)$"):
        config_from_dict({"prompts_file": [1]})


def test_config_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        config_from_dict(["a"])  # type: ignore[arg-type]


def test_messages_are_one_line_for_every_bad_value() -> None:
    for key, value, _ in BAD_VALUES:
        with pytest.raises(ConfigError) as info:
            config_from_dict(yaml.safe_load(yaml.safe_dump(nested(key, value))))
        assert "\n" not in str(info.value)

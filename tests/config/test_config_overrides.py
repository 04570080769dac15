"""``dotted.key=value`` overrides: YAML-typed values, nested keys and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.config import config_from_dict, load_config
from attention_visual.config.loader import parse_override
from attention_visual.errors import ConfigError

BASE = {"prompts": ["a (cat)"], "generation": {"seed": 1}}


def test_int_float_bool_string_and_null() -> None:
    cfg = config_from_dict(
        BASE,
        [
            "generation.seed=7",
            "generation.guidance_scale=7.5",
            "generation.enable_model_cpu_offload=true",
            "generation.negative_prompt=blurry, low quality",
            "generation.device=cuda:0",
            "generation.flow_shift=3",
            "generation.flow_shift=null",
            "batch_name=run_7",
        ],
    )
    assert cfg.generation.seed == 7
    assert cfg.generation.guidance_scale == 7.5
    assert cfg.generation.enable_model_cpu_offload is True
    assert cfg.generation.negative_prompt == "blurry, low quality"
    assert cfg.generation.device == "cuda:0"
    assert cfg.generation.flow_shift is None  # the later override wins
    assert cfg.batch_name == "run_7"


def test_empty_value_is_the_empty_string() -> None:
    assert parse_override("generation.negative_prompt=") == (("generation", "negative_prompt"), "")
    assert config_from_dict(BASE, ["generation.negative_prompt="]).generation.negative_prompt == ""


def test_list_and_nested_keys() -> None:
    cfg = config_from_dict(
        BASE,
        [
            "attention_analysis.visualization_params.figsize=[10,6]",
            "attention_analysis.blocks=[3, blocks.1.attn2]",
            'prompts=["a (cat)", "two (dogs) in the (park)"]',
        ],
    )
    assert cfg.attention_analysis.visualization_params.figsize == (10.0, 6.0)
    assert cfg.attention_analysis.blocks == (1, 3)
    assert cfg.prompts == ("a (cat)", "two (dogs) in the (park)")
    assert cfg.generation.seed == 1  # other keys of the section are kept


def test_override_creates_missing_sections() -> None:
    cfg = config_from_dict({"prompts": ["a"]}, ["attention_analysis.visualization_params.colormap=magma"])
    assert cfg.attention_analysis.visualization_params.colormap == "magma"


def test_override_value_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"^generation\.seed must be an integer >= 0, got 'seven' \(a string\)$"):
        config_from_dict(BASE, ["generation.seed=seven"])
    with pytest.raises(ConfigError, match=r"^generation\.height must be a multiple of 16 for Wan, got 470$"):
        config_from_dict(BASE, ["generation.height=470"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "generation.seed",
            "override 'generation.seed' must have the form dotted.key=value (e.g. generation.seed=7)",
        ),
        ("=7", "override '=7' must have the form dotted.key=value (e.g. generation.seed=7)"),
        (
            "generation.sede=7",
            "override 'generation.sede=7': unknown key generation.sede (did you mean seed?)",
        ),
        (
            "attention_analysis.visualization_params.alpha=0.5",
            "override 'attention_analysis.visualization_params.alpha=0.5': unknown key "
            "attention_analysis.visualization_params.alpha (valid keys: figsize, ",
        ),
        ("generaton.seed=7", "override 'generaton.seed=7': unknown key generaton (did you mean generation?)"),
        ("generation.seed.x=1", "override 'generation.seed.x=1': generation.seed is a value, not a section"),
        ("prompts=[a (cat)", "override 'prompts=[a (cat)': invalid YAML value: "),
    ],
)
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(BASE, [override])
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_override_through_a_non_mapping_section() -> None:
    with pytest.raises(ConfigError, match=r"^generation must be a mapping, got a list$"):
        config_from_dict({"prompts": ["a"], "generation": [1]}, ["generation.seed=2"])


def test_override_switches_the_prompt_source(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a (dog)\n", encoding="utf-8")
    (tmp_path / "cfg.yaml").write_text("prompts: ['a (cat)']\n", encoding="utf-8")
    from_file = load_config(tmp_path / "cfg.yaml", ["prompts_file=p.txt"])
    assert from_file.prompts == ("a (dog)",)
    assert from_file.prompts_file == (tmp_path / "p.txt").resolve()
    (tmp_path / "cfg2.yaml").write_text("prompts_file: p.txt\n", encoding="utf-8")
    inline = load_config(tmp_path / "cfg2.yaml", ['prompts=["a (bird)"]'])
    assert (inline.prompts, inline.prompts_file) == (("a (bird)",), None)


def test_overrides_apply_in_order_to_a_file(tmp_path: Path) -> None:
    (tmp_path / "cfg.yaml").write_text("prompts: ['a (cat)']\ngeneration: {seed: 3}\n", encoding="utf-8")
    cfg = load_config(tmp_path / "cfg.yaml", ["generation.seed=4", "generation.seed=5"])
    assert cfg.generation.seed == 5

"""``attention-visual config CONFIG [--set key=value ...]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from attention_visual.cli.common import add_config_arguments, config_from_args
from attention_visual.cli.main import main
from attention_visual.config import config_from_dict, load_config

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "example_minimal.yaml"


def test_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["config", str(EXAMPLE_CONFIG), "--set", "generation.seed=7", "--set", "generation.fps=12"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    printed = yaml.safe_load(out)
    assert printed["generation"]["seed"] == 7
    assert printed["generation"]["fps"] == 12
    assert printed["attention_analysis"]["visualization_params"]["normalization"] == "global"  # a default
    expected = load_config(EXAMPLE_CONFIG, ["generation.seed=7", "generation.fps=12"])
    assert config_from_dict(printed) == expected


def test_bad_config_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("prompts: ['a (cat)']\nattention_analysis:\n  store_atention: true\n", encoding="utf-8")
    status = main(["config", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err == (
        "attention-visual: error: unknown key attention_analysis.store_atention (did you mean store_attention?)\n"
    )


def test_bad_override_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["config", str(EXAMPLE_CONFIG), "--set", "generation.height=470"])
    _, err = capsys.readouterr()
    assert status == 2
    assert err == "attention-visual: error: generation.height must be a multiple of 16 for Wan, got 470\n"
    assert "Traceback" not in err


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["config", str(tmp_path / "missing.yaml")])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1
    assert "config file not found" in err


def test_help_lists_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--set KEY=VALUE" in out
    assert "CONFIG" in out


def test_shared_arguments_are_reusable() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args([str(EXAMPLE_CONFIG), "--set", "generation.seed=9"])
    assert args.overrides == ["generation.seed=9"]
    assert config_from_args(args).generation.seed == 9
    assert parser.parse_args([str(EXAMPLE_CONFIG)]).overrides == []

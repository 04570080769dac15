"""Config checks that depend on the model family: one line naming the key and the family's rule, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attention_visual.cli.main import main
from attention_visual.config import config_from_dict
from attention_visual.errors import ConfigError
from pipeline.pipeline_support import tiny_data, write_config

JOINT_FULL = (
    "attention_analysis.joint_attention 'full' needs joint attention (text and video keys in one softmax); "
    "Wan has cross-attention, whose maps already are the share of the text keys: remove the key or use 'text'"
)


def _config(tmp_path: Path, **sections: dict[str, Any]) -> Any:
    return config_from_dict(tiny_data(tmp_path / "out", **sections))


def test_joint_attention_full_on_a_cross_attention_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, attention_analysis={"joint_attention": "full"})
    assert str(info.value) == JOINT_FULL
    with pytest.raises(ConfigError, match=r"^attention_analysis\.text_share_map needs joint attention .*; Wan has"):
        _config(tmp_path, attention_analysis={"text_share_map": True})
    assert (
        _config(tmp_path, attention_analysis={"joint_attention": "text"}).attention_analysis.joint_attention == "text"
    )
    with pytest.raises(ConfigError, match=r"joint_attention must be one of 'text', 'full', got 'both'"):
        _config(tmp_path, attention_analysis={"joint_attention": "both"})


@pytest.mark.parametrize("command", ["config", "generate"])
def test_the_cli_prints_one_line_exits_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    data = tiny_data(tmp_path / "out", attention_analysis={"joint_attention": "full"})
    path = write_config(tmp_path / "c.yaml", data)
    assert main([command, str(path)]) == 2
    assert capsys.readouterr().err == f"attention-visual: error: {JOINT_FULL}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("generation", "message"),
    [
        ({"num_frames": 8}, "generation.num_frames must be of the form 4k+1 for Wan (e.g. 81), got 8"),
        ({"height": 40}, "generation.height must be a multiple of 16 for Wan, got 40"),
        ({"max_sequence_length": 600}, "generation.max_sequence_length must be in [1, 512] for Wan, got 600"),
    ],
)
def test_the_family_rules_name_the_key_and_the_family(tmp_path: Path, generation: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, generation=generation)
    assert str(info.value) == message


def test_defaults_come_from_the_family(tmp_path: Path) -> None:
    data = tiny_data(tmp_path / "out")
    del data["generation"]["fps"], data["generation"]["max_sequence_length"]
    g = config_from_dict(data).generation
    assert (g.fps, g.max_sequence_length) == (None, None)  # the family's, resolved where the model is known
    assert g.family is not None and g.video_fps(g.family) == 16


def test_a_model_no_family_lists_is_checked_once_its_files_are_read(tmp_path: Path) -> None:
    """Offline, a Hub id no family lists cannot be told apart: the family's rules wait for its config files."""
    data = tiny_data(tmp_path / "out", generation={"model_id": "someone/some-video-model", "num_frames": 8})
    assert config_from_dict(data).generation.family is None

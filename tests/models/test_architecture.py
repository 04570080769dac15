"""The transformer's architecture from its config.json, without weights (for the pre-flight checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attention_visual.config import config_from_dict
from attention_visual.errors import ConfigError
from attention_visual.models import build_tiny_pipeline
from attention_visual.models.architecture import TRANSFORMER_CONFIG, num_transformer_blocks, transformer_config
from attention_visual.pipeline.validation import check_blocks


def diffusers_folder(root: Path, text: str, pipeline: str = "WanPipeline") -> Path:
    (root / "transformer").mkdir(parents=True)
    (root / TRANSFORMER_CONFIG).write_text(text, encoding="utf-8")
    (root / "model_index.json").write_text(json.dumps({"_class_name": pipeline}), encoding="utf-8")
    return root


def test_tiny_knows_its_own_architecture() -> None:
    assert num_transformer_blocks("tiny") == len(build_tiny_pipeline().transformer.blocks) == 2


def test_a_local_diffusers_folder_is_read_without_weights(tmp_path: Path) -> None:
    folder = diffusers_folder(tmp_path / "wan", json.dumps({"_class_name": "WanTransformer3DModel", "num_layers": 30}))
    assert transformer_config(str(folder)) == {"_class_name": "WanTransformer3DModel", "num_layers": 30}
    assert num_transformer_blocks(str(folder)) == 30
    config = config_from_dict({"prompts": ["a (cat)"], "generation": {"model_id": str(folder)}})
    check_blocks(config)  # blocks: null (all)
    with pytest.raises(ConfigError) as info:
        check_blocks(config_from_dict({**config.to_dict(), "attention_analysis": {"blocks": [29, 30]}}))
    assert str(info.value) == (
        f"attention_analysis.blocks must be block indices in [0, 29] ({str(folder)!r} has 30 blocks (num_layers)), "
        "got [29, 30]"
    )


@pytest.mark.parametrize("text", ["{not json", '{"num_layers": "30"}', "[30]"])
def test_an_unreadable_config_is_unknown_not_an_error(tmp_path: Path, text: str) -> None:
    assert num_transformer_blocks(str(diffusers_folder(tmp_path / "m", text))) is None


def test_a_model_that_is_not_cached_is_unknown() -> None:
    assert transformer_config("nobody/no-such-model") is None
    assert transformer_config("not a repo id!") is None


def test_vace_blocks_are_counted_from_vace_layers(tmp_path: Path) -> None:
    config_json = {"_class_name": "WanVACETransformer3DModel", "num_layers": 30, "vace_layers": [0, 5, 10, 15]}
    folder = diffusers_folder(tmp_path / "vace", json.dumps(config_json), "WanVACEPipeline")
    assert num_transformer_blocks(str(folder), "vace_layers") == 4
    analysis = {"block_list": "vace_blocks", "blocks": ["vace_blocks.3.attn2"]}
    config = config_from_dict({"prompts": ["a (cat)"], "generation": {"model_id": str(folder)}})
    check_blocks(config_from_dict({**config.to_dict(), "attention_analysis": analysis}))
    with pytest.raises(ConfigError) as info:
        check_blocks(config_from_dict({**config.to_dict(), "attention_analysis": {**analysis, "blocks": [4]}}))
    assert str(info.value) == (
        f"attention_analysis.blocks must be block indices in [0, 3] ({str(folder)!r} has 4 vace_blocks "
        "(vace_layers)), got [4]"
    )

"""The family layer as data: the registry's look-ups, the families' facts, and what they must agree on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from attention_visual.errors import ConfigError
from attention_visual.families import (
    FAMILIES,
    Cleaning,
    ModelFamily,
    all_tasks,
    all_variants,
    default_family,
    family_named,
    family_of_class,
    family_of_model,
    read_model_index,
    supported_summary,
    tiny_model_variant,
    variant_named,
)

pytestmark = pytest.mark.light  # the family data is read without torch (the light install's config checks)


def test_the_family_layer_imports_without_torch() -> None:
    code = "import sys, attention_visual.families as f; f.family_named('wan').variants; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_lookups() -> None:
    wan = family_named("wan")
    assert default_family() is FAMILIES[0]
    assert family_of_class("WanVideoToVideoPipeline") is wan and family_of_class("FluxPipeline") is None
    assert variant_named("wan2.2-ti2v-5b-i2v").pixels_per_cell == 32
    assert tiny_model_variant("tiny-vace") == variant_named("wan2.1-vace") and tiny_model_variant("x") is None
    assert family_of_model("tiny-i2v") is wan
    assert family_of_model("Wan-AI/Wan2.2-TI2V-5B-Diffusers") is wan  # a listed checkpoint
    assert family_of_model("someone/unknown-model") is None  # known only once its files are read
    assert set(all_variants()) == {name for f in FAMILIES for name in f.variants}
    assert all_tasks()[:5] == ("t2v", "i2v", "flf2v", "vace", "v2v")
    assert supported_summary().startswith("Wan (WanPipeline, ")
    with pytest.raises(KeyError, match="no model family 'nope'; families: wan"):
        family_named("nope")


def test_a_local_folder_is_told_by_its_model_index(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanVACEPipeline"}))
    assert family_of_model(str(tmp_path)) is family_named("wan")
    (tmp_path / "model_index.json").write_text("{not json")
    assert family_of_model(str(tmp_path)) is None


def test_model_index_of_no_family_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as info:
        read_model_index({"_class_name": "FluxPipeline"}, "x/y")
    assert (
        str(info.value)
        == f"x/y is a FluxPipeline, not a pipeline of a supported family; supported: {supported_summary()}"
    )
    with pytest.raises(ConfigError, match=r"is a WanAnimatePipeline: Wan Animate is not supported \(its segments"):
        read_model_index({"_class_name": "WanAnimatePipeline"}, "x/y")


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_every_family_is_consistent(family: ModelFamily) -> None:
    assert family.variants and all(v.family == family.name for v in family.variants.values())
    assert all(v.pixels_per_cell % family.size_multiple == 0 for v in family.variants.values())
    limit = family.text.max_sequence_limit
    assert limit is None or family.text.max_sequence_length <= limit
    assert family.text.max_sequence_length % family.text.sequence_multiple == 0
    assert family.accepts_frame_count(next(n for n in range(1, 200) if family.accepts_frame_count(n)))
    assert set(family.block_lists) <= set(family.block_counts)
    for variant in family.variants.values():
        assert variant.capture_points[0] in family.block_lists
        assert variant.block_name(3) == f"{variant.capture_points[0]}.3.{variant.attention_module}"


def test_wan_facts() -> None:
    wan = family_named("wan")
    assert (wan.frame_count_rule, wan.size_multiple, wan.default_fps) == ("4k+1", 16, 16)
    assert wan.accepts_frame_count(81) and not wan.accepts_frame_count(80) and not wan.accepts_frame_count(0)
    assert (wan.text.max_sequence_length, wan.text.padding, wan.joint) == (512, "identical_rows", False)
    assert wan.text.cleaning("  a &amp;amp;  b ") == "a & b"
    assert variant_named("wan2.1-i2v-14b").text_length == 512 and variant_named("wan2.1-t2v").text_length is None
    assert variant_named("wan2.1-v2v").frames_from_video and variant_named("wan2.1-v2v").pass_source == "call_order"


def test_cleaning_composes_a_fix_and_the_whitespace_collapse() -> None:
    assert Cleaning()(" a  b ") == " a  b "
    assert Cleaning(fix=str.upper, collapse_whitespace=True)(" a \t b ") == "A B"


def test_a_text_side_reads_the_real_keys_first() -> None:
    """The capture reads a prompt's real keys first: left padding needs a model that moves them to the front."""
    from attention_visual.families import TextSide

    assert TextSide(padding_side="left", key_order="real_first").key_order == "real_first"
    with pytest.raises(ValueError, match="left-padded text keys in tokenized order put the padding first"):
        TextSide(padding_side="left")
    with pytest.raises(ValueError, match=r"TextSide\.padding_side must be one of \('right', 'left'\), got 'top'"):
        TextSide(padding_side="top")

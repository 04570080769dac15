"""The LTX-2 family as data: its rules, its checkpoints, which pipeline runs a task, its config checks (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.config import config_from_dict
from attention_visual.errors import ConfigError
from attention_visual.families import (
    checkpoint_rules,
    family_named,
    family_of_class,
    family_of_model,
    read_model_index,
    tiny_model_variant,
    variant_named,
)
from pipeline.pipeline_support import tiny_data

pytestmark = pytest.mark.light

LTX2 = family_named("ltx2")
RULES = checkpoint_rules(LTX2)


def test_ltx2_rules() -> None:
    assert (LTX2.frame_count_rule, LTX2.size_multiple, LTX2.default_fps, LTX2.fps_argument) == (
        "8k+1", 32, 24, "frame_rate",
    )  # fmt: skip
    assert LTX2.accepts_frame_count(121) and not LTX2.accepts_frame_count(120)
    text = LTX2.text
    assert (text.max_sequence_length, text.sequence_multiple, text.padding) == (1024, 128, "attended")
    assert (text.padding_side, text.key_order) == ("left", "real_first")
    assert text.cleaning("  a (cat) \n") == "a (cat)"  # the pipeline strips the prompt
    assert not LTX2.joint and not LTX2.takes_flow_shift and LTX2.block_lists == ("transformer_blocks",)
    assert LTX2.pipeline_classes == ("LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline")
    condition = variant_named("ltx2-condition")
    assert condition.task == "condition" and condition.conditioning_frames() == () and condition.expand_timesteps
    assert (condition.requires, condition.requires_for) == (("av",), ("image",))  # PyAV re-compresses an image
    i2v = variant_named("ltx2-i2v")
    assert i2v.conditioning_frames() == (0,) and i2v.expand_timesteps
    assert i2v.ignored_passes == ("uncond_stg", "uncond_modality") and i2v.guidance == "batched"
    assert variant_named("ltx2-t2v").block_name(47) == "transformer_blocks.47.attn2"
    assert {tiny_model_variant(m).name for m in LTX2.tiny_models} == set(LTX2.variants)  # type: ignore[union-attr]


@pytest.mark.parametrize("model_id", ["Lightricks/LTX-2", "diffusers/LTX-2.3-Diffusers", "lightricks/ltx-2"])
def test_the_public_checkpoints_are_known_before_download(model_id: str) -> None:
    assert family_of_model(model_id) is LTX2 and family_of_class("LTX2Pipeline") is LTX2


def test_every_checkpoint_runs_every_task() -> None:
    spec = read_model_index({"_class_name": "LTX2Pipeline", "transformer": ["diffusers", "LTX2VideoTransformer3D"]})
    assert (spec.experts, spec.default_task, spec.pipeline_kwargs("LTX2Pipeline")) == (1, "t2v", {})
    assert [RULES.pipeline_class_for(spec, task) for task in ("auto", "t2v", "i2v", "condition")] == [
        "LTX2Pipeline", "LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline",
    ]  # fmt: skip
    assert RULES.variant_for(spec, "i2v").name == "ltx2-i2v"
    assert RULES.variant_for(spec, "condition").name == "ltx2-condition"
    for class_name, variant in (("LTX2ImageToVideoPipeline", "ltx2-i2v"), ("LTX2ConditionPipeline", "ltx2-condition")):
        assert RULES.variant_for(read_model_index({"_class_name": class_name}), "auto").name == variant
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'vace'; it runs: t2v, i2v, condition"):
        RULES.pipeline_class_for(spec, "vace", "Lightricks/LTX-2")
    with pytest.raises(ConfigError, match="has no transformer"):
        read_model_index({"_class_name": "LTX2Pipeline", "transformer": [None, None]}, "x/y")


@pytest.mark.parametrize(
    ("class_name", "what"),
    [
        ("LTX2InContextPipeline", "IC-LoRA"),
        ("LTX2HDRPipeline", "HDR"),
        ("LTX2LatentUpsamplePipeline", "latent upsampler"),
    ],
)
def test_pipelines_of_the_family_that_are_refused_say_why(class_name: str, what: str) -> None:
    with pytest.raises(ConfigError, match=f"is a {class_name}: .*{what}.* is not supported"):
        read_model_index({"_class_name": class_name}, "x/y")


def _config(tmp_path: Path, **generation: object) -> object:
    tiny = {"model_id": "tiny-ltx2", "height": 64, "width": 96, "num_frames": 17, "max_sequence_length": 128}
    data = tiny_data(tmp_path / "out", generation={**tiny, **generation})
    return config_from_dict(data)


@pytest.mark.parametrize(
    ("generation", "message"),
    [
        ({"num_frames": 16}, "generation.num_frames must be of the form 8k+1 for LTX-2 (e.g. 81), got 16"),
        ({"height": 48}, "generation.height must be a multiple of 32 for LTX-2, got 48"),
        ({"max_sequence_length": 100}, "generation.max_sequence_length must be a multiple of 128 for LTX-2, got 100"),
        ({"flow_shift": 3.0}, "generation.flow_shift is not used by LTX-2: its scheduler sets its own shift; "
                              "remove the key"),
    ],
)  # fmt: skip
def test_the_config_is_checked_against_the_family_at_load(
    tmp_path: Path, generation: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, **generation)
    assert str(info.value) == message


def test_the_defaults_are_the_familys(tmp_path: Path) -> None:
    g = _config(tmp_path, fps=None, max_sequence_length=None).generation  # type: ignore[attr-defined]
    assert g.family is LTX2 and g.video_fps(g.family) == 24 and g.max_sequence_length is None

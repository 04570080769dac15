"""The LTX-Video family as data: its rules, its checkpoints and which pipeline runs a task (no torch)."""

from __future__ import annotations

import pytest

from attention_visual.errors import ConfigError
from attention_visual.families import (
    Cleaning,
    checkpoint_rules,
    family_named,
    family_of_class,
    family_of_model,
    read_model_index,
    tiny_model_variant,
    variant_named,
)

pytestmark = pytest.mark.light

LTX = family_named("ltx")
RULES = checkpoint_rules(LTX)


def test_ltx_rules() -> None:
    assert (LTX.frame_count_rule, LTX.size_multiple, LTX.default_fps, LTX.fps_argument) == (
        "8k+1",
        32,
        25,
        "frame_rate",
    )
    assert LTX.accepts_frame_count(121) and LTX.accepts_frame_count(1) and not LTX.accepts_frame_count(81 + 4)
    assert (LTX.text.max_sequence_length, LTX.text.padding, LTX.text.cleaning) == (128, "masked", Cleaning())
    assert not LTX.joint and not LTX.takes_flow_shift and LTX.block_lists == ("transformer_blocks",)
    assert LTX.pipeline_classes == ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline")
    assert variant_named("ltx-video-i2v").conditioning_frames() == (0,)
    assert variant_named("ltx-video-condition").block_name(27) == "transformer_blocks.27.attn2"
    assert {tiny_model_variant(m).name for m in LTX.tiny_models} == set(LTX.variants)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("model_id", "class_name"),
    [
        ("Lightricks/LTX-Video", "LTXPipeline"),
        ("Lightricks/LTX-Video-0.9.1", "LTXPipeline"),
        ("Lightricks/LTX-Video-0.9.5", "LTXPipeline"),
        ("Lightricks/LTX-Video-0.9.7-dev", "LTXConditionPipeline"),
        ("Lightricks/LTX-Video-0.9.7-distilled", "LTXConditionPipeline"),
        ("lightricks/ltx-video-0.9.8-13b-distilled", "LTXConditionPipeline"),
    ],
)
def test_every_public_checkpoint_is_known_before_download(model_id: str, class_name: str) -> None:
    assert family_of_model(model_id) is LTX and family_of_class(class_name) is LTX


def test_every_checkpoint_runs_every_task() -> None:
    spec = read_model_index({"_class_name": "LTXPipeline", "transformer": ["diffusers", "LTXVideoTransformer3DModel"]})
    assert (spec.experts, spec.default_task, spec.pipeline_kwargs("LTXPipeline")) == (1, "t2v", {})
    assert [RULES.pipeline_class_for(spec, task) for task in ("auto", "t2v", "i2v", "condition")] == [
        "LTXPipeline", "LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline",
    ]  # fmt: skip
    condition = read_model_index({"_class_name": "LTXConditionPipeline"})
    assert RULES.variant_for(condition, "auto").name == "ltx-video-condition"
    assert RULES.variant_for(condition, "i2v").name == "ltx-video-i2v"
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'v2v'; it runs: t2v, i2v, condition"):
        RULES.pipeline_class_for(spec, "v2v", "Lightricks/LTX-Video")
    with pytest.raises(ConfigError, match="has no transformer"):
        read_model_index({"_class_name": "LTXPipeline", "transformer": [None, None]}, "x/y")


@pytest.mark.parametrize(
    ("class_name", "what"),
    [
        ("LTXLatentUpsamplePipeline", "latent upsampler"),
        ("LTXI2VLongMultiPromptPipeline", "long"),
    ],
)
def test_pipelines_of_the_family_that_are_refused_say_why(class_name: str, what: str) -> None:
    with pytest.raises(ConfigError, match=f"is a {class_name}: .*{what}.* is not supported"):
        read_model_index({"_class_name": class_name}, "x/y")

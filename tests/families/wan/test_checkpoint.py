"""Reading model_index.json and choosing the pipeline class for a task (no torch needed)."""

from __future__ import annotations

from typing import Any

import pytest

from attention_visual.errors import ConfigError
from attention_visual.families import read_model_index
from attention_visual.families.wan.checkpoint import CheckpointSpec, pipeline_class_for, tasks_of

T = ["diffusers", "WanTransformer3DModel"]
NONE = [None, None]


def _index(cls: str, **extra: Any) -> dict[str, Any]:
    return {"_class_name": cls, "transformer": T, "transformer_2": NONE, **extra}


def test_wan22_a14b_experts() -> None:
    spec = read_model_index(_index("WanPipeline", boundary_ratio=0.875, transformer_2=T))
    assert (spec.experts, spec.boundary_ratio, spec.expand_timesteps) == (2, 0.875, False)
    assert pipeline_class_for(spec) == "WanPipeline"
    assert tasks_of(spec) == ("t2v",)  # no v2v: WanVideoToVideoPipeline has no transformer_2
    assert spec.pipeline_kwargs("WanPipeline") == {"boundary_ratio": 0.875, "expand_timesteps": False}


def test_ti2v_5b_runs_t2v_and_i2v() -> None:
    spec = read_model_index(_index("WanPipeline", expand_timesteps=True))
    assert tasks_of(spec) == ("t2v", "i2v")
    assert pipeline_class_for(spec, "i2v") == "WanImageToVideoPipeline"
    assert spec.pipeline_kwargs("WanImageToVideoPipeline") == {"boundary_ratio": None, "expand_timesteps": True}
    with pytest.raises(ConfigError, match="cannot run pipeline 'v2v'; it runs: t2v, i2v"):
        pipeline_class_for(spec, "v2v", "Wan-AI/Wan2.2-TI2V-5B-Diffusers")


def test_wan21_t2v_runs_v2v() -> None:
    spec = read_model_index({"_class_name": "WanPipeline"})  # Wan2.1 files predate the Wan2.2 keys
    assert spec == CheckpointSpec("WanPipeline")
    assert pipeline_class_for(spec, "v2v") == "WanVideoToVideoPipeline"
    assert spec.pipeline_kwargs("WanVideoToVideoPipeline") == {}
    with pytest.raises(ConfigError, match="cannot run pipeline 'i2v'"):
        pipeline_class_for(spec, "i2v")


def test_i2v_checkpoint() -> None:
    spec = read_model_index(_index("WanImageToVideoPipeline", image_encoder=["transformers", "CLIPVisionModel"]))
    assert spec.has_image_encoder and spec.default_task == "i2v"
    assert pipeline_class_for(spec, "flf2v") == "WanImageToVideoPipeline"
    with pytest.raises(ConfigError, match="cannot run pipeline 't2v'"):
        pipeline_class_for(spec, "t2v")


def test_vace_checkpoint() -> None:
    spec = read_model_index(_index("WanVACEPipeline"))
    assert pipeline_class_for(spec, "auto") == pipeline_class_for(spec, "vace") == "WanVACEPipeline"
    assert spec.pipeline_kwargs("WanVACEPipeline") == {"boundary_ratio": None}


def test_unknown_task() -> None:
    with pytest.raises(ConfigError, match="pipeline 'ti2v' is not one of: auto, t2v, i2v, flf2v, vace, v2v"):
        pipeline_class_for(CheckpointSpec("WanPipeline"), "ti2v")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"_class_name": "WanAnimatePipeline"}, "Wan Animate is not supported"),
        (
            {"_class_name": "FluxPipeline"},
            r"is a FluxPipeline, not a pipeline of a supported family; supported: Wan \(",
        ),
        ({}, "names no pipeline class"),
        (_index("WanPipeline", transformer_2=T), "has a transformer_2 .* but no boundary_ratio"),
        (_index("WanPipeline", boundary_ratio=0.9), "has no transformer_2 to switch to"),
        (_index("WanPipeline", boundary_ratio=1.5, transformer_2=T), r"boundary_ratio must be in \(0, 1\]"),
        (_index("WanPipeline", expand_timesteps="yes"), "expand_timesteps must be true or false"),
        (_index("WanPipeline", transformer=NONE, transformer_2=T, boundary_ratio=0.9), "no transformer"),
    ],
)
def test_bad_model_index_is_one_line(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        read_model_index(data, "some/model")
    assert "\n" not in str(info.value)


def test_low_noise_only() -> None:
    spec = read_model_index(_index("WanPipeline", transformer=NONE, transformer_2=T, boundary_ratio=1.0))
    assert spec.experts == 1 and not spec.has_transformer

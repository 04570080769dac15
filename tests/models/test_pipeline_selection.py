"""load_pipeline picks the pipeline class and its options from model_index.json (tiny checkpoints, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from diffusers.pipelines.wan.pipeline_wan_i2v import WanImageToVideoPipeline
from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
from diffusers.pipelines.wan.pipeline_wan_video2video import WanVideoToVideoPipeline

from attention_visual.errors import ConfigError
from attention_visual.models import build_tiny_model, load_pipeline
from support.tiny_models import save_tiny_models

# tiny id: (class after save_pretrained + load_pipeline, boundary_ratio, expand_timesteps, has transformer_2)
SAVED = {
    "tiny": (WanPipeline, None, False, False),
    "tiny-wan22-a14b": (WanPipeline, 0.875, False, True),
    "tiny-ti2v-5b": (WanPipeline, None, True, False),
    "tiny-ti2v-5b-i2v": (WanImageToVideoPipeline, None, True, False),
    "tiny-i2v": (WanImageToVideoPipeline, None, False, False),
    "tiny-vace": (WanVACEPipeline, None, None, False),
    "tiny-v2v": (WanVideoToVideoPipeline, None, None, False),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny variant written with save_pretrained, by tiny id."""
    return save_tiny_models(tmp_path_factory.mktemp("tiny-variants"), SAVED)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.mark.parametrize("model_id", sorted(SAVED))
def test_saved_variant_loads_back_as_its_class(
    model_id: str, saved: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cls, ratio, expand, two = SAVED[model_id]
    pipe = load_pipeline(str(saved[model_id]), device="cpu")
    assert type(pipe) is cls
    assert pipe.config.get("boundary_ratio") == ratio
    assert pipe.config.get("expand_timesteps") == expand
    assert (getattr(pipe, "transformer_2", None) is not None) == two
    original = build_tiny_model(model_id)
    assert _same_weights(pipe.transformer, original.transformer)
    if two:
        assert _same_weights(pipe.transformer_2, original.transformer_2)
        assert not _same_weights(pipe.transformer, pipe.transformer_2)
    if model_id == "tiny-i2v":
        assert pipe.image_encoder is not None and pipe.transformer.config.added_kv_proj_dim is not None


def test_ti2v_5b_checkpoint_runs_image_to_video(saved: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = load_pipeline(str(saved["tiny-ti2v-5b"]), device="cpu", pipeline="i2v")
    assert type(pipe) is WanImageToVideoPipeline
    assert pipe.config.expand_timesteps is True
    assert pipe.vae.config.z_dim == 48


def test_t2v_checkpoint_runs_video_to_video(saved: dict[str, Path]) -> None:
    pipe = load_pipeline(str(saved["tiny"]), device="cpu", pipeline="v2v")
    assert type(pipe) is WanVideoToVideoPipeline


def test_task_the_checkpoint_cannot_run(saved: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'v2v'; it runs: t2v\b") as info:
        load_pipeline(str(saved["tiny-wan22-a14b"]), device="cpu", pipeline="v2v")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot run pipeline 't2v'; it runs: i2v, flf2v"):
        load_pipeline(str(saved["tiny-i2v"]), device="cpu", pipeline="t2v")


@pytest.mark.parametrize(
    ("model_id", "task", "cls"),
    [
        ("tiny-ti2v-5b", "i2v", WanImageToVideoPipeline),
        ("tiny", "v2v", WanVideoToVideoPipeline),
        ("tiny-i2v", "flf2v", WanImageToVideoPipeline),
    ],
)
def test_tiny_id_with_a_task(model_id: str, task: str, cls: type) -> None:
    pipe = load_pipeline(model_id, device="cpu", pipeline=task)
    assert type(pipe) is cls
    assert pipe.config.get("expand_timesteps", False) == (model_id == "tiny-ti2v-5b")


def test_tiny_id_auto_keeps_its_class() -> None:
    assert type(load_pipeline("tiny-vace", device="cpu")) is WanVACEPipeline
    with pytest.raises(ConfigError, match="cannot run pipeline 'vace'"):
        load_pipeline("tiny", device="cpu", pipeline="vace")


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"_class_name": "WanAnimatePipeline"}, "is a WanAnimatePipeline: Wan Animate is not supported"),
        (
            {"_class_name": "StableDiffusionPipeline"},
            "is a StableDiffusionPipeline, not a pipeline of a supported family",
        ),
    ],
)
def test_unsupported_checkpoint_fails_before_loading_weights(
    tmp_path: Path, index: dict[str, str], message: str
) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps(index))  # no weights at all: the class is checked first
    with pytest.raises(ConfigError, match=message) as info:
        load_pipeline(str(tmp_path), device="cpu")
    assert "\n" not in str(info.value)


def test_modular_pipeline_directory(tmp_path: Path) -> None:
    (tmp_path / "modular_model_index.json").write_text(json.dumps({"_class_name": "WanModularPipeline"}))
    with pytest.raises(ConfigError, match="modular diffusers pipeline"):
        load_pipeline(str(tmp_path), device="cpu")

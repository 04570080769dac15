"""Tests of load_pipeline and its device/dtype helpers, offline, with the tiny pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.pipelines.wan.pipeline_wan import WanPipeline
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler

from attention_visual.errors import AttentionVisualError, ConfigError
from attention_visual.models import TINY_DEFAULTS, load_pipeline, resolve_device, resolve_dtype

PROMPT = "a red car and a dog on the street"
needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error path")


def _video(pipe: WanPipeline, seed: int = 0) -> np.ndarray:
    out = pipe(PROMPT, **TINY_DEFAULTS.call_kwargs(), generator=torch.Generator().manual_seed(seed), output_type="np")
    return np.asarray(out.frames)


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory: pytest.TempPathFactory, tiny_pipe: WanPipeline) -> Path:
    """The shared tiny pipeline written with save_pretrained (reading it does not mutate it)."""
    path = tmp_path_factory.mktemp("tiny-wan")
    tiny_pipe.save_pretrained(path)
    return path


def test_tiny_id(tiny_pipe: WanPipeline) -> None:
    pipe = load_pipeline("tiny", device="cpu")
    assert isinstance(pipe, WanPipeline)
    assert pipe.transformer.dtype == torch.float32
    np.testing.assert_array_equal(_video(pipe), _video(tiny_pipe))


def test_save_and_load_round_trip(saved_tiny: Path, tiny_pipe: WanPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (saved_tiny / "model_index.json").is_file()
    loaded = load_pipeline(str(saved_tiny))
    assert isinstance(loaded, WanPipeline)
    assert loaded.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        assert loaded.vae.dtype == torch.float32
        assert loaded.transformer.dtype == torch.float32
        assert loaded.tokenizer.get_vocab() == tiny_pipe.tokenizer.get_vocab()
        loaded.set_progress_bar_config(disable=True)
        np.testing.assert_allclose(_video(loaded), _video(tiny_pipe), atol=1e-6)


def test_dtype_applies_to_all_but_vae(saved_tiny: Path) -> None:
    loaded = load_pipeline(str(saved_tiny), device="cpu", dtype="bf16")
    assert loaded.transformer.dtype == torch.bfloat16
    assert loaded.text_encoder.dtype == torch.bfloat16
    assert loaded.vae.dtype == torch.float32


@pytest.mark.parametrize("model_id", ["tiny", "saved"])
def test_flow_shift_swaps_scheduler(model_id: str, saved_tiny: Path) -> None:
    pipe = load_pipeline(str(saved_tiny) if model_id == "saved" else model_id, device="cpu", flow_shift=5.0)
    assert isinstance(pipe.scheduler, UniPCMultistepScheduler)
    assert pipe.scheduler.config.flow_shift == 5.0
    assert pipe.scheduler.config.use_flow_sigmas
    assert pipe.scheduler.config.prediction_type == "flow_prediction"
    default = load_pipeline(model_id if model_id == "tiny" else str(saved_tiny), device="cpu")
    assert default.scheduler.config.flow_shift == 3.0
    pipe.set_progress_bar_config(disable=True)
    assert not np.array_equal(_video(pipe), _video(default))


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match="no such directory"):
        load_pipeline(str(missing))


def test_directory_without_model_index(tmp_path: Path) -> None:
    (tmp_path / "vae").mkdir()
    with pytest.raises(ConfigError, match=r"no model_index\.json"):
        load_pipeline(str(tmp_path))


def test_broken_directory_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    with pytest.raises(ConfigError, match="cannot load model") as info:
        load_pipeline(str(tmp_path))
    assert "\n" not in str(info.value)


def test_hub_id_not_cached_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="offline mode is on") as info:
        load_pipeline("attention-visual-tests/not-a-real-wan-model-Diffusers")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, AttentionVisualError)


def test_local_files_only_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ConfigError, match="offline mode is on"):
        load_pipeline("attention-visual-tests/not-a-real-wan-model-Diffusers", local_files_only=True)


@pytest.mark.parametrize("model_id", ["wan", "a b/c d", "owner/"])
def test_unrecognised_model_id(model_id: str) -> None:
    with pytest.raises(ConfigError, match="not 'tiny', an existing directory or a Hub id"):
        load_pipeline(model_id)


def test_empty_model_id() -> None:
    with pytest.raises(ConfigError, match="model_id is empty"):
        load_pipeline("  ")


@needs_no_cuda
def test_cpu_offload_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="enable_model_cpu_offload needs a CUDA GPU"):
        load_pipeline("tiny", enable_model_cpu_offload=True)


@needs_no_cuda
def test_cuda_device_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        load_pipeline("tiny", device="cuda")


def test_bad_flow_shift() -> None:
    with pytest.raises(ConfigError, match="flow_shift must be > 0"):
        load_pipeline("tiny", device="cpu", flow_shift=0.0)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(" AUTO ").type == expected
    with pytest.raises(ConfigError, match="not a device"):
        resolve_device("gpu-please")


def test_resolve_dtype() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    assert resolve_dtype("float16") == torch.float16
    assert resolve_dtype(torch.bfloat16) == torch.bfloat16
    with pytest.raises(ConfigError, match="not supported"):
        resolve_dtype("int8")
    with pytest.raises(ConfigError, match="not a floating-point"):
        resolve_dtype(torch.int64)


def test_auto_dtype_is_bf16_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_dtype("auto", "auto") == torch.bfloat16
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_and_cpu_offload() -> None:
    pipe = load_pipeline("tiny")
    assert pipe.transformer.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32
    assert pipe.device.type == "cuda"
    offloaded = load_pipeline("tiny", enable_model_cpu_offload=True)
    video = offloaded(PROMPT, **TINY_DEFAULTS.call_kwargs(), output_type="np").frames
    assert np.asarray(video).shape == (1, 9, 32, 48, 3)

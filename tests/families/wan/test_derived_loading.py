"""The Wan derivatives load by their model_index.json, run the tasks their checkpoints run, and are checked
against their rules (frame count, fps, inputs) before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attention_visual.config import Config, GenerationConfig
from attention_visual.config.inputs import PromptInputs
from attention_visual.errors import ConfigError
from attention_visual.families import family_named, read_model_index
from attention_visual.models import build_tiny_model, load_pipeline, resolve_variant
from attention_visual.pipeline.validation import check_variant
from support.tiny_models import save_tiny_models

# tiny id: the class save_pretrained + load_pipeline gives back, and the variant it is
SAVED = {
    "tiny-skyreels-v2": ("SkyReelsV2Pipeline", "skyreels-v2-t2v"),
    "tiny-skyreels-v2-i2v": ("SkyReelsV2ImageToVideoPipeline", "skyreels-v2-i2v"),
    "tiny-skyreels-v2-df": ("SkyReelsV2DiffusionForcingPipeline", "skyreels-v2-df-t2v"),
    "tiny-chronoedit": ("ChronoEditPipeline", "chronoedit"),
    "tiny-lucy-edit": ("LucyEditPipeline", "lucy-edit"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_tiny_models(tmp_path_factory.mktemp("tiny-derivatives"), SAVED)


@pytest.mark.parametrize("model_id", sorted(SAVED))
def test_saved_derivative_loads_back_as_its_class(
    model_id: str, saved: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cls, variant = SAVED[model_id]
    pipe = load_pipeline(str(saved[model_id]), device="cpu")
    assert type(pipe).__name__ == cls
    assert resolve_variant(str(saved[model_id])).name == variant
    original = build_tiny_model(model_id)
    for a, b in zip(pipe.transformer.state_dict().values(), original.transformer.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert type(pipe.transformer).__name__ == type(original.transformer).__name__


def test_a_diffusion_forcing_checkpoint_runs_image_to_video(saved: dict[str, Path]) -> None:
    path = str(saved["tiny-skyreels-v2-df"])
    pipe = load_pipeline(path, device="cpu", pipeline="i2v")
    assert type(pipe).__name__ == "SkyReelsV2DiffusionForcingImageToVideoPipeline"
    assert resolve_variant(path, "i2v").name == "skyreels-v2-df-i2v"
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'v2v'; it runs: t2v, i2v"):
        load_pipeline(path, device="cpu", pipeline="v2v")


def test_flow_shift_keeps_a_flow_matching_euler_scheduler(saved: dict[str, Path]) -> None:
    """A checkpoint that ships FlowMatchEulerDiscreteScheduler keeps it, shifted (a UniPC from its config would
    predict noise, not the flow)."""
    from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler

    from attention_visual.families.runtime import runtime_of

    pipe = build_tiny_model("tiny-chronoedit")
    pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
    runtime_of(family_named("wan")).set_flow_shift(pipe, 2.0)
    assert isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler) and pipe.scheduler.config.shift == 2.0
    unipc = load_pipeline(str(saved["tiny-skyreels-v2"]), device="cpu", flow_shift=8.0)
    assert type(unipc.scheduler).__name__ == "UniPCMultistepScheduler" and unipc.scheduler.config.flow_shift == 8.0


def test_model_index_of_a_derivative_with_two_experts_is_refused_where_the_class_has_one() -> None:
    data = {"_class_name": "SkyReelsV2Pipeline", "boundary_ratio": 0.9, "transformer_2": ["diffusers", "X"]}
    with pytest.raises(ConfigError, match="a SkyReelsV2Pipeline has one transformer"):
        read_model_index(data, "someone/skyreels")


def _config(model_id: str, inputs: PromptInputs | None = None, **generation: object) -> Config:
    return Config(
        prompts=("a (cat)",),
        generation=GenerationConfig(model_id=model_id, **generation),  # type: ignore[arg-type]
        prompt_inputs=(inputs,) if inputs is not None else (),
    )


def test_derivative_rules_are_checked_before_loading(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    from attention_visual.models import tiny_inputs

    tiny_inputs("tiny-chronoedit")["image"].save(image)
    with pytest.raises(ConfigError, match=r"generation\.num_frames must be 5 for chronoedit .*got 9"):
        check_variant(_config("tiny-chronoedit", PromptInputs(image=image), num_frames=9, width=48, height=32))
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image is required .*task image_edit"):
        check_variant(_config("tiny-chronoedit", num_frames=5, width=48, height=32))
    assert check_variant(_config("tiny-chronoedit", PromptInputs(image=image), num_frames=5, width=48, height=32))
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.video is required .*task video_edit"):
        check_variant(_config("tiny-lucy-edit", num_frames=9, width=96, height=64))
    with pytest.raises(ConfigError, match=r"generation\.width must be a multiple of 32 for lucy-edit"):
        check_variant(_config("tiny-lucy-edit", num_frames=9, width=48, height=64))


def test_skyreels_videos_default_to_24_fps() -> None:
    wan = family_named("wan")
    g = GenerationConfig(model_id="tiny-skyreels-v2-df")
    assert g.video_fps(wan, resolve_variant("tiny-skyreels-v2-df")) == 24
    assert g.video_fps(wan, resolve_variant("tiny")) == 16
    assert wan.fps_argument_of(resolve_variant("tiny-skyreels-v2-df")) == "fps"
    assert wan.fps_argument_of(resolve_variant("tiny-skyreels-v2")) is None  # only diffusion forcing takes one

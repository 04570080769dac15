"""The CogVideoX family's torch side and checkpoint rules: finding attn1, recognising pipelines, reading a call."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.errors import CaptureError, ConfigError
from attention_visual.families import checkpoint_rules, family_named, family_of_model, read_model_index
from attention_visual.families.runtime import describe_pipeline, runtime_of
from attention_visual.models import load_pipeline
from attention_visual.models.loading import resolve_variant
from families.cogvideox.support import COGVIDEOX_IDS, MARKED, pipe_of

COGVIDEOX = family_named("cogvideox")
RUNTIME = runtime_of(COGVIDEOX)
RULES = checkpoint_rules(COGVIDEOX)

# model id: (variant, pixels per token, latent frames per token, text length the model requires)
DESCRIBED = {
    "tiny-cogvideox": ("cogvideox-5b", 16, 1, None),
    "tiny-cogvideox-2b": ("cogvideox-2b", 16, 1, 226),
    "tiny-cogvideox1.5": ("cogvideox1.5-5b", 16, 2, None),
    "tiny-cogvideox-i2v": ("cogvideox-5b-i2v", 16, 1, 226),
    "tiny-cogvideox1.5-i2v": ("cogvideox1.5-5b-i2v", 16, 2, None),
    "tiny-cogvideox-v2v": ("cogvideox-v2v", 16, 1, None),
}


@pytest.mark.parametrize("model_id", COGVIDEOX_IDS)
def test_each_tiny_pipeline_is_described_as_its_variant(model_id: str) -> None:
    variant = describe_pipeline(pipe_of(model_id))
    name, px, per_token, text = DESCRIBED[model_id]
    assert (variant.name, variant.pixels_per_cell, variant.latent_frames_per_cell, variant.text_length) == (
        name, px, per_token, text,
    )  # fmt: skip
    assert (variant.attention_kind, variant.guidance, variant.batch_passes) == (
        "joint_dual",
        "batched",
        ("uncond", "cond"),
    )
    assert variant.fixed_size == ((32, 48) if model_id == "tiny-cogvideox-i2v" else None)  # its learned sample size
    assert COGVIDEOX.fps_of(variant) == (16 if per_token == 2 else 8)


def test_the_locator_names_every_joint_attention() -> None:
    pipe = pipe_of("tiny-cogvideox")
    variant = describe_pipeline(pipe)
    sites = RUNTIME.locate(pipe.transformer, variant, "transformer_blocks")
    assert [s.name for s in sites] == ["transformer_blocks.0.attn1", "transformer_blocks.1.attn1"]
    assert all(s.module is pipe.transformer.transformer_blocks[s.index].attn1 and s.heads == 2 for s in sites)
    with pytest.raises(CaptureError, match="not a CogVideoX transformer"):
        RUNTIME.locate(torch.nn.Linear(2, 2), variant, "transformer_blocks")


def test_a_call_is_read_from_frame_major_latents_and_the_temporal_patch() -> None:
    """``[batch, frame, channel, y, x]``; 1.5: two latent frames per token (6 latent frames: 3 map frames)."""
    pipe = pipe_of("tiny-cogvideox1.5")
    variant = describe_pipeline(pipe)
    latents = torch.zeros(2, 6, 4, 4, 6)
    call = RUNTIME.read_call(variant, pipe.transformer, (), {"hidden_states": latents, "timestep": torch.ones(2)})
    assert (call.batch, call.grid, call.drop_leading_frames) == (2, (3, 2, 3), 0)
    with pytest.raises(CaptureError, match="temporal patches of 2"):
        RUNTIME.read_call(variant, pipe.transformer, (torch.zeros(1, 5, 4, 4, 6),), {})
    with pytest.raises(CaptureError, match="5-D hidden_states"):
        RUNTIME.read_call(variant, pipe.transformer, (), {})


def test_no_image_branch_and_no_flow_shift() -> None:
    pipe = pipe_of("tiny-cogvideox-i2v")
    with pytest.raises(CaptureError, match="image_map needs a pipeline with an image branch"):
        AttentionCapture(pipe, MARKED, CaptureSettings(image_map=True), 226)
    with pytest.raises(ConfigError, match="flow_shift applies to flow-matching schedulers"):
        load_pipeline("tiny-cogvideox", device="cpu", flow_shift=3.0)


def test_cast_puts_text_encoder_transformer_and_vae_in_the_dtype() -> None:
    pipe = load_pipeline("tiny-cogvideox", device="cpu", dtype=torch.bfloat16)
    assert {pipe.components[n].dtype for n in ("text_encoder", "transformer", "vae")} == {torch.bfloat16}


def test_the_2b_takes_exactly_226_text_keys() -> None:
    with pytest.raises(CaptureError, match="cogvideox-2b takes exactly 226 text keys"):
        AttentionCapture(pipe_of("tiny-cogvideox-2b"), MARKED, CaptureSettings(), 64)
    AttentionCapture(pipe_of("tiny-cogvideox"), MARKED, CaptureSettings(), 64)  # RoPE: any length


def test_the_fun_control_pipeline_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"CogVideoXFunControlPipeline: CogVideoX-Fun control is not supported"):
        read_model_index({"_class_name": "CogVideoXFunControlPipeline"}, "m")


@pytest.mark.parametrize(
    ("class_name", "config", "task", "variant"),
    [
        ("CogVideoXPipeline", {}, "auto", "cogvideox-2b"),
        ("CogVideoXPipeline", {"use_rotary_positional_embeddings": True}, "auto", "cogvideox-5b"),
        ("CogVideoXPipeline", {"use_rotary_positional_embeddings": True, "patch_size_t": 2}, "auto", "cogvideox1.5-5b"),
        ("CogVideoXPipeline", {}, "v2v", "cogvideox-v2v"),
        ("CogVideoXVideoToVideoPipeline", {"use_rotary_positional_embeddings": True}, "t2v", "cogvideox-5b"),
        ("CogVideoXImageToVideoPipeline", {"patch_size_t": 2, "use_rotary_positional_embeddings": True}, "auto",
         "cogvideox1.5-5b-i2v"),
    ],
)  # fmt: skip
def test_checkpoint_rules(class_name: str, config: dict[str, object], task: str, variant: str) -> None:
    spec = RULES.with_transformer_config(read_model_index({"_class_name": class_name}, "m"), config)
    assert RULES.variant_for(spec, task).name == variant
    assert RULES.pipeline_class_for(spec, task, "m") == (
        class_name if task == "auto" else RULES.variant_for(spec, task).pipeline_class
    )


def test_video_to_video_on_1_5_is_refused() -> None:
    """Its VAE decodes the even latent count 4 frames each (13 input frames give 16): no frame rule fits."""
    v15 = RULES.with_transformer_config(
        read_model_index({"_class_name": "CogVideoXPipeline"}, "m"), {"patch_size_t": 2}
    )
    assert RULES.tasks_of(v15) == ("t2v",)
    with pytest.raises(ConfigError, match=r"^m: CogVideoX 1\.5 video-to-video is not supported"):
        RULES.pipeline_class_for(v15, "v2v", "m")
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_video2video import CogVideoXVideoToVideoPipeline

    with pytest.raises(CaptureError, match=r"CogVideoX 1\.5 video-to-video is not supported"):
        describe_pipeline(CogVideoXVideoToVideoPipeline.from_pipe(pipe_of("tiny-cogvideox1.5")))


def test_what_a_checkpoint_cannot_run() -> None:
    spec = read_model_index({"_class_name": "CogVideoXImageToVideoPipeline"}, "THUDM/CogVideoX-5b-I2V")
    with pytest.raises(ConfigError, match=r"cannot run pipeline 'v2v'; it runs: i2v"):
        RULES.pipeline_class_for(spec, "v2v", "THUDM/CogVideoX-5b-I2V")
    with pytest.raises(ConfigError, match="pipeline 'flf2v' is not one of: auto, t2v, i2v, v2v"):
        RULES.pipeline_class_for(spec, "flf2v", "m")


def test_the_published_checkpoints_belong_to_the_family() -> None:
    for hub_id in ("THUDM/CogVideoX-2b", "THUDM/CogVideoX-5b", "THUDM/CogVideoX-5b-I2V", "THUDM/CogVideoX1.5-5B"):
        family = family_of_model(hub_id)
        assert family is not None and family.name == "cogvideox"


def test_a_saved_5b_i2v_checkpoint_fixes_the_text_length_and_the_frame_size(tmp_path: Path) -> None:
    """From the checkpoint's files alone (no weights): the learned position embedding's sizes."""
    pipe_of("tiny-cogvideox-i2v").save_pretrained(tmp_path)
    variant = resolve_variant(str(tmp_path))
    assert (variant.name, variant.fixed_size, variant.text_length) == ("cogvideox-5b-i2v", (32, 48), 226)
    loaded = load_pipeline(str(tmp_path), device="cpu", local_files_only=True)
    assert type(loaded).__name__ == "CogVideoXImageToVideoPipeline"


def test_the_public_checkpoints_are_known_offline_from_the_shipped_configs() -> None:
    """Not downloaded: the configs shipped in attention_visual/models/configs give blocks, size and text length."""
    from attention_visual.models.architecture import num_transformer_blocks

    i2v = resolve_variant("THUDM/CogVideoX-5b-I2V", local_files_only=True)
    assert (i2v.name, i2v.fixed_size, i2v.text_length) == ("cogvideox-5b-i2v", (480, 720), 226)
    v15 = resolve_variant("THUDM/CogVideoX1.5-5B-I2V", local_files_only=True)
    assert (v15.name, v15.latent_frames_per_cell, v15.fixed_size, v15.text_length) == (
        "cogvideox1.5-5b-i2v", 2, None, None,
    )  # fmt: skip
    assert resolve_variant("THUDM/CogVideoX-2b", "v2v", local_files_only=True).text_length == 226
    assert num_transformer_blocks("THUDM/CogVideoX-5b") == 42
    assert num_transformer_blocks("THUDM/CogVideoX-2b") == 30


def test_the_prompt_is_226_tokens_by_default() -> None:
    """``AttentionCapture(pipe, prompt)`` and the pipeline's own default ``max_sequence_length`` agree."""
    pipe = pipe_of("tiny-cogvideox")
    cap = AttentionCapture(pipe, MARKED)
    assert len(cap.tokens.input_ids) == 226
    with cap:
        pipe(prompt=cap.prompt, num_inference_steps=1, height=32, width=48, num_frames=9, output_type="latent")
    assert [r.pass_name for r in cap.records] == ["cond"]

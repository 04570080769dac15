"""Every Wan variant: the video is unchanged, every module is restored, misuse and unsupported pipelines fail
clearly, and the saved metadata says the variant, experts and conditioning frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.errors import AttentionDataError, CaptureError
from attention_visual.storage import MapMetadata
from attention_visual.storage.schema.frames import check_frame_mapping, frame_weights, video_frame_index
from capture.variant_support import CALLS, GRID, PROMPT, call_kwargs, num_reference, pipe_of, run_variant, snapshot


def generate(pipe: Any, model_id: str, prompt: str) -> np.ndarray:
    kwargs = call_kwargs(model_id, output_type="np", num_inference_steps=CALLS[model_id]["num_inference_steps"])
    return np.asarray(pipe(prompt=prompt, generator=torch.Generator().manual_seed(3), **kwargs).frames)


@pytest.mark.parametrize("model_id", sorted(CALLS))
def test_video_is_bit_identical_and_every_module_restored(model_id: str) -> None:
    pipe = pipe_of(model_id)
    plain = generate(pipe, model_id, "A romantic kiss between a man and woman with flowers")
    before = snapshot(pipe)
    settings = CaptureSettings(image_map=model_id in {"tiny-i2v", "tiny-flf2v"}, guidance_pass="both")
    kwargs = call_kwargs(model_id)
    with AttentionCapture(
        pipe, PROMPT, settings, kwargs["max_sequence_length"], num_reference_images=num_reference(kwargs)
    ) as cap:
        assert snapshot(pipe) != before
        captured = generate(pipe, model_id, cap.prompt)
    assert snapshot(pipe) == before
    assert np.array_equal(plain, captured)
    assert cap.records


def test_a_failing_generation_restores_both_experts() -> None:
    pipe = pipe_of("tiny-wan22-a14b")
    before = snapshot(pipe)
    with (
        pytest.raises(CaptureError, match=r"prompt other than capture\.prompt"),
        AttentionCapture(pipe, PROMPT, max_sequence_length=32),
    ):
        generate(pipe, "tiny-wan22-a14b", "another prompt")
    assert snapshot(pipe) == before


def _fake(name: str, module: str) -> Any:
    return type(name, (), {"__module__": module})()


def test_unsupported_pipelines_fail_with_one_clear_error() -> None:
    with pytest.raises(CaptureError, match="WanAnimatePipeline is not supported: Wan Animate"):
        AttentionCapture(_fake("WanAnimatePipeline", "diffusers.pipelines.wan.pipeline_wan_animate"), PROMPT)
    from diffusers.modular_pipelines.wan.modular_pipeline import WanModularPipeline

    modular = WanModularPipeline.__new__(WanModularPipeline)
    with pytest.raises(CaptureError, match="modular diffusers pipeline"):
        AttentionCapture(modular, PROMPT)


@pytest.mark.parametrize(
    ("model_id", "settings", "kwargs", "message"),
    [
        ("tiny", CaptureSettings(image_map=True), {}, "image_map needs a pipeline with an image branch"),
        (
            "tiny-ti2v-5b",
            CaptureSettings(block_list="vace_blocks"),
            {},
            "does not exist on wan2.2-ti2v-5b-t2v: it has blocks",
        ),
        ("tiny-i2v", CaptureSettings(), {"max_sequence_length": 32}, "max_sequence_length must be 512"),
        ("tiny-v2v", CaptureSettings(), {"num_reference_images": 1}, "wan2.1-v2v takes no reference images"),
        ("tiny", CaptureSettings(joint_attention="full"), {}, r"joint_attention='full' needs joint .*; Wan \(wan2"),
        ("tiny-i2v", CaptureSettings(text_share_map=True), {}, r"text_share_map needs joint attention .*; Wan"),
    ],
)
def test_settings_that_do_not_fit_the_variant_are_refused(
    model_id: str, settings: CaptureSettings, kwargs: dict[str, Any], message: str
) -> None:
    kwargs = {"max_sequence_length": call_kwargs(model_id)["max_sequence_length"], **kwargs}
    with pytest.raises(CaptureError, match=message):
        AttentionCapture(pipe_of(model_id), PROMPT, settings, **kwargs)


def test_v2v_without_cache_context_counts_its_steps_and_checks_them() -> None:
    """A transformer call outside the loop (no context, wrong timestep) is refused, not mislabelled."""
    pipe = pipe_of("tiny-v2v")
    with AttentionCapture(pipe, PROMPT, max_sequence_length=32):
        pipe.scheduler.set_timesteps(4)
        pipe._num_timesteps = 4
        hidden = torch.zeros(1, 16, 3, 4, 6)
        context = torch.zeros(1, 32, 32)
        with pytest.raises(CaptureError, match="ran at timestep 1 but the scheduler's step 0 is at 999"):
            pipe.transformer(hidden_states=hidden, timestep=torch.tensor([1.0]), encoder_hidden_states=context)


def read_meta(root: Path, video: str, word: str, name: str) -> MapMetadata:
    return MapMetadata.from_json((root / video / word / name).read_text())


def test_saved_metadata_of_two_experts(tmp_path: Path) -> None:
    run = run_variant("tiny-wan22-a14b")
    run.capture.save(tmp_path, "v")
    steps = [read_meta(tmp_path, "v", "kiss", f"step_{s:03d}_metadata.json") for s in range(4)]
    assert [m.expert for m in steps] == ["high_noise", "high_noise", "low_noise", "low_noise"]
    assert all(m.boundary_timestep == 875.0 and m.variant == "wan2.2-t2v-a14b" for m in steps)
    agg = read_meta(tmp_path, "v", "aggregated", "kiss_aggregated_metadata.json")
    assert agg.step_experts == ("high_noise", "high_noise", "low_noise", "low_noise") and agg.expert is None


def test_saved_metadata_of_conditioning_frames(tmp_path: Path) -> None:
    run = run_variant("tiny-ti2v-5b-i2v")
    run.capture.save(tmp_path, "i2v")
    meta = read_meta(tmp_path, "i2v", "kiss", "step_000_metadata.json")
    assert meta.conditioning_frames == (0,) and meta.pixels_per_token == 32
    assert (meta.video_dimensions.height, meta.video_dimensions.width, meta.video_dimensions.frames) == (64, 96, 9)
    assert meta.latent_to_video_frames == ((0, 0), (1, 4), (5, 8)) and meta.step_experts == ()
    # what the map means across families (metadata version 3)
    assert (meta.family, meta.attention_kind, meta.joint_attention) == ("wan", "cross", None)
    assert (meta.temporal_factor, meta.latent_frames_per_cell, meta.attention_storage_version) == (4, 1, 3)
    vace = run_variant("tiny-vace")
    vace.capture.save(tmp_path, "vace")
    meta = read_meta(tmp_path, "vace", "kiss", "step_000_metadata.json")
    assert meta.token_grid.frames == GRID[0] + 1 and meta.conditioning_frames == (0,)
    assert meta.latent_to_video_frames == ((0, -1), (0, 0), (1, 4), (5, 8))  # the reference frame maps to none
    assert frame_weights(meta).tolist() == [0, 1, 4, 4]  # the reader accepts it: the reference weighs nothing
    assert video_frame_index(meta).tolist() == [1, 2, 2, 2, 2, 3, 3, 3, 3]
    with pytest.raises(AttentionDataError, match=r"latent_to_video_frames\[1\]"):  # only conditioning frames
        check_frame_mapping(((0, 0), (1, 0), (1, 4)), 3, 5, conditioning=(0,))
    assert meta.video_dimensions.frames == 9
    with pytest.raises(CaptureError, match="has 5"):  # a 13-frame video + 1 reference = 5 latent frames, not 4
        vace.capture.save(tmp_path, "wrong", {"width": 48, "height": 32, "fps": 16.0, "frames": 13})


def test_image_share_is_saved_as_a_pseudo_word(tmp_path: Path) -> None:
    run = run_variant("tiny-i2v", CaptureSettings(image_map=True))
    run.capture.save(tmp_path, "v")
    complete = json.loads((tmp_path / "v" / "_complete.json").read_text())
    folder = complete["words"]["<image>"]
    meta = read_meta(tmp_path, "v", folder, "step_000_metadata.json")
    assert meta.quantity == "image_share" and meta.token_word == "<image>" and meta.token_indices == ()
    assert read_meta(tmp_path, "v", "kiss", "step_000_metadata.json").quantity == "text_attention"
    with pytest.raises(CaptureError, match="reserved"):
        AttentionCapture(pipe_of("tiny-i2v"), "a (<image>)", CaptureSettings(image_map=True))


def test_version_1_and_2_metadata_still_load(tmp_path: Path) -> None:
    run = run_variant("tiny-ti2v-5b")
    run.capture.save(tmp_path, "v")
    data = json.loads((tmp_path / "v" / "kiss" / "step_000_metadata.json").read_text())
    version_2 = {k: v for k, v in data.items() if k not in ("family", "attention_kind", "joint_attention")}
    version_2 = {k: v for k, v in version_2.items() if k not in ("temporal_factor", "latent_frames_per_cell")}
    v2 = MapMetadata.from_dict({**version_2, "attention_storage_version": 2})
    assert v2.variant == "wan2.2-ti2v-5b-t2v" and v2.family is None and v2.pixels_per_token == 32
    for name in ("variant", "expert", "step_experts", "boundary_timestep", "conditioning_frames"):
        data.pop(name)
    for name in ("family", "attention_kind", "joint_attention", "temporal_factor", "latent_frames_per_cell"):
        data.pop(name)  # version 3
    data.pop("pixels_per_token"), data.pop("quantity")
    data["attention_storage_version"] = 1
    old = MapMetadata.from_dict(data)
    assert old.variant is None and old.conditioning_frames == () and old.quantity == "text_attention"
    assert old.family is None and old.pixels_per_token is None and old.latent_frames_per_cell == 1

"""The tiny CogVideoX pipelines: deterministic, non-square grids, and real diffusers checkpoints on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import DiffusionPipeline

from attention_visual.families import family_named, tiny_model_variant
from attention_visual.models.tiny_cogvideox import TEXT_LENGTH
from attention_visual.models.tiny_variants import TINY_MODELS, build_tiny_model
from families.cogvideox.support import COGVIDEOX_IDS, call_kwargs

# model id: (pipeline class, latent frames the transformer sees, token grid (frame, y, x))
EXPECTED = {
    "tiny-cogvideox": ("CogVideoXPipeline", 3, (3, 2, 3)),
    "tiny-cogvideox-2b": ("CogVideoXPipeline", 3, (3, 2, 3)),
    "tiny-cogvideox1.5": ("CogVideoXPipeline", 6, (3, 2, 3)),  # 5 latent frames + 1 padding frame in front
    "tiny-cogvideox-i2v": ("CogVideoXImageToVideoPipeline", 3, (3, 2, 3)),
    "tiny-cogvideox1.5-i2v": ("CogVideoXImageToVideoPipeline", 6, (3, 2, 3)),
    "tiny-cogvideox-v2v": ("CogVideoXVideoToVideoPipeline", 3, (3, 2, 3)),
}


def generate(pipe: Any, model_id: str, output_type: str = "pt") -> torch.Tensor:
    out = pipe(prompt="a cat and a dog", generator=torch.Generator().manual_seed(0), output_type=output_type,
               **call_kwargs(model_id))  # fmt: skip
    frames: torch.Tensor = out.frames
    return frames


def test_every_tiny_model_is_listed_with_its_variant() -> None:
    assert set(COGVIDEOX_IDS) == set(EXPECTED) == set(family_named("cogvideox").tiny_models)
    for model_id in COGVIDEOX_IDS:
        variant = tiny_model_variant(model_id)
        assert variant is not None and variant.name == TINY_MODELS[model_id].variant
        assert variant.pipeline_class == EXPECTED[model_id][0]


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_grid_frames_and_class(model_id: str) -> None:
    cls, latent_frames, grid = EXPECTED[model_id]
    spec = TINY_MODELS[model_id]
    pipe = build_tiny_model(model_id)
    assert type(pipe).__name__ == cls
    seen: list[tuple[int, ...]] = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda m, a, kw: seen.append(tuple(kw["hidden_states"].shape)), with_kwargs=True
    )
    try:
        video = generate(pipe, model_id)
    finally:
        handle.remove()
    config = pipe.transformer.config
    p, p_t = config.patch_size, config.patch_size_t or 1
    batch, frames, _, height, width = seen[0]  # [batch, latent frame, channel, y, x]
    assert (batch, frames) == (2, latent_frames)  # one batched [uncond, cond] call per step
    assert (frames // p_t, height // p, width // p) == grid
    assert video.shape[1:] == (spec.num_frames, 3, spec.height, spec.width)  # [video, frame, rgb, y, x]


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_deterministic_and_independent_of_global_random_state(model_id: str) -> None:
    a = build_tiny_model(model_id, seed=3)
    torch.manual_seed(123)
    b = build_tiny_model(model_id, seed=3)
    for (name, pa), (_, pb) in zip(a.transformer.state_dict().items(), b.transformer.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    c = build_tiny_model(model_id, seed=4)
    assert not torch.equal(a.transformer.proj_out.weight, c.transformer.proj_out.weight)


@pytest.mark.parametrize("model_id", ["tiny-cogvideox1.5-i2v", "tiny-cogvideox-2b", "tiny-cogvideox-v2v"])
def test_save_pretrained_and_the_real_from_pretrained(model_id: str, tmp_path: Path) -> None:
    """Written as a diffusers checkpoint and loaded back by diffusers' own code: the same model and video.

    Not bit for bit: the loaded weights are memory-mapped at other alignments, which changes the CPU
    kernels' summation order (identical weights, differences of a few 1e-7).
    """
    pipe = build_tiny_model(model_id)
    pipe.save_pretrained(tmp_path)
    loaded = DiffusionPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded) is type(pipe)
    assert loaded.tokenizer.model_max_length == TEXT_LENGTH
    for name in ("transformer", "vae", "text_encoder"):
        ours, theirs = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours), name
    torch.testing.assert_close(
        generate(loaded, model_id, "latent"), generate(pipe, model_id, "latent"), atol=1e-5, rtol=0
    )


def test_the_attention_gain_sharpens_the_joint_attention() -> None:
    flat = build_tiny_model("tiny-cogvideox", cross_attention_gain=1.0)
    sharp = build_tiny_model("tiny-cogvideox")
    block = (flat.transformer.transformer_blocks[0].attn1, sharp.transformer.transformer_blocks[0].attn1)
    assert torch.all(block[0].norm_q.weight == 1.0) and torch.all(block[1].norm_k.weight == 2.0)

"""The CogVideoX family as data: one small, frozen description per pipeline variant (no torch).

CogVideoX (THUDM/Zhipu; diffusers ``CogVideoXPipeline``, ``CogVideoXImageToVideoPipeline``,
``CogVideoXVideoToVideoPipeline``) differs from Wan in how its text→video attention is computed:

* **Joint attention.** Each block's ``attn1`` runs *one* softmax over ``[text, video]`` keys for
  ``[text, video]`` queries (``CogVideoXAttnProcessor2_0``): ``q = norm_q(to_q([text, video]))``,
  ``k = norm_k(to_k([text, video]))`` (per-head LayerNorms, ``[batch, head, token, head_dim]``), then
  **RoPE on the video rows only**, in place (5B and 1.5; the 2B has none: a sin-cos position embedding
  is added to the video tokens before the blocks). No mask: the prompt's 226 T5 tokens, padding
  included, are all real keys (the T5 encoder runs without a mask, so the padding keys differ).
* **Batched guidance.** One transformer call per step on ``[uncond, cond]`` latents under
  ``cache_context("cond_uncond")``, without a step index (counted, checked against the scheduler).
* **Grid.** Latents ``[batch, frame, channel, height, width]``; patch 2 × 2 (1.0: frame by frame),
  1.5 adds ``patch_size_t=2``: one token covers two latent frames, and an odd latent count gets one
  padding latent frame **in front**, dropped after denoising (its share of map frame 0 owns no video
  frame). VAE: 8× spatial, 4× temporal, latent frame 0 is video frame 0 alone (as Wan).
* **Image-to-video.** The image latent is concatenated on the channels of every latent frame (no
  conditioning frame); 1.5-I2V adds an ``ofs`` embedding. Video-to-video noises the input video's latents.

==========================  ================================  ====  ====  ======  ====  ===========
variant                     pipeline class                    RoPE  p_t   px/tok  fps   text keys
==========================  ================================  ====  ====  ======  ====  ===========
cogvideox-2b                CogVideoXPipeline                 no    1     16      8     exactly 226
cogvideox-5b                CogVideoXPipeline                 yes   1     16      8     226
cogvideox-5b-i2v            CogVideoXImageToVideoPipeline     yes   1     16      8     exactly 226
cogvideox1.5-5b             CogVideoXPipeline                 yes   2     16      16    226
cogvideox1.5-5b-i2v         CogVideoXImageToVideoPipeline     yes   2     16      16    226
cogvideox-v2v               CogVideoXVideoToVideoPipeline     any   1     16      8     as the 1.0 checkpoint
==========================  ================================  ====  ====  ======  ====  ===========

*text keys*: a sin-cos (2B) or learned (5B-I2V) position embedding is laid out for exactly 226 text
tokens; the RoPE models take any ``max_sequence_length``. CogVideoX-5b-I2V's learned embedding also
fixes the frame size (480 × 720: ``fixed_size``, read from the checkpoint's ``transformer/config.json``).
Video-to-video runs on the 1.0 checkpoints only: on 1.5 the pipeline needs an even latent count and its
VAE then decodes every latent frame to 4 video frames (a 13-frame input gives 16 frames), which no frame
rule of this family describes (:data:`V15_V2V_REFUSAL`).

Example:
    >>> VARIANTS["cogvideox1.5-5b"].latent_frames_per_cell, FAMILY.text.max_sequence_length
    (2, 226)
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import ModelFamily, TextSide, Variant

NAME = "cogvideox"

TEXT_LENGTH = 226
"""T5 tokens of a CogVideoX prompt (``max_sequence_length``; the transformers' ``max_text_seq_length``)."""

T2V_PIPELINE = "CogVideoXPipeline"
I2V_PIPELINE = "CogVideoXImageToVideoPipeline"
V2V_PIPELINE = "CogVideoXVideoToVideoPipeline"

V15_V2V_REFUSAL = (
    "CogVideoX 1.5 video-to-video is not supported: the pipeline needs an even latent count, and its VAE then "
    "decodes every latent frame to 4 video frames (13 input frames give 16), unlike the 4k+1 frames of the maps"
)
"""Why video-to-video on a CogVideoX 1.5 checkpoint is refused (one line)."""

VAE_SPATIAL_FACTOR = 8
"""Video pixels per latent pixel (``AutoencoderKLCogVideoX``: 8× spatial; a token is 2 × 2 latent pixels)."""

FPS_V1, FPS_V15 = 8, 16
"""The published checkpoints' frame rates: CogVideoX 1.0 8 fps (49 frames, 6 s), 1.5 16 fps (81 frames, 5 s)."""


def _variant(name: str, pipeline_class: str, task: str, **facts: Any) -> Variant:
    """Every CogVideoX attention is ``transformer_blocks.N.attn1``: joint, batched ``[uncond, cond]`` guidance."""
    return Variant(
        name, NAME, pipeline_class, task, ("transformer_blocks",), "attn1",
        attention_kind="joint_dual", guidance="batched", batch_passes=("uncond", "cond"), **facts,
    )  # fmt: skip


_V15 = {"latent_frames_per_cell": 2, "default_fps": FPS_V15}

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant("cogvideox-2b", T2V_PIPELINE, "t2v", text_length=TEXT_LENGTH, checkpoints=("THUDM/CogVideoX-2b",)),
        _variant("cogvideox-5b", T2V_PIPELINE, "t2v", checkpoints=("THUDM/CogVideoX-5b",)),
        _variant(
            "cogvideox-5b-i2v", I2V_PIPELINE, "i2v", text_length=TEXT_LENGTH, checkpoints=("THUDM/CogVideoX-5b-I2V",)
        ),
        _variant("cogvideox1.5-5b", T2V_PIPELINE, "t2v", checkpoints=("THUDM/CogVideoX1.5-5B",), **_V15),
        _variant("cogvideox1.5-5b-i2v", I2V_PIPELINE, "i2v", checkpoints=("THUDM/CogVideoX1.5-5B-I2V",), **_V15),
        _variant(
            "cogvideox-v2v", V2V_PIPELINE, "v2v", frames_from_video=True,
            checkpoints=("THUDM/CogVideoX-2b", "THUDM/CogVideoX-5b"),
        ),
    )
}  # fmt: skip
"""Every supported variant by name, with the published checkpoints' facts."""

UNSUPPORTED = {
    "CogVideoXFunControlPipeline": ("CogVideoX-Fun control", "a community model whose control video is not a prompt"),
}

TINY_MODELS = {
    "tiny-cogvideox": "cogvideox-5b",
    "tiny-cogvideox-2b": "cogvideox-2b",
    "tiny-cogvideox1.5": "cogvideox1.5-5b",
    "tiny-cogvideox-i2v": "cogvideox-5b-i2v",
    "tiny-cogvideox1.5-i2v": "cogvideox1.5-5b-i2v",
    "tiny-cogvideox-v2v": "cogvideox-v2v",
}
"""The offline random-weight models of :mod:`attention_visual.models.tiny_cogvideox` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title="CogVideoX",
    variants=VARIANTS,
    text=TextSide(max_sequence_length=TEXT_LENGTH, padding="attended"),
    size_multiple=16,
    default_fps=FPS_V1,
    default_checkpoint="THUDM/CogVideoX-5b",
    runtime="attention_visual.families.cogvideox.runtime",
    checkpoints="attention_visual.families.cogvideox.checkpoint",
    unsupported=UNSUPPORTED,
    tiny_models=TINY_MODELS,
    block_counts={"transformer_blocks": "num_layers"},
    takes_flow_shift=False,
)

__all__ = [
    "FAMILY",
    "FPS_V1",
    "FPS_V15",
    "I2V_PIPELINE",
    "NAME",
    "T2V_PIPELINE",
    "TEXT_LENGTH",
    "V2V_PIPELINE",
    "V15_V2V_REFUSAL",
    "VAE_SPATIAL_FACTOR",
    "VARIANTS",
]

"""The LTX-Video 0.9.x family as data: its three pipelines, their facts, its checkpoints (no torch).

=====================  ==========================  =========  ===========  ===============================
variant                pipeline class              task       conditioning  what the transformer gets
=====================  ==========================  =========  ===========  ===============================
ltx-video-t2v          LTXPipeline                 t2v        none          the latent grid (``num_frames``,
                                                                            ``height``, ``width``)
ltx-video-i2v          LTXImageToVideoPipeline     i2v        first_frame   as t2v; per-token timesteps
                                                                            ``t · (1 − mask)``: 0 on frame 0
ltx-video-condition    LTXConditionPipeline        condition  none          ``video_coords`` only; items at
                                                                            frame 0 mixed in place, later
                                                                            ones prepended as extra tokens
=====================  ==========================  =========  ===========  ===============================

What every LTX-Video 0.9.x model shares (diffusers 0.42: ``transformer_ltx.py``, ``pipeline_ltx*.py``):

* **Attention.** Each of ``transformer_blocks.N`` has a cross-attention ``attn2``: video queries, the 128 T5
  text keys, **no RoPE** (``image_rotary_emb=None``). ``LTXVideoAttnProcessor`` computes
  ``q = norm_q(to_q(x))``, ``k = norm_k(to_k(text))`` with ``norm_q``/``norm_k`` RMS norms across all heads
  (``torch.nn.RMSNorm(heads · head_dim, eps=1e-5)``), then ``softmax(q kᵀ/√d + bias)``.
* **Mask.** The pipelines pass the tokenizer's ``attention_mask`` (``[batch, 128]``, bool) as
  ``encoder_attention_mask``; the transformer turns it into ``bias = (1 − mask) · −10000`` in the model's
  dtype, ``[batch, 1, key]``, and every block hands it to ``attn2`` as ``attention_mask`` (the processor
  repeats it over the heads). So a padding key gets exactly probability 0 (``exp(−10000 + …)`` underflows),
  and T5, which encodes the prompt without a mask, gives distinct padding rows that do not matter.
* **Text.** No prompt cleaning; ``T5TokenizerFast`` with ``padding="max_length"``, ``max_length`` =
  ``max_sequence_length`` (128 for ``LTXPipeline``/``LTXImageToVideoPipeline``; ``LTXConditionPipeline``'s
  own default is 256, so the capture passes its length explicitly).
* **Guidance.** Batched: with ``guidance_scale > 1`` one transformer call per step on
  ``[uncond, cond]`` (``torch.cat([negative, prompt])``) under ``cache_context("cond_uncond")``; no
  step index in the context, so the capture counts steps (each call is one) and checks each call's
  timestep against the scheduler's. Guidance-distilled checkpoints (0.9.7-distilled) run with
  ``guidance_scale=1``: one item, the prompt pass.
* **Grid.** Latents are packed ``[batch, frame · y · x, channel]`` (patch 1 × 1 × 1 in every 0.9.x
  checkpoint), frame-major; the VAE compresses 32× in space and 8× in time with a causal first frame, so
  a token is 32 × 32 pixels and ``8k + 1`` video frames make ``k + 1`` latent frames (latent frame 0 →
  video frame 0 alone, latent frame j ≥ 1 → frames 8j − 7 … 8j). Height and width must be multiples of 32
  (``check_inputs``); a frame count that is not ``8k + 1`` would silently be rounded down, so it is refused.
* **fps.** The pipelines' ``frame_rate`` defaults to 25 (it scales the RoPE of time, ``8 / frame_rate``);
  the batch passes ``generation.fps`` as ``frame_rate``, so the saved video plays at the rate it was made for.

Example:
    >>> FAMILY.frame_count_rule, FAMILY.size_multiple, FAMILY.default_fps, FAMILY.text.max_sequence_length
    ('8k+1', 32, 25, 128)
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import ModelFamily, TextSide, Variant

NAME = "ltx"
TITLE = "LTX-Video"

T2V_PIPELINE = "LTXPipeline"
I2V_PIPELINE = "LTXImageToVideoPipeline"
CONDITION_PIPELINE = "LTXConditionPipeline"

TEXT_LENGTH = 128
"""``max_sequence_length`` of ``LTXPipeline`` and ``LTXImageToVideoPipeline`` (LTX-Video's T5 context)."""
PIXELS_PER_CELL = 32
FRAMES_PER_LATENT = 8
FRAME_RATE = 25
"""The pipelines' ``frame_rate`` default (Lightricks' examples save at 24: ``generation.fps: 24`` passes 24)."""

#: Every diffusers LTX-Video 0.9.x checkpoint and the pipeline class its ``model_index.json`` names.
CHECKPOINTS: dict[str, str] = {
    "Lightricks/LTX-Video": T2V_PIPELINE,  # 0.9.0
    "Lightricks/LTX-Video-0.9.1": T2V_PIPELINE,
    "Lightricks/LTX-Video-0.9.5": T2V_PIPELINE,
    "Lightricks/LTX-Video-0.9.7-dev": CONDITION_PIPELINE,  # 13B
    "Lightricks/LTX-Video-0.9.7-distilled": CONDITION_PIPELINE,
    "Lightricks/LTX-Video-0.9.8-13B-distilled": CONDITION_PIPELINE,
}
_ALL = tuple(CHECKPOINTS)


def _variant(name: str, pipeline_class: str, task: str, **facts: Any) -> Variant:
    """Every LTX attention is ``transformer_blocks.N.attn2``: cross-attention, batched guidance, 32 px, 8 frames."""
    return Variant(
        name, NAME, pipeline_class, task, ("transformer_blocks",), "attn2",
        pixels_per_cell=PIXELS_PER_CELL, temporal_factor=FRAMES_PER_LATENT, guidance="batched",
        batch_passes=("uncond", "cond"), checkpoints=_ALL, **facts,
    )  # fmt: skip


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant("ltx-video-t2v", T2V_PIPELINE, "t2v"),
        _variant("ltx-video-i2v", I2V_PIPELINE, "i2v", conditioning="first_frame", expand_timesteps=True),
        _variant("ltx-video-condition", CONDITION_PIPELINE, "condition", expand_timesteps=True),
    )
}
"""Every supported variant by name. Every checkpoint runs every task (the components are the same)."""

UNSUPPORTED = {
    "LTXLatentUpsamplePipeline": ("LTX's latent upsampler", "it runs no transformer: there is no attention"),
    "LTXI2VLongMultiPromptPipeline": (
        "LTX's long multi-prompt image-to-video",
        "its windows restart the denoising loop with other prompts",
    ),
}

TINY_MODELS = {
    "tiny-ltx": "ltx-video-t2v",
    "tiny-ltx-i2v": "ltx-video-i2v",
    "tiny-ltx-condition": "ltx-video-condition",
}
"""The offline random-weight models of :mod:`attention_visual.models.tiny_ltx` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title=TITLE,
    variants=VARIANTS,
    text=TextSide(max_sequence_length=TEXT_LENGTH, padding="masked"),
    size_multiple=PIXELS_PER_CELL,
    default_fps=FRAME_RATE,
    takes_flow_shift=False,
    fps_argument="frame_rate",
    default_checkpoint="Lightricks/LTX-Video",
    runtime="attention_visual.families.ltx.runtime",
    checkpoints="attention_visual.families.ltx.checkpoint:RULES",
    unsupported=UNSUPPORTED,
    tiny_models=TINY_MODELS,
    expert_names=(),
    block_counts={"transformer_blocks": "num_layers"},
)

__all__ = [
    "CHECKPOINTS",
    "CONDITION_PIPELINE",
    "FAMILY",
    "FRAMES_PER_LATENT",
    "FRAME_RATE",
    "I2V_PIPELINE",
    "NAME",
    "PIXELS_PER_CELL",
    "T2V_PIPELINE",
    "TEXT_LENGTH",
    "TINY_MODELS",
    "TITLE",
    "UNSUPPORTED",
    "VARIANTS",
]

"""The HunyuanVideo (1.0) family as data: its variants, its text side, its rules (no torch).

HunyuanVideo (Tencent; diffusers ``HunyuanVideoPipeline``, ``transformer_hunyuan_video.py``) differs from
Wan in how its text→video attention is computed (diffusers 0.42):

* **Joint attention, two streams.** 20 *dual-stream* blocks (``transformer_blocks.N.attn``): video queries
  and keys ``norm_q(to_q(video))``, ``norm_k(to_k(video))`` (per-head RMSNorms, ``[batch, token, head,
  head_dim]``) rotated by 3-D RoPE, text queries and keys ``norm_added_q/k(add_q/k_proj(text))`` without
  RoPE, one softmax over the keys ``[video, text]``. Then 40 *single-stream* blocks
  (``single_transformer_blocks.N.attn``): the sequence ``[video, text]`` goes through one set of weights
  (``norm_q(to_q(x))``, ``norm_k(to_k(x))``), RoPE on the video rows only, one softmax over ``[video,
  text]``. The two streams' text keys come from different weights (and the single-stream text keys have
  been through the dual-stream blocks), so their maps are kept apart: one capture records one module list
  (``block_list``), dual-stream by default.
* **Boolean key mask.** The transformer masks every key after the video and the prompt's valid tokens
  (``attention_mask`` ``[batch, 1, 1, video + text]``, True = attended): the padding keys get probability 0.
* **The prompt is a template string.** The pipeline fills :data:`PROMPT_TEMPLATE` with the prompt, tokenizes
  it with the Llama tokenizer (its BOS added), padded right to ``max_sequence_length + 95`` tokens, encodes it
  (the third-to-last hidden state) and cuts the first **95** tokens (BOS, the system header and message, the
  user header) off the hidden states and the mask (``crop_start``): the text keys are the prompt's tokens,
  ``<|eot_id|>`` and padding (256 by default). The CLIP text encoder gives only the pooled vector
  (the timestep embedding), no keys. The pipeline cleans nothing.
* **Guidance-distilled.** ``guidance_scale`` is an input of the model (the guidance embedding): one
  transformer call per step under ``cache_context("cond")``; only with ``true_cfg_scale > 1`` and a negative
  prompt a second call under ``cache_context("uncond")``. No step index (counted, checked against the
  scheduler).
* **Grid.** ``AutoencoderKLHunyuanVideo``: 8× spatial, 4× temporal (latent frame 0 is video frame 0 alone,
  ``4k+1`` frames, 129 by default); patch 1 × 2 × 2: 16 px per grid cell; 24 fps (the original repository's
  sampler writes 24 fps; diffusers' examples export 15).

================================  ===========================  ==============================  ==========
variant                           pipeline class               checkpoint                      streams
================================  ===========================  ==============================  ==========
``hunyuanvideo-t2v``              ``HunyuanVideoPipeline``     hunyuanvideo-community/         20 dual,
                                                               HunyuanVideo                    40 single
================================  ===========================  ==============================  ==========

Example:
    >>> FAMILY.text.template.cut, FAMILY.text.max_sequence_length, FAMILY.default_fps, FAMILY.frame_count_rule
    (95, 256, 24, '4k+1')
    >>> VARIANTS["hunyuanvideo-t2v"].for_block_list(SINGLE_STREAM).attention_kind
    'joint_single'
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import FormatTemplate, ModelFamily, TextSide, Variant

NAME = "hunyuanvideo"

T2V_PIPELINE = "HunyuanVideoPipeline"

DUAL_STREAM = "transformer_blocks"
"""The dual-stream blocks (separate video and text weights): the default ``block_list``."""
SINGLE_STREAM = "single_transformer_blocks"
"""The single-stream blocks (one set of weights over ``[video, text]``)."""
ATTENTION = "attn"
"""Every block's joint attention (``<block list>.N.attn``)."""

PROMPT_TEMPLATE = FormatTemplate(
    "<|start_header_id|>system<|end_header_id|>\n\nDescribe the video by detailing the following aspects: "
    "1. The main content and theme of the video."
    "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects."
    "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects."
    "4. background environment, light, style and atmosphere."
    "5. camera angles, movements, and transitions used in the video:<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>",
    cut=95,
)
"""The text-to-video pipeline's ``DEFAULT_PROMPT_TEMPLATE``: the template string and its ``crop_start`` (95: BOS,
then the template before ``{}`` is 94 Llama-3 tokens)."""
TEXT_LENGTH = 256
"""Llama text keys after the cut: the pipelines' default ``max_sequence_length``."""

VAE_SPATIAL_FACTOR = 8
"""Video pixels per latent pixel (``AutoencoderKLHunyuanVideo``); the transformer's patch is 2 × 2."""
FPS = 24
"""The frame rate of the published model's videos (the original ``sample_video.py`` writes 24 fps)."""


def _variant(name: str, pipeline_class: str, task: str, **facts: Any) -> Variant:
    """Both streams' ``attn`` are joint; guidance-distilled passes named by ``cache_context``, steps counted."""
    return Variant(
        name, NAME, pipeline_class, task, (DUAL_STREAM, SINGLE_STREAM), ATTENTION,
        attention_kind="joint_dual", stream_kinds=((SINGLE_STREAM, "joint_single"),), guidance="distilled",
        step_source="counted", pass_source="cache_context", **facts,
    )  # fmt: skip


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (_variant("hunyuanvideo-t2v", T2V_PIPELINE, "t2v", checkpoints=("hunyuanvideo-community/HunyuanVideo",)),)
}
"""Every supported variant by name, with the published checkpoints' facts."""

UNSUPPORTED = {
    "HunyuanVideoImageToVideoPipeline": (
        "HunyuanVideo image-to-video",
        "its LLaVA text encoder expands an <image> placeholder into 576 image tokens and puts every 4th (or 2nd) "
        "of them in front of the prompt's keys; the capture does not follow that layout yet",
    ),
    "HunyuanSkyreelsImageToVideoPipeline": (
        "SkyReels-V1 image-to-video",
        "its prompt and negative-prompt passes run without a cache context and the pipeline does not say "
        "whether the second one runs, so the passes cannot be told apart",
    ),
    "HunyuanVideoFramepackPipeline": (
        "HunyuanVideo FramePack",
        "it denoises a video section by section, each section a denoising loop of its own over a window of "
        "latent frames with history tokens prepended, which one map per step of one video does not describe",
    ),
}

TINY_MODELS = {"tiny-hunyuan": "hunyuanvideo-t2v"}
"""The offline random-weight models of :mod:`attention_visual.models.tiny_hunyuan` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title="HunyuanVideo",
    variants=VARIANTS,
    text=TextSide(max_sequence_length=TEXT_LENGTH, padding="masked", template=PROMPT_TEMPLATE),
    size_multiple=VAE_SPATIAL_FACTOR * 2,
    default_fps=FPS,
    default_checkpoint="hunyuanvideo-community/HunyuanVideo",
    runtime="attention_visual.families.hunyuan10.runtime",
    checkpoints="attention_visual.families.hunyuan10.checkpoint:RULES",
    unsupported=UNSUPPORTED,
    tiny_models=TINY_MODELS,
    block_counts={DUAL_STREAM: "num_layers", SINGLE_STREAM: "num_single_layers"},
    takes_flow_shift=True,
)

__all__ = [
    "ATTENTION",
    "DUAL_STREAM",
    "FAMILY",
    "FPS",
    "NAME",
    "PROMPT_TEMPLATE",
    "SINGLE_STREAM",
    "T2V_PIPELINE",
    "TEXT_LENGTH",
    "VAE_SPATIAL_FACTOR",
    "VARIANTS",
]

"""The HunyuanVideo-1.5 family as data: its two pipeline variants, its text side, its rules (no torch).

HunyuanVideo-1.5 (Tencent; diffusers ``HunyuanVideo15Pipeline``, ``HunyuanVideo15ImageToVideoPipeline``)
differs from Wan in how its text→video attention is computed (diffusers 0.42,
``transformer_hunyuan_video15.py``):

* **Joint attention in every block.** 54 dual-stream blocks (``transformer_blocks.N.attn``,
  ``HunyuanVideo15AttnProcessor2_0``): video queries and keys ``norm_q(to_q(video))``,
  ``norm_k(to_k(video))`` (per-head RMSNorms, ``[batch, token, head, head_dim]``), rotated by 3-D RoPE;
  context queries and keys ``norm_added_q/k(add_q/k_proj(context))`` without RoPE; one softmax over
  ``[video, context]`` keys with a **boolean key mask** (a masked key gets probability 0).
* **The context is three encodings, valid tokens first.** Per batch item the transformer concatenates
  ``[valid image tokens, valid byT5 glyph tokens, valid Qwen2.5-VL prompt tokens, invalid image tokens,
  invalid byT5 tokens (zeroed), invalid Qwen tokens (zeroed)]`` and the mask the same way. Text-to-video
  passes all-zero image embeddings, whose 729 tokens are then all masked; image-to-video's SigLIP tokens
  are all valid. The byT5 tokens encode the prompt's quoted text (``"..."``/``“...”``; none: 256 masked
  zero rows). So a video query's keys are ``[video | image | glyph | text | masked]``, and the prompt's
  token ``i`` (counted after the template cut) is key ``video + valid image + valid glyph + i``.
* **The prompt is a chat.** The pipeline renders ``[system message, user: prompt]`` with Qwen2.5-VL's chat
  template (with the assistant header), pads it right to 1000 + 108 tokens, encodes it and cuts the first
  108 tokens (``<|im_start|>system\\n…<|im_end|>\\n<|im_start|>user\\n``) off the hidden states: the text
  keys are the prompt's tokens, the template's tail ``<|im_end|>\\n<|im_start|>assistant\\n`` and padding.
  The pipeline cleans nothing.
* **Guidance through the pipeline's guider** (``ClassifierFreeGuidance``): one transformer call per pass
  under ``cache_context("pred_cond")`` then ``cache_context("pred_uncond")``, no step index (counted, and
  checked against the scheduler: the guider's own step). ``guidance_scale`` is the guider's, not a call
  argument; at 1 (the distilled checkpoints) only ``pred_cond`` runs.
* **Grid.** VAE 16× spatial, 4× temporal (latent frame 0 = video frame 0 alone), patch 1 × 1 × 1: 16 px
  per grid cell, ``4k+1`` frames (121 by default), 24 fps. Image-to-video concatenates the image latent
  (and a mask) on the channels of frame 0: no conditioning frame in the map. It makes only the sizes of its
  resolution buckets (``target_size`` 640 for 480p, 960 for 720p: :func:`resolution_buckets`).

Example:
    >>> FAMILY.text.template.cut, FAMILY.text.max_sequence_length, FAMILY.default_fps
    (108, 1000, 24)
    >>> (32, 48) in resolution_buckets(48)
    True
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import ModelFamily, PromptTemplate, TextSide, Variant

NAME = "hunyuan15"

T2V_PIPELINE = "HunyuanVideo15Pipeline"
I2V_PIPELINE = "HunyuanVideo15ImageToVideoPipeline"

SYSTEM_MESSAGE = (
    "You are a helpful assistant. Describe the video by detailing the following aspects:         "
    "1. The main content and theme of the video.         "
    "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects.         "
    "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects.         "
    "4. background environment, light, style and atmosphere.         "
    "5. camera angles, movements, and transitions used in the video."
)
"""The pipelines' system message (``pipe.system_message``), runs of nine spaces included: the template cut
counts its tokens."""
TEMPLATE_CUT = 108
"""Qwen2.5-VL tokens of the chat before the prompt (``pipe.prompt_template_encode_start_idx``)."""
TEXT_LENGTH = 1000
"""Qwen2.5-VL text keys after the cut (``pipe.tokenizer_max_length``; not a call argument)."""

VAE_SPATIAL_FACTOR = 16
"""Video pixels per latent pixel (``AutoencoderKLHunyuanVideo15``; the transformer's patch is 1)."""
FPS = 24
"""The frame rate of the published pipelines' videos (the original ``generate.py`` writes 24 fps)."""
PASS_NAMES = (("pred_cond", "cond"), ("pred_uncond", "uncond"))
"""How the guider names the guidance passes (its ``cache_context``), as the capture's passes."""


def resolution_buckets(
    target_size: int, step: int = VAE_SPATIAL_FACTOR, max_ratio: float = 4.0
) -> tuple[tuple[int, int], ...]:
    """``(height, width)`` of every resolution bucket of ``target_size`` (diffusers' ``generate_crop_size_list``).

    Image-to-video makes the bucket whose aspect ratio is nearest the input image's; a bucket's own size is
    made exactly.

    Example:
        >>> resolution_buckets(32)
        ((64, 16), (48, 16), (32, 16), (32, 32), (16, 32), (16, 48), (16, 64))
    """
    cells = round((target_size / step) ** 2)
    out = []
    rows, cols = cells, 1
    while rows > 0:
        if max(rows, cols) / min(rows, cols) <= max_ratio:
            out.append((rows * step, cols * step))
        if (cols + 1) * rows <= cells:
            cols += 1
        else:
            rows -= 1
    return tuple(out)


def _variant(name: str, pipeline_class: str, task: str, **facts: Any) -> Variant:
    """Every HunyuanVideo-1.5 attention is ``transformer_blocks.N.attn``: joint, separate guider passes."""
    return Variant(
        name, NAME, pipeline_class, task, ("transformer_blocks",), "attn",
        pixels_per_cell=VAE_SPATIAL_FACTOR, text_length=TEXT_LENGTH, attention_kind="joint_dual",
        guidance="separate", step_source="counted", pass_source="cache_context", pass_names=PASS_NAMES, **facts,
    )  # fmt: skip


_HUB = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-"

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant(
            "hunyuanvideo1.5-t2v", T2V_PIPELINE, "t2v", key_groups=("glyph",),
            checkpoints=(f"{_HUB}480p_t2v", f"{_HUB}720p_t2v"),
        ),
        _variant(
            "hunyuanvideo1.5-i2v", I2V_PIPELINE, "i2v", key_groups=("image", "glyph"),
            checkpoints=(f"{_HUB}480p_i2v", f"{_HUB}720p_i2v"),
        ),
    )
}  # fmt: skip
"""Every supported variant by name (an image-to-video checkpoint's ``frame_sizes`` come from its
``target_size``: :func:`~attention_visual.families.hunyuan15.checkpoint.variant_for`)."""

TINY_MODELS = {"tiny-hunyuan15": "hunyuanvideo1.5-t2v", "tiny-hunyuan15-i2v": "hunyuanvideo1.5-i2v"}
"""The offline random-weight models of :mod:`attention_visual.models.tiny_hunyuan15` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title="HunyuanVideo-1.5",
    variants=VARIANTS,
    text=TextSide(
        max_sequence_length=TEXT_LENGTH,
        max_sequence_limit=TEXT_LENGTH,
        padding="masked",
        template=PromptTemplate(SYSTEM_MESSAGE, TEMPLATE_CUT),
    ),
    size_multiple=VAE_SPATIAL_FACTOR,
    default_fps=FPS,
    default_checkpoint=f"{_HUB}480p_t2v",
    runtime="attention_visual.families.hunyuan15.runtime",
    checkpoints="attention_visual.families.hunyuan15.checkpoint",
    tiny_models=TINY_MODELS,
    block_counts={"transformer_blocks": "num_layers"},
)

__all__ = [
    "FAMILY",
    "FPS",
    "I2V_PIPELINE",
    "NAME",
    "PASS_NAMES",
    "SYSTEM_MESSAGE",
    "T2V_PIPELINE",
    "TEMPLATE_CUT",
    "TEXT_LENGTH",
    "VAE_SPATIAL_FACTOR",
    "VARIANTS",
    "resolution_buckets",
]

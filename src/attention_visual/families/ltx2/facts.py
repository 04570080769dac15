"""The LTX-2 family as data: its pipelines, their facts, its checkpoints (no torch).

==============  ===========================  =========  ============  =========================================
variant         pipeline class               task       conditioning  what the transformer gets
==============  ===========================  =========  ============  =========================================
ltx2-t2v        LTX2Pipeline                 t2v        none          the latent grid (``num_frames``,
                                                                      ``height``, ``width``), ``video_coords``
ltx2-i2v        LTX2ImageToVideoPipeline     i2v        first_frame   as t2v; per-token timesteps
                                                                      ``t · (1 − mask)``: 0 on latent frame 0,
                                                                      the image
ltx2-condition  LTX2ConditionPipeline        condition  none          as i2v where the prompt has an ``image``
                                                                      or ``video``: one condition at latent
                                                                      index 0 (strength 1) overwrites the
                                                                      first frames' tokens in place;
                                                                      conditions at index > 0 would be
                                                                      appended as keyframe tokens after the
                                                                      grid's (left out of the maps)
==============  ===========================  =========  ============  =========================================

Image-to-video re-compresses the image with H.264 (CRF 33, as in training) through PyAV unless the call
passes ``image_crf=0``: the batch calls it as Lightricks do, so ``av`` is a requirement (``requires``). The
condition pipeline does the same to a one-frame condition (an ``image``; a ``video`` is not re-compressed), so
it needs ``av`` only for a prompt with an image (``requires_for``).

What every LTX-2 model (LTX-2, LTX-2.3) shares (diffusers 0.42: ``transformer_ltx2.py``,
``pipelines/ltx2/pipeline_ltx2*.py``, ``connectors.py``):

* **Attention.** Each of ``transformer_blocks.N`` has a cross-attention ``attn2`` (video queries, text keys;
  the audio stream has its own ``audio_attn2``, not captured): ``LTX2AudioVideoAttnProcessor`` (or, in
  LTX-2.3, ``LTX2PerturbedAttnProcessor``, which perturbs only the self-attention) computes
  ``q = norm_q(to_q(x))``, ``k = norm_k(to_k(text))`` with RMS norms across all heads, then
  ``softmax(q kᵀ/√d + bias)``. **No RoPE**: the block calls ``attn2`` with ``query_rotary_emb=None``.
  LTX-2.3's gated attention scales the output per head after the softmax, and its ``cross_attn_mod``
  modulates ``x`` and ``text`` before the projections: the hooks on ``norm_q``/``norm_k`` see the result.
* **Text.** Gemma-3 (``Gemma3ForConditionalGeneration``) with its tokenizer, which the pipeline sets to pad
  on the **left** (``padding="max_length"``, ``max_sequence_length`` 1024 by default, ``<bos>`` first); the
  prompt is stripped. Every hidden state of the encoder (embeddings + 48 layers) goes to the text
  connectors (``LTX2TextConnectors``), whose video connector **moves the real tokens to the front**, in
  their order, and fills the keys behind them with 128 **learned registers** repeated over the length
  (so ``max_sequence_length`` must be a multiple of 128), then runs two (LTX-2.3: eight) self-attention
  layers over all of them. Its mask comes back all ones, so the transformer's key bias
  ``(1 − mask) · −10000`` is 0 everywhere: **every key is attended to**, the registers too. Key column
  ``j < n`` holds the prompt's ``j``-th real token (``n`` = real tokens, ``<bos>`` included); columns
  ``n …`` are registers.
* **Guidance.** Batched: with classifier-free guidance (``guidance_scale > 1`` or
  ``audio_guidance_scale > 1``) one transformer call per step on ``[uncond, cond]`` under
  ``cache_context("cond_uncond")``. Spatio-temporal guidance (``stg_scale > 0``) and modality-isolation
  guidance (``modality_scale > 1``, both on by default) add one call each per step on the prompt alone,
  under ``cache_context("uncond_stg")`` and ``("uncond_modality")``: perturbed passes that are no guidance
  pass of the prompt or the negative prompt: they are **ignored** (``ignored_passes``), neither recorded nor
  counted. No step index in the context: the capture counts steps and checks each call's timestep.
* **Grid.** Latents are packed ``[batch, frame · y · x, channel]`` (patch 1 × 1 × 1), frame-major; the VAE
  compresses 32× in space and 8× in time with a causal first frame: a token is 32 × 32 pixels and
  ``8k + 1`` video frames make ``k + 1`` latent frames. Height and width must be multiples of 32
  (``check_inputs``); another frame count would silently be rounded down, so it is refused.
* **fps.** ``frame_rate`` (default 24) sets the audio's length and the RoPE of time; the batch passes
  ``generation.fps``.

Example:
    >>> FAMILY.frame_count_rule, FAMILY.size_multiple, FAMILY.default_fps, FAMILY.text.max_sequence_length
    ('8k+1', 32, 24, 1024)
"""

from __future__ import annotations

from typing import Any

from attention_visual.families.spec import Cleaning, ModelFamily, TextSide, Variant

NAME = "ltx2"
TITLE = "LTX-2"

T2V_PIPELINE = "LTX2Pipeline"
I2V_PIPELINE = "LTX2ImageToVideoPipeline"
CONDITION_PIPELINE = "LTX2ConditionPipeline"

TEXT_LENGTH = 1024
"""``max_sequence_length`` of the LTX-2 pipelines (Gemma-3 tokens, left-padded)."""
REGISTERS = 128
"""Learned registers of the text connector of every LTX-2 checkpoint; the text length is a multiple of it."""
PIXELS_PER_CELL = 32
FRAMES_PER_LATENT = 8
FRAME_RATE = 24
EXTRA_PASSES = ("uncond_stg", "uncond_modality")
"""The cache contexts of the perturbed guidance calls (spatio-temporal, modality isolation): ignored."""

#: The diffusers LTX-2 checkpoints and the pipeline class their ``model_index.json`` names.
CHECKPOINTS: dict[str, str] = {
    "Lightricks/LTX-2": T2V_PIPELINE,  # LTX-2 (19B)
    "diffusers/LTX-2.3-Diffusers": T2V_PIPELINE,  # LTX-2.3 (22B)
}
_ALL = tuple(CHECKPOINTS)


def _variant(name: str, pipeline_class: str, task: str, **facts: Any) -> Variant:
    """Every LTX-2 attention is ``transformer_blocks.N.attn2``: cross-attention, batched guidance, 32 px, 8 frames."""
    return Variant(
        name, NAME, pipeline_class, task, ("transformer_blocks",), "attn2",
        pixels_per_cell=PIXELS_PER_CELL, temporal_factor=FRAMES_PER_LATENT, guidance="batched",
        batch_passes=("uncond", "cond"), ignored_passes=EXTRA_PASSES, checkpoints=_ALL, **facts,
    )  # fmt: skip


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant("ltx2-t2v", T2V_PIPELINE, "t2v"),
        _variant("ltx2-i2v", I2V_PIPELINE, "i2v", conditioning="first_frame", expand_timesteps=True, requires=("av",)),
        _variant(
            "ltx2-condition",
            CONDITION_PIPELINE,
            "condition",
            expand_timesteps=True,
            requires=("av",),
            requires_for=("image",),
        ),
    )
}
"""Every supported variant by name. Every checkpoint runs every task (the components are the same)."""

_OTHER_MODEL = "it runs another model (a latent upsampler or a video decoder): there is no text attention"
_APPENDED = "it appends reference or keyframe tokens to the video's, which the capture does not place in the grid yet"
UNSUPPORTED = {
    "LTX2InContextPipeline": ("LTX-2's IC-LoRA pipeline", _APPENDED),
    "LTX2HDRPipeline": ("LTX-2's HDR pipeline", _APPENDED),
    "LTX2DFRPipeline": ("LTX-2.5's DFR pipeline", _APPENDED),
    "LTX2DFRTemporalRefinePipeline": ("LTX-2.5's DFR temporal refine", _APPENDED),
    "LTX2LatentUpsamplePipeline": ("LTX-2's latent upsampler", _OTHER_MODEL),
    "LTX2VideoDiffusionDecodePipeline": ("LTX-2.5's diffusion decoder", _OTHER_MODEL),
}

TINY_MODELS = {
    "tiny-ltx2": "ltx2-t2v",
    "tiny-ltx2-i2v": "ltx2-i2v",
    "tiny-ltx2-condition": "ltx2-condition",
}
"""The offline random-weight models of :mod:`attention_visual.models.tiny_ltx2` and the variant each realises."""

FAMILY = ModelFamily(
    name=NAME,
    title=TITLE,
    variants=VARIANTS,
    text=TextSide(
        cleaning=Cleaning(fix=str.strip),
        max_sequence_length=TEXT_LENGTH,
        sequence_multiple=REGISTERS,
        padding="attended",
        padding_side="left",
        key_order="real_first",
    ),
    size_multiple=PIXELS_PER_CELL,
    default_fps=FRAME_RATE,
    takes_flow_shift=False,
    fps_argument="frame_rate",
    default_checkpoint="Lightricks/LTX-2",
    runtime="attention_visual.families.ltx2.runtime",
    checkpoints="attention_visual.families.ltx2.checkpoint:RULES",
    unsupported=UNSUPPORTED,
    tiny_models=TINY_MODELS,
    expert_names=(),
    block_counts={"transformer_blocks": "num_layers"},
)

__all__ = [
    "CHECKPOINTS",
    "CONDITION_PIPELINE",
    "EXTRA_PASSES",
    "FAMILY",
    "FRAMES_PER_LATENT",
    "FRAME_RATE",
    "I2V_PIPELINE",
    "NAME",
    "PIXELS_PER_CELL",
    "REGISTERS",
    "T2V_PIPELINE",
    "TEXT_LENGTH",
    "TINY_MODELS",
    "TITLE",
    "UNSUPPORTED",
    "VARIANTS",
]

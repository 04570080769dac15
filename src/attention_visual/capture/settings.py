"""What a capture records: :class:`CaptureSettings`, validated once, recorded in every map's metadata.

The default meaning of a map (the one place it is defined):

    For each denoising step and marked word: the model's own softmax probability over the prompt's
    ``max_sequence_length`` text keys (padding treated exactly as the model treats it), **summed over
    the word's tokens**, **averaged over heads and over every captured block's text→video
    attention** (named ``<list>.N.<module>``, e.g. ``blocks.N.attn2``), from the **conditional
    (prompt) pass only**, laid out as the model's patch embedding flattens the video tokens:
    ``[frame, y, x]`` = latent frames × height/px × width/px (px: the model's pixels per token).
    Under joint attention (text and video keys in one softmax) the probability is renormalised over
    the text keys (``joint_attention: text``), so the map means what a cross-attention map means.

Every field below changes one part of that sentence; what differs per model family is in
``docs/families.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attention_visual.config import limits
from attention_visual.config.limits import (
    BLOCK_LISTS,
    GLYPH_WORD,
    GUIDANCE_PASSES,
    IMAGE_WORD,
    JOINT_ATTENTION_MODES,
    PADDING_MODES,
    STORAGE_DTYPES,
    TEXT_WORD,
    TOKEN_REDUCTIONS,
    check_block_names,
)
from attention_visual.config.validation import checked as _check
from attention_visual.config.validation import integer, validate_fields
from attention_visual.errors import CaptureError, ConfigError
from attention_visual.storage.schema.metadata import PASS_NAMES


@dataclass(frozen=True)
class CaptureSettings:
    """Options of :class:`~attention_visual.capture.AttentionCapture`.

    Attributes:
        guidance_pass: ``"cond"`` (the prompt pass, default), ``"uncond"`` (the negative-prompt
            pass, at the marked words' token positions) or ``"both"`` (a leading ``pass`` axis).
        padding: ``"include"``: softmax over all text keys as the model computes it;
            ``"exclude"``: renormalised over the real prompt tokens (e.g. Wan pads to 512 with identical
            rows that act as one attention sink).
        token_reduction: how a word's tokens are combined: ``"sum"`` | ``"mean"`` | ``"max"``.
        blocks: block indices (or names like ``"blocks.7.attn2"``) to capture (``None`` = all); the
            average runs over these.
        steps: denoising step indices to select (``None`` = all).
        storage_interval: keep every n-th of the steps selected by ``steps``, starting with the
            first (``steps=(1, 3, 5), storage_interval=2`` records steps 1 and 5).
        store_per_head: keep a ``head`` axis instead of averaging heads.
        store_per_block: keep a ``block`` axis instead of averaging blocks.
        spatial_downsample_factor: average-pool ``y`` and ``x`` by this factor (must divide the grid).
        storage_dtype: ``"float32"`` or ``"float16"`` for the host copies and the files.
        query_chunk_size: video tokens per chunk of the logit computation (bounds extra memory).
        block_list: which module list's attention: ``None`` (the model's main stream, default:
            ``blocks`` on Wan) or another list the model has (VACE: ``"vace_blocks"``, the control stream;
            names ``vace_blocks.N.attn2``).
        image_map: also record the pseudo-word ``<image>`` (models with an image branch, e.g. Wan
            I2V/FLF2V: per video token the image branch's share ‖o_img‖ / (‖o_img‖ + ‖o_txt‖) of the
            cross-attention output; models with image keys in the joint softmax, HunyuanVideo-1.5 I2V: the
            fraction of each video query's attention that goes to the image tokens).
        joint_attention: under joint attention (text and video keys in one softmax): ``"text"`` (default)
            the word's share of the attention that goes to the text keys; ``"full"`` its share of the
            whole softmax. ``"full"`` on a cross-attention model is an error.
        text_share_map: also record the pseudo-word ``<text>`` (joint attention only): per video query
            the fraction of its attention that goes to the prompt's text keys.
        glyph_map: also record the pseudo-word ``<glyph>`` (models with glyph keys: HunyuanVideo-1.5): per
            video query the fraction of its attention that goes to the byT5 tokens of the quoted text.
    """

    guidance_pass: str = field(default="cond", metadata=_check(limits.GUIDANCE_PASS))
    padding: str = field(default="include", metadata=_check(limits.PADDING))
    token_reduction: str = field(default="sum", metadata=_check(limits.TOKEN_REDUCTION))
    blocks: tuple[int, ...] | None = field(default=None, metadata=_check(limits.BLOCKS))
    steps: tuple[int, ...] | None = field(default=None, metadata=_check(limits.STEPS))
    storage_interval: int = field(default=1, metadata=_check(limits.STORAGE_INTERVAL))
    store_per_head: bool = field(default=False, metadata=_check(limits.FLAG))
    store_per_block: bool = field(default=False, metadata=_check(limits.FLAG))
    spatial_downsample_factor: int = field(default=1, metadata=_check(limits.SPATIAL_DOWNSAMPLE_FACTOR))
    storage_dtype: str = field(default="float32", metadata=_check(limits.STORAGE_DTYPE))
    query_chunk_size: int = field(default=4096, metadata=_check(integer(min_value=1)))
    block_list: str | None = field(default=None, metadata=_check(limits.BLOCK_LIST))
    image_map: bool = field(default=False, metadata=_check(limits.FLAG))
    joint_attention: str = field(default="text", metadata=_check(limits.JOINT_ATTENTION))
    text_share_map: bool = field(default=False, metadata=_check(limits.FLAG))
    glyph_map: bool = field(default=False, metadata=_check(limits.FLAG))

    def __post_init__(self) -> None:
        # The config's own checks (attention_visual.config.limits), so both accept the same values.
        try:
            check_block_names("CaptureSettings", self.blocks, self.block_list)
        except ConfigError as exc:
            raise CaptureError(str(exc)) from exc
        validate_fields(self, "CaptureSettings", CaptureError)

    @property
    def pseudo_words(self) -> tuple[str, ...]:
        """The pseudo-words recorded after the marked words, in map order: ``<text>``, ``<image>``, ``<glyph>``."""
        return limits.pseudo_words(
            text_share_map=self.text_share_map, image_map=self.image_map, glyph_map=self.glyph_map
        )

    @property
    def passes(self) -> tuple[str, ...]:
        """The guidance passes captured, in storage order."""
        return PASS_NAMES if self.guidance_pass == "both" else (self.guidance_pass,)

    def captures_step(self, step_index: int) -> bool:
        """Whether denoising step ``step_index`` is recorded: one of every ``storage_interval``-th selected step.

        Example:
            >>> settings = CaptureSettings(steps=(1, 3, 5), storage_interval=2)
            >>> [s for s in range(6) if settings.captures_step(s)]
            [1, 5]
        """
        return limits.is_captured(step_index, self.steps, self.storage_interval)

    def captured_steps(self, num_steps: int) -> tuple[int, ...]:
        """The steps recorded in a run of ``num_steps`` denoising steps (empty: nothing is captured).

        Example:
            >>> CaptureSettings(storage_interval=2).captured_steps(5)
            (0, 2, 4)
        """
        return limits.captured_steps(self.steps, self.storage_interval, num_steps)


__all__ = [
    "BLOCK_LISTS",
    "GLYPH_WORD",
    "GUIDANCE_PASSES",
    "IMAGE_WORD",
    "JOINT_ATTENTION_MODES",
    "PADDING_MODES",
    "STORAGE_DTYPES",
    "TEXT_WORD",
    "TOKEN_REDUCTIONS",
    "CaptureSettings",
]

"""What a capture records: :class:`CaptureSettings`, validated once, recorded in every map's metadata.

The default meaning of a map (the one place it is defined):

    For each denoising step and marked word: the model's own softmax probability over all
    ``max_sequence_length`` text keys (padding included, exactly as Wan computes it),
    **summed over the word's tokens**, **averaged over heads and over every block's
    cross-attention** (``blocks.N.attn2``), from the **conditional (prompt) pass only**, laid
    out as Wan's patch embedding flattens the video tokens: ``[frame, y, x]`` = latent frames
    × height/16 × width/16.

Every field below changes one part of that sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from attention_visual.errors import CaptureError

GUIDANCE_PASSES = ("cond", "uncond", "both")
PADDING_MODES = ("include", "exclude")
TOKEN_REDUCTIONS = ("sum", "mean", "max")
STORAGE_DTYPES = ("float32", "float16")
BLOCK_LISTS = ("blocks", "vace_blocks")
IMAGE_WORD = "<image>"
"""The pseudo-word of the I2V/FLF2V image-branch share map (see :mod:`.image_share`)."""


@dataclass(frozen=True)
class CaptureSettings:
    """Options of :class:`~attention_visual.capture.AttentionCapture`.

    Attributes:
        guidance_pass: ``"cond"`` (the prompt pass, default), ``"uncond"`` (the negative-prompt
            pass, at the marked words' token positions) or ``"both"`` (a leading ``pass`` axis).
        padding: ``"include"``: softmax over all text keys as the model computes it;
            ``"exclude"``: renormalised over the real prompt tokens (Wan pads to 512 with identical
            rows that act as one attention sink).
        token_reduction: how a word's tokens are combined: ``"sum"`` | ``"mean"`` | ``"max"``.
        blocks: block indices to capture (``None`` = all); the average runs over these.
        steps: denoising step indices to capture (``None`` = all).
        storage_interval: capture every n-th step (combined with ``steps``).
        store_per_head: keep a ``head`` axis instead of averaging heads.
        store_per_block: keep a ``block`` axis instead of averaging blocks.
        spatial_downsample_factor: average-pool ``y`` and ``x`` by this factor (must divide the grid).
        storage_dtype: ``"float32"`` or ``"float16"`` for the host copies and the files.
        query_chunk_size: video tokens per chunk of the logit computation (bounds extra memory).
        block_list: which ``attn2`` modules: ``"blocks"`` (the main stream, default) or, on VACE,
            ``"vace_blocks"`` (the control stream; names ``vace_blocks.N.attn2``).
        image_map: also record the pseudo-word ``<image>`` (I2V/FLF2V only): per video token the image
            branch's share ‖o_img‖ / (‖o_img‖ + ‖o_txt‖) of the cross-attention output.
    """

    guidance_pass: str = "cond"
    padding: str = "include"
    token_reduction: str = "sum"
    blocks: tuple[int, ...] | None = None
    steps: tuple[int, ...] | None = None
    storage_interval: int = 1
    store_per_head: bool = False
    store_per_block: bool = False
    spatial_downsample_factor: int = 1
    storage_dtype: str = "float32"
    query_chunk_size: int = 4096
    block_list: str = "blocks"
    image_map: bool = False

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("guidance_pass", self.guidance_pass, GUIDANCE_PASSES),
            ("padding", self.padding, PADDING_MODES),
            ("token_reduction", self.token_reduction, TOKEN_REDUCTIONS),
            ("storage_dtype", self.storage_dtype, STORAGE_DTYPES),
            ("block_list", self.block_list, BLOCK_LISTS),
        ):
            if value not in choices:
                raise CaptureError(f"CaptureSettings.{name} must be one of {', '.join(choices)}; got {value!r}")
        for name, num in (
            ("storage_interval", self.storage_interval),
            ("spatial_downsample_factor", self.spatial_downsample_factor),
            ("query_chunk_size", self.query_chunk_size),
        ):
            if isinstance(num, bool) or not isinstance(num, int) or num < 1:
                raise CaptureError(f"CaptureSettings.{name} must be an integer >= 1; got {num!r}")
        if not isinstance(self.image_map, bool):
            raise CaptureError(f"CaptureSettings.image_map must be true or false; got {self.image_map!r}")
        for name, seq in (("blocks", self.blocks), ("steps", self.steps)):
            if seq is not None:
                if not seq or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in seq):
                    raise CaptureError(
                        f"CaptureSettings.{name} must be None or a non-empty list of integers >= 0; got {seq!r}"
                    )
                object.__setattr__(self, name, tuple(sorted(set(seq))))

    @property
    def passes(self) -> tuple[str, ...]:
        """The guidance passes captured, in storage order."""
        return ("cond", "uncond") if self.guidance_pass == "both" else (self.guidance_pass,)

    def captures_step(self, step_index: int) -> bool:
        """Whether denoising step ``step_index`` is recorded."""
        if step_index % self.storage_interval:
            return False
        return self.steps is None or step_index in self.steps


__all__ = [
    "BLOCK_LISTS",
    "GUIDANCE_PASSES",
    "IMAGE_WORD",
    "PADDING_MODES",
    "STORAGE_DTYPES",
    "TOKEN_REDUCTIONS",
    "CaptureSettings",
]

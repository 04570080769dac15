"""`AttentionCapture`: record the marked words' cross-attention of one Wan generation.

Example:
    >>> from attention_visual.capture import AttentionCapture, CaptureSettings
    >>> with AttentionCapture(pipe, "A romantic (kiss) with (flowers)") as capture:  # doctest: +SKIP
    ...     out = pipe(prompt=capture.prompt, num_inference_steps=50, generator=gen)
    >>> maps = capture.word_maps()   # {"kiss": [step, frame, y, x], "flowers": ...}  # doctest: +SKIP
    >>> maps.plot("kiss", step=0)    # a matplotlib Figure, inline in Jupyter              # doctest: +SKIP
    >>> capture.save("out/attention_maps", video_id="prompt_001_vid_001")          # doctest: +SKIP

See :mod:`attention_visual.capture.settings` for exactly what a map holds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from diffusers.pipelines.wan.pipeline_wan import prompt_clean

from attention_visual.capture.attention_math import WordColumns
from attention_visual.capture.hooks import CaptureHooks
from attention_visual.capture.locator import block_name, locate_cross_attention
from attention_visual.capture.maps_io import records_to_word_maps, save_word_maps, word_metadata
from attention_visual.capture.recorder import CaptureRecorder, StepRecord
from attention_visual.capture.settings import CaptureSettings
from attention_visual.capture.word_maps import CapturedMaps
from attention_visual.errors import CaptureError
from attention_visual.prompts import MarkedPrompt, TokenizedPrompt, parse_prompt, tokenize_marked
from attention_visual.storage import VideoDimensions

log = logging.getLogger(__name__)


class AttentionCapture:
    """Context manager that records word-level cross-attention maps of one pipeline call.

    Entering installs the hooks; leaving removes them and restores the pipeline exactly (also
    when the generation raised). A capture records one generation: enter it once, call the
    pipeline once with ``prompt=capture.prompt`` and one video per call.

    Args:
        pipe: a diffusers ``WanPipeline`` (text-to-video).
        prompt: the marked prompt (``"a (red car) on a road"``) or a parsed :class:`MarkedPrompt`.
        settings: what to record (:class:`CaptureSettings`).
        max_sequence_length: must equal the pipeline call's ``max_sequence_length`` (Wan: 512).

    Raises:
        PromptError: the prompt is malformed or a marked word is cut off by truncation.
        CaptureError: the pipeline is not a Wan text-to-video pipeline, or a setting does not fit it.
    """

    def __init__(
        self,
        pipe: Any,
        prompt: str | MarkedPrompt,
        settings: CaptureSettings | None = None,
        max_sequence_length: int = 512,
    ) -> None:
        self.pipe = pipe
        self.settings = settings or CaptureSettings()
        self.marked = prompt if isinstance(prompt, MarkedPrompt) else parse_prompt(prompt)
        if prompt_clean(self.marked.clean) != self.marked.clean:
            raise CaptureError(
                f"the cleaned prompt {self.marked.clean!r} changes when WanPipeline cleans it again; "
                "simplify its HTML entities"
            )
        transformer = getattr(pipe, "transformer", None)
        if transformer is None or getattr(pipe, "transformer_2", None) is not None:
            raise CaptureError("AttentionCapture supports Wan2.1 text-to-video pipelines (one transformer)")
        self.tokens: TokenizedPrompt = tokenize_marked(pipe.tokenizer, self.marked, max_sequence_length)
        located = locate_cross_attention(transformer)
        n_blocks = len(located)
        wanted = self.settings.blocks if self.settings.blocks is not None else tuple(range(n_blocks))
        bad = [b for b in wanted if b >= n_blocks]
        if bad:
            raise CaptureError(f"blocks {bad} do not exist: the transformer has blocks 0..{n_blocks - 1}")
        self.block_indices = tuple(wanted)
        modules = [(i, attn2) for i, _, attn2 in located if i in self.block_indices]
        self.heads: int = modules[0][1].heads  # type: ignore[assignment]
        self._recorder = CaptureRecorder(
            self.settings,
            WordColumns.from_words([t.token_indices for t in self.tokens.targets]),
            self.heads,
            {b: pos for pos, b in enumerate(self.block_indices)},
            tuple(transformer.config.patch_size),
        )
        self._hooks = CaptureHooks(
            transformer, getattr(pipe, "text_encoder", None), modules, self._recorder, self.tokens.input_ids
        )
        self._entered = False

    # -- context manager ------------------------------------------------------------------------------
    def __enter__(self) -> AttentionCapture:
        if self._entered:
            raise CaptureError("this AttentionCapture was already entered: create a new one for every generation")
        if not self.marked.targets:
            log.warning("prompt %r has no marked word: nothing will be captured", self.marked.marked)
        self._entered = True
        self._hooks.install()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._hooks.remove()

    # -- results ----------------------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        """The clean text to pass to the pipeline (markers removed, cleaned as Wan cleans it)."""
        return self.marked.clean

    @property
    def words(self) -> tuple[str, ...]:
        return self.marked.words

    @property
    def block_names(self) -> tuple[str, ...]:
        return tuple(block_name(b) for b in self.block_indices)

    @property
    def records(self) -> list[StepRecord]:
        """Raw per-pass, per-step records, in the order they were captured."""
        return list(self._recorder.records)

    def word_maps(
        self,
        video_dimensions: VideoDimensions | dict[str, Any] | None = None,
        *,
        video_id: str = "captured",
        model_id: str | None = None,
        seed: int | None = None,
    ) -> CapturedMaps:
        """``{word: [step, *leading, frame, y, x]}``: the captured steps in step order, plottable.

        Leading axes: ``pass`` with ``guidance_pass="both"`` (when both passes ran), ``block``
        with ``store_per_block``, ``head`` with ``store_per_head``; by default there are none.
        The result is a ``dict`` that also holds each step's metadata (as :meth:`save` writes it;
        the arguments are the same) and draws figures: ``maps.plot("kiss")``,
        ``maps.overlay(video_frames, "kiss")`` (see :class:`~attention_visual.capture.word_maps.CapturedMaps`).
        """
        word_maps = records_to_word_maps(self._require_records(), self.words, self.settings)
        if not word_maps.maps:
            return CapturedMaps({}, {})
        if isinstance(video_dimensions, dict):
            video_dimensions = VideoDimensions(**video_dimensions)
        metadata = word_metadata(word_maps, self, video_id, video_dimensions, model_id=model_id, seed=seed)
        return CapturedMaps(word_maps.maps, {word: per_step for word, (_, per_step) in metadata.items()})

    def save(
        self,
        attention_dir: Path | str,
        video_id: str,
        video_dimensions: VideoDimensions | dict[str, Any] | None = None,
        *,
        storage_format: str = "numpy",
        compress: bool = True,
        store_steps: bool = True,
        store_aggregated: bool = True,
        aggregated_format: str | None = None,
        model_id: str | None = None,
        seed: int | None = None,
        mark_complete: bool = True,
    ) -> list[Path]:
        """Write the maps in the store's layout (see :mod:`attention_visual.storage.layout`).

        ``video_dimensions`` defaults to what the token grid implies (16 px per token, Wan's
        4k+1 frames, 16 fps). The video's completion mark is written last.
        """
        if isinstance(video_dimensions, dict):
            video_dimensions = VideoDimensions(**video_dimensions)
        return save_word_maps(
            records_to_word_maps(self._require_records(), self.words, self.settings),
            self,
            Path(attention_dir),
            video_id,
            video_dimensions,
            storage_format=storage_format,
            compress=compress,
            store_steps=store_steps,
            store_aggregated=store_aggregated,
            aggregated_format=aggregated_format,
            model_id=model_id,
            seed=seed,
            mark_complete=mark_complete,
        )

    def _require_records(self) -> list[StepRecord]:
        if not self._entered:
            raise CaptureError("nothing captured yet: run the pipeline inside `with AttentionCapture(...):`")
        if self._hooks.installed:
            raise CaptureError("the capture is still running: read the maps after the `with` block")
        if not self._recorder.records and self.words:
            raise CaptureError(
                "no steps were captured: check CaptureSettings.steps/guidance_pass "
                "(the uncond pass only runs when guidance_scale > 1)"
            )
        return self._recorder.records


__all__ = ["AttentionCapture"]

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
from attention_visual.capture.hooks import CaptureHooks, HookedModel
from attention_visual.capture.locator import block_name, locate_cross_attention
from attention_visual.capture.maps_io import records_to_word_maps, save_word_maps, word_metadata
from attention_visual.capture.recorder import CaptureRecorder, StepRecord
from attention_visual.capture.settings import IMAGE_WORD, CaptureSettings
from attention_visual.capture.steps import PassClock
from attention_visual.capture.word_maps import CapturedMaps
from attention_visual.errors import CaptureError
from attention_visual.models.variants import EXPERT_NAMES, WAN_TEXT_CONTEXT, WanVariant, describe_pipeline
from attention_visual.prompts import MarkedPrompt, TokenizedPrompt, parse_prompt, tokenize_marked
from attention_visual.storage import VideoDimensions

log = logging.getLogger(__name__)


class AttentionCapture:
    """Context manager that records word-level cross-attention maps of one pipeline call.

    Entering installs the hooks; leaving removes them and restores the pipeline exactly (also
    when the generation raised). A capture records one generation: enter it once, call the
    pipeline once with ``prompt=capture.prompt`` and one video per call.

    Every Wan pipeline of :data:`~attention_visual.models.variants.VARIANTS` is captured the same way
    (see :func:`~attention_visual.models.variants.describe_pipeline`): with two experts (Wan2.2 A14B)
    both transformers are hooked and each step records which one produced it; where the pipeline
    gives no step index (I2V, FLF2V, VACE, V2V) the capture counts steps and checks them against the
    scheduler; with ``image_map`` (I2V/FLF2V) the pseudo-word ``<image>`` holds the image branch's share.

    Args:
        pipe: a diffusers Wan pipeline (``WanPipeline``, ``WanImageToVideoPipeline``, ``WanVACEPipeline``,
            ``WanVideoToVideoPipeline``).
        prompt: the marked prompt (``"a (red car) on a road"``) or a parsed :class:`MarkedPrompt`.
        settings: what to record (:class:`CaptureSettings`).
        max_sequence_length: must equal the pipeline call's ``max_sequence_length`` (Wan: 512; the image
            branch of I2V/FLF2V requires 512).
        num_reference_images: VACE only: reference images passed to the call (they add latent frames at
            the front, recorded as conditioning frames and skipped by the frame mapping).

    Raises:
        PromptError: the prompt is malformed or a marked word is cut off by truncation.
        CaptureError: the pipeline is not a supported Wan pipeline (Wan Animate, modular pipelines), or a
            setting does not fit it.
    """

    def __init__(
        self,
        pipe: Any,
        prompt: str | MarkedPrompt,
        settings: CaptureSettings | None = None,
        max_sequence_length: int = 512,
        num_reference_images: int = 0,
    ) -> None:
        self.pipe = pipe
        self.settings = settings or CaptureSettings()
        self.variant: WanVariant = describe_pipeline(pipe)
        self.marked = prompt if isinstance(prompt, MarkedPrompt) else parse_prompt(prompt)
        if prompt_clean(self.marked.clean) != self.marked.clean:
            raise CaptureError(
                f"the cleaned prompt {self.marked.clean!r} changes when WanPipeline cleans it again; "
                "simplify its HTML entities"
            )
        self._check_fits(max_sequence_length, num_reference_images)
        self.num_reference_images = num_reference_images
        self.tokens: TokenizedPrompt = tokenize_marked(pipe.tokenizer, self.marked, max_sequence_length)
        experts = self._experts()
        block_list = self.settings.block_list
        located = [locate_cross_attention(t, block_list) for _, t in experts]
        n_blocks = len(located[0])
        if any(len(found) != n_blocks for found in located):
            raise CaptureError(f"the two experts have different numbers of {block_list}")
        wanted = self.settings.blocks if self.settings.blocks is not None else tuple(range(n_blocks))
        bad = [b for b in wanted if b >= n_blocks]
        if bad:
            raise CaptureError(f"{block_list} {bad} do not exist: the transformer has {block_list} 0..{n_blocks - 1}")
        self.block_indices = tuple(wanted)
        models = [
            HookedModel(expert, t, [(i, attn2) for i, _, attn2 in found if i in self.block_indices])
            for (expert, t), found in zip(experts, located, strict=True)
        ]
        self.heads: int = models[0].blocks[0][1].heads  # type: ignore[assignment]
        first = experts[0][1]
        self._recorder = CaptureRecorder(
            self.settings,
            WordColumns.from_words([t.token_indices for t in self.tokens.targets]),
            self.heads,
            {b: pos for pos, b in enumerate(self.block_indices)},
            tuple(first.config.patch_size),
        )
        self._hooks = CaptureHooks(
            models,
            getattr(pipe, "text_encoder", None),
            self._recorder,
            self.tokens.input_ids,
            PassClock(pipe, order_from_calls=self.variant.pass_source == "call_order"),
            image_branch=self.settings.image_map,
        )
        self._entered = False

    def _check_fits(self, max_sequence_length: int, num_reference_images: int) -> None:
        """Settings that the variant cannot honour fail here, before anything is hooked."""
        v, st = self.variant, self.settings
        if st.block_list not in v.capture_points:
            raise CaptureError(f"block_list={st.block_list!r} needs a VACE pipeline; {v.name} has only 'blocks'")
        if st.image_map and not v.image_branch:
            raise CaptureError(f"image_map needs a pipeline with an image branch (I2V-14B, FLF2V); {v.name} has none")
        if st.image_map and IMAGE_WORD in self.marked.words:
            raise CaptureError(f"the marked word {IMAGE_WORD!r} is reserved for the image map")
        if v.image_branch and max_sequence_length != WAN_TEXT_CONTEXT:
            raise CaptureError(
                f"{v.name} splits the cross-attention context into [image, text] at L - {WAN_TEXT_CONTEXT}: "
                f"max_sequence_length must be {WAN_TEXT_CONTEXT}, got {max_sequence_length}"
            )
        if num_reference_images < 0 or (num_reference_images and v.conditioning != "reference"):
            raise CaptureError(f"num_reference_images={num_reference_images}: only VACE takes reference images")

    def _experts(self) -> list[tuple[str | None, Any]]:
        """``(expert label, transformer)`` of each transformer the pipeline may run."""
        pair = (getattr(self.pipe, "transformer", None), getattr(self.pipe, "transformer_2", None))
        if self.variant.boundary_ratio is None:
            return [(None, pair[0] if pair[0] is not None else pair[1])]
        return [(label, model) for label, model in zip(EXPERT_NAMES, pair, strict=True) if model is not None]

    @property
    def boundary_timestep(self) -> float | None:
        """``boundary_ratio × num_train_timesteps``: steps at or above it run the high-noise expert."""
        ratio = self.variant.boundary_ratio
        if ratio is None:
            return None
        return float(ratio * self.pipe.scheduler.config.num_train_timesteps)

    @property
    def conditioning_frames(self) -> tuple[int, ...]:
        """Latent frames that are inputs, not generated video (I2V-5B frame 0, VACE reference frames)."""
        return self.variant.conditioning_frames(self.num_reference_images)

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
        """The marked words, then ``<image>`` with ``image_map``: the keys of :meth:`word_maps`."""
        return self.marked.words + ((IMAGE_WORD,) if self.settings.image_map else ())

    @property
    def block_names(self) -> tuple[str, ...]:
        return tuple(block_name(b, self.settings.block_list) for b in self.block_indices)

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
        the arguments are the same; which expert produced each step: :attr:`step_experts`) and draws
        figures: ``maps.plot("kiss")``, ``maps.overlay(video_frames, "kiss")`` (see
        :class:`~attention_visual.capture.word_maps.CapturedMaps`).
        """
        word_maps = records_to_word_maps(self._require_records(), self.words, self.settings)
        if not word_maps.maps:
            return CapturedMaps({}, {})
        if isinstance(video_dimensions, dict):
            video_dimensions = VideoDimensions(**video_dimensions)
        metadata = word_metadata(word_maps, self, video_id, video_dimensions, model_id=model_id, seed=seed)
        return CapturedMaps(word_maps.maps, {word: per_step for word, (_, per_step) in metadata.items()})

    @property
    def step_experts(self) -> dict[int, str | None]:
        """``{step: "high_noise" | "low_noise"}`` (``None`` with one transformer) of the captured steps."""
        return {r.step_index: r.expert for r in self._recorder.records}

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
        """Write the maps in the store's layout (see :mod:`attention_visual.storage.files.layout`).

        ``video_dimensions`` defaults to what the token grid implies (the variant's pixels per token:
        16, or 32 for TI2V-5B; Wan's 4k+1 frames without VACE reference frames; 16 fps); given, its
        frame count must fit the maps. The video's completion mark is written last.
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

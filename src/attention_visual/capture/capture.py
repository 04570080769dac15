"""`AttentionCapture`: record the marked words' text→video attention of one generation, any supported family.

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

from attention_visual.capture.attention_math import WordColumns
from attention_visual.capture.hooks import CaptureHooks, HookedModel
from attention_visual.capture.maps_io import CaptureFacts, records_to_word_maps, save_word_maps, word_metadata
from attention_visual.capture.recorder import CaptureRecorder, StepRecord, reconcile_grids
from attention_visual.capture.settings import CaptureSettings
from attention_visual.capture.steps import PassClock
from attention_visual.capture.word_maps import CapturedMaps
from attention_visual.errors import CaptureError
from attention_visual.families import ModelFamily, Variant, family_of_variant
from attention_visual.families.runtime import describe_pipeline, runtime_of
from attention_visual.prompts import MarkedPrompt, TokenizedPrompt, parse_prompt, tokenize_marked
from attention_visual.storage import VideoDimensions

log = logging.getLogger(__name__)


class AttentionCapture:
    """Context manager that records word-level text→video attention maps of one pipeline call.

    Entering installs the hooks; leaving removes them and restores the pipeline exactly (also
    when the generation raised). A capture records one generation: enter it once, call the
    pipeline once with ``prompt=capture.prompt`` and one video per call.

    Every pipeline of a supported model family (:mod:`attention_visual.families`; see
    :func:`~attention_visual.families.runtime.describe_pipeline`) is captured the same way: its family
    says where the attention is, how to hook it, how the passes and steps run and how the video tokens
    are laid out. With two experts both transformers are hooked and each step records which one produced
    it; where the pipeline gives no step index the capture counts steps and checks them against the
    scheduler; with ``image_map`` (models with an image branch) the pseudo-word ``<image>`` holds the
    image branch's share (on models with image keys in a joint softmax: the image tokens' share), with
    ``glyph_map`` ``<glyph>`` the glyph tokens' share.

    Args:
        pipe: a diffusers pipeline of a supported family (e.g. ``WanPipeline``, ``WanImageToVideoPipeline``).
        prompt: the marked prompt (``"a (red car) on a road"``) or a parsed :class:`MarkedPrompt`.
        settings: what to record (:class:`CaptureSettings`).
        max_sequence_length: must equal the pipeline call's ``max_sequence_length``; None: the family's
            default (Wan: 512; a model with a fixed text length, e.g. Wan's image branch, requires it).
        num_reference_images: reference images passed to the call, where the pipeline takes them (VACE:
            they add latent frames at the front, recorded as conditioning frames and skipped by the frame
            mapping).

    Raises:
        PromptError: the prompt is malformed or a marked word is cut off by truncation.
        CaptureError: the pipeline is not of a supported family (or a pipeline it refuses), or a setting
            does not fit it.
    """

    def __init__(
        self,
        pipe: Any,
        prompt: str | MarkedPrompt,
        settings: CaptureSettings | None = None,
        max_sequence_length: int | None = None,
        num_reference_images: int = 0,
    ) -> None:
        self.pipe = pipe
        self.settings = settings or CaptureSettings()
        self.variant: Variant = describe_pipeline(pipe)
        self.family: ModelFamily = family_of_variant(self.variant)
        runtime = runtime_of(self.family)
        cleaning = self.family.text.cleaning
        # parsed (again) with this family's cleaning: the spans must index the text the pipeline encodes
        self.marked = parse_prompt(prompt.marked if isinstance(prompt, MarkedPrompt) else prompt, cleaning)
        if cleaning(self.marked.clean) != self.marked.clean:
            raise CaptureError(
                f"the cleaned prompt {self.marked.clean!r} changes when the {self.family.title} pipeline cleans it "
                "again; simplify its HTML entities (or parse it with this model family's cleaning)"
            )
        if max_sequence_length is None:
            max_sequence_length = self.variant.text_length or self.family.text.max_sequence_length
        self._check_fits(max_sequence_length, num_reference_images)
        self.num_reference_images = num_reference_images
        text = self.family.text
        self.tokens: TokenizedPrompt = tokenize_marked(
            pipe.tokenizer,
            self.marked,
            max_sequence_length,
            text.template,
            padding_side=text.padding_side,
            real_first=text.key_order == "real_first",
        )
        experts = runtime.experts(pipe, self.variant)
        self.block_list = self.settings.block_list or self.variant.capture_points[0]
        block_list = self.block_list
        self.variant = self.variant.for_block_list(block_list)  # that module list's attention kind
        located = [runtime.locate(t, self.variant, block_list) for _, t in experts]
        n_blocks = len(located[0])
        if any(len(found) != n_blocks for found in located):
            raise CaptureError(f"the two experts have different numbers of {block_list}")
        wanted = self.settings.blocks if self.settings.blocks is not None else tuple(range(n_blocks))
        bad = [b for b in wanted if b >= n_blocks]
        if bad:
            raise CaptureError(f"{block_list} {bad} do not exist: the transformer has {block_list} 0..{n_blocks - 1}")
        self.block_indices = tuple(wanted)
        models = [
            HookedModel(expert, t, [site for site in found if site.index in self.block_indices])
            for (expert, t), found in zip(experts, located, strict=True)
        ]
        self.heads: int = models[0].sites[0].heads
        self._block_names = tuple(site.name for site in models[0].sites)
        probe = runtime.probe(self.variant, image_map=self.settings.image_map)
        self._recorder = CaptureRecorder(
            self.settings,
            WordColumns.from_words([t.token_indices for t in self.tokens.targets]),
            self.heads,
            {b: pos for pos, b in enumerate(self.block_indices)},
            probe,
            text_padding=self.family.text.padding,
        )
        v = self.variant
        self._hooks = CaptureHooks(
            models,
            getattr(pipe, self.family.text.encoder, None),
            self._recorder,
            self.tokens.input_ids,
            PassClock(
                pipe,
                order_from_calls=v.pass_source == "call_order",
                guidance=v.guidance,
                batch_passes=v.batch_passes,
                pass_names=dict(v.pass_names),
                ignored_passes=v.ignored_passes,
            ),
            runtime=runtime,
            variant=v,
            probe=probe,
            pad_token_id=getattr(pipe.tokenizer, "pad_token_id", None),
            cut_tokens=self.tokens.cut,
        )
        self._entered = False

    def _check_fits(self, max_sequence_length: int, num_reference_images: int) -> None:
        """Settings that the variant cannot honour fail here, before anything is hooked."""
        v, st, family = self.variant, self.settings, self.family
        if st.block_list is not None and st.block_list not in v.capture_points:
            raise CaptureError(
                f"block_list={st.block_list!r} does not exist on {v.name}: it has {', '.join(v.capture_points)}"
            )
        if st.image_map and not v.has_image_map:
            raise CaptureError(f"image_map needs a pipeline with an image branch or image keys; {v.name} has none")
        if st.glyph_map and "glyph" not in v.key_groups:
            raise CaptureError(f"glyph_map needs glyph keys (the quoted text's own encoding); {v.name} has none")
        if not v.joint and (st.joint_attention != "text" or st.text_share_map):
            what = f"joint_attention={st.joint_attention!r}" if st.joint_attention != "text" else "text_share_map"
            raise CaptureError(
                f"{what} needs joint attention (text and video keys in one softmax); {family.title} ({v.name}) "
                "has cross-attention, whose maps are already the share of the text keys"
            )
        reserved = [w for w in st.pseudo_words if w in self.marked.words]
        if reserved:
            raise CaptureError(f"the marked word {reserved[0]!r} is reserved for a pseudo-word map")
        if v.text_length is not None and max_sequence_length != v.text_length:
            raise CaptureError(
                f"{v.name} takes exactly {v.text_length} text keys: max_sequence_length must be {v.text_length}, "
                f"got {max_sequence_length}"
            )
        multiple = family.text.sequence_multiple
        if max_sequence_length % multiple:
            raise CaptureError(
                f"{family.title} takes text in multiples of {multiple} keys: max_sequence_length must be a multiple "
                f"of {multiple}, got {max_sequence_length}"
            )
        if num_reference_images < 0 or (num_reference_images and v.conditioning != "reference"):
            raise CaptureError(
                f"num_reference_images={num_reference_images}: {v.name} takes no reference images (only pipelines "
                "with reference frames do)"
            )

    @property
    def boundary_timestep(self) -> float | None:
        """``boundary_ratio × num_train_timesteps``: steps at or above it run the first (high-noise) expert."""
        ratio = self.variant.boundary_ratio
        if ratio is None:
            return None
        return float(ratio * self.pipe.scheduler.config.num_train_timesteps)

    @property
    def conditioning_frames(self) -> tuple[int, ...]:
        """Latent frames that are inputs, not generated video (an image latent, reference frames).

        Where the transformer calls carry per-token timesteps that hold some frames at a lower noise level
        (LTX-Video's conditioning items), those frames, as the calls showed them; else what the variant says.
        """
        seen = self._recorder.conditioning_frames
        if seen is not None:
            return tuple(sorted(seen))
        return self.variant.conditioning_frames(self.num_reference_images)

    @property
    def facts(self) -> CaptureFacts:
        """What the maps' metadata says about this capture (see :class:`~.maps_io.CaptureFacts`)."""
        return CaptureFacts(
            settings=self.settings,
            variant=self.variant,
            marked=self.marked,
            targets=self.tokens.targets,
            block_names=self.block_names,
            heads=self.heads,
            num_reference_images=self.num_reference_images,
            boundary_timestep=self.boundary_timestep,
            conditioning_frames=self.conditioning_frames,
            default_fps=float(self.family.fps_of(self.variant)),
        )

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
        """The clean text to pass to the pipeline (markers removed, cleaned as the pipeline cleans it)."""
        return self.marked.clean

    @property
    def words(self) -> tuple[str, ...]:
        """The marked words, then the pseudo-words asked for (``<text>``, ``<image>``): :meth:`word_maps`' keys."""
        return self.marked.words + self.settings.pseudo_words

    @property
    def block_names(self) -> tuple[str, ...]:
        """The captured blocks' names (``blocks.7.attn2``), in map order."""
        return self._block_names

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
        metadata = word_metadata(word_maps, self.facts, video_id, video_dimensions, model_id=model_id, seed=seed)
        return CapturedMaps(word_maps.maps, {word: per_step for word, (_, per_step) in metadata.items()})

    @property
    def step_experts(self) -> dict[int, str | None]:
        """``{step: expert label}`` of the captured steps (``"high_noise"``/``"low_noise"``; None with one)."""
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

        ``video_dimensions`` defaults to what the token grid implies (the variant's pixels per token and
        frame rule, without reference frames; the family's fps); given, its frame count must fit the
        maps. The video's completion mark is written last.
        """
        if isinstance(video_dimensions, dict):
            video_dimensions = VideoDimensions(**video_dimensions)
        return save_word_maps(
            records_to_word_maps(self._require_records(), self.words, self.settings),
            self.facts,
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
        recorder = self._recorder
        return reconcile_grids(recorder.records, self.variant.grid_shrink_keeps, recorder.last_frames)


__all__ = ["AttentionCapture"]

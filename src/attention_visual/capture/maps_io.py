"""From captured step records to per-word arrays, and from those to the store.

Kept apart from :mod:`.capture` so the capture class only manages hooks and state: the capture hands
over one frozen :class:`CaptureFacts` (what the metadata says about how the maps were made), and this
module never imports the capture class.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_visual.capture.recorder import StepRecord
from attention_visual.capture.settings import GLYPH_WORD, IMAGE_WORD, TEXT_WORD, CaptureSettings
from attention_visual.errors import CaptureError
from attention_visual.families import Variant
from attention_visual.prompts import MarkedPrompt, TargetTokens
from attention_visual.storage import LatentGrid, MapMetadata, Reduction, VideoDimensions
from attention_visual.storage.backend import MapSink, map_sink
from attention_visual.storage.files.layout import word_dir_name
from attention_visual.storage.schema.frames import (
    FrameRule,
    latent_to_video_frame_ranges_after_references,
    num_latent_frames,
)

log = logging.getLogger(__name__)

#: What each pseudo-word's map holds (metadata ``quantity``); a marked word's is ``text_attention``.
PSEUDO_QUANTITIES = {IMAGE_WORD: "image_share", TEXT_WORD: "text_share", GLYPH_WORD: "glyph_share"}
#: ``<image>`` on a model whose image tokens are keys of the joint softmax (not an image branch).
IMAGE_TOKEN_QUANTITY = "image_token_share"


def map_quantity(word: str, variant: Variant, *, marked: bool) -> str:
    """The metadata ``quantity`` of ``word``'s maps on ``variant`` (``marked``: a marked word, not a pseudo-word)."""
    if marked:
        return "text_attention"
    if word == IMAGE_WORD and not variant.image_branch:
        return IMAGE_TOKEN_QUANTITY
    return PSEUDO_QUANTITIES.get(word, "text_attention")


@dataclass(frozen=True)
class CaptureFacts:
    """What a capture tells the metadata about how its maps were made.

    Attributes:
        settings: The capture's settings.
        variant: The pipeline's variant (with the loaded object's facts).
        marked: The marked prompt.
        targets: The marked words' tokens.
        block_names: The captured blocks (``blocks.7.attn2``), in map order.
        heads: Attention heads per block.
        num_reference_images: Leading latent frames that are reference images (conditioning, no video).
        boundary_timestep: Steps at or above it ran the first expert (two experts), else None.
        conditioning_frames: Latent frames that are inputs, not generated video.
        default_fps: The family's frames per second, for video dimensions nobody gave.
    """

    settings: CaptureSettings
    variant: Variant
    marked: MarkedPrompt
    targets: tuple[TargetTokens, ...]
    block_names: tuple[str, ...]
    heads: int
    num_reference_images: int
    boundary_timestep: float | None
    conditioning_frames: tuple[int, ...]
    default_fps: float

    @property
    def frame_rule(self) -> FrameRule:
        return self.variant.frame_rule


@dataclass(frozen=True)
class WordMaps:
    """Captured maps of every word, with the facts needed to store them."""

    maps: dict[str, np.ndarray]  # word -> [step, *leading, frame, y, x]
    steps: tuple[int, ...]
    passes: tuple[str, ...]
    axes: tuple[str, ...]  # of one step: (*leading, "frame", "y", "x")
    step_info: dict[int, StepRecord]  # step -> the record of its first pass (timestep, sigma, num_steps)


def records_to_word_maps(records: list[StepRecord], words: tuple[str, ...], settings: CaptureSettings) -> WordMaps:
    """Group records by step (ascending) and pass, and split them per word."""
    by_step: dict[int, dict[str, StepRecord]] = {}
    for record in records:
        by_step.setdefault(record.step_index, {})[record.pass_name] = record
    passes = tuple(p for p in settings.passes if any(p in r for r in by_step.values()))
    steps = tuple(s for s in sorted(by_step) if all(p in by_step[s] for p in passes))
    if len(steps) != len(by_step):
        log.warning("steps %s lack a guidance pass and are left out", sorted(set(by_step) - set(steps)))
    if not steps and words:
        raise CaptureError("no complete step was captured")
    keep_pass = settings.guidance_pass == "both" and len(passes) > 1
    axes = (
        *(("pass",) if keep_pass else ()),
        *(("block",) if settings.store_per_block else ()),
        *(("head",) if settings.store_per_head else ()),
        "frame",
        "y",
        "x",
    )
    # the [pass, block, head] axes that are not kept
    squeeze = tuple(
        i for i, keep in enumerate((keep_pass, settings.store_per_block, settings.store_per_head)) if not keep
    )
    maps: dict[str, np.ndarray] = {}
    for w, word in enumerate(words):
        per_step = []
        for s in steps:
            arr = np.stack([by_step[s][p].array[w] for p in passes])  # [pass, block, head, frame, y, x]
            per_step.append(arr.squeeze(axis=squeeze) if squeeze else arr)
        maps[word] = np.stack(per_step) if per_step else np.zeros((0,), np.float32)
    step_info = {s: by_step[s][passes[0]] for s in steps}
    return WordMaps(maps, steps, passes, axes, step_info)


def default_video_dimensions(
    pixels_per_cell: int,
    rule: FrameRule,
    grid: tuple[int, int, int],
    num_reference: int,
    fps: float,
) -> VideoDimensions:
    """The video size a latent grid implies: pixels per cell (VAE factor × patch), the family's frame rule.

    ``num_reference`` leading latent frames (reference images) are not part of the video.
    """
    f, y, x = grid
    latent = (f - num_reference) * rule.latent_frames_per_cell - rule.padding_latent_frames
    frames = (latent - 1) * rule.temporal_factor + 1 if rule.first_frame_alone else latent * rule.temporal_factor
    return VideoDimensions(width=x * pixels_per_cell, height=y * pixels_per_cell, fps=fps, frames=frames)


def word_metadata(
    word_maps: WordMaps,
    facts: CaptureFacts,
    video_id: str,
    video_dimensions: VideoDimensions | None,
    *,
    model_id: str | None = None,
    seed: int | None = None,
) -> dict[str, tuple[MapMetadata, list[MapMetadata]]]:
    """``{word: (metadata of the step-average, [metadata of each captured step])}``, as the store writes them."""
    settings = facts.settings
    ds = settings.spatial_downsample_factor
    first = next(iter(word_maps.maps.values()), None)
    if first is None or first.ndim < 4:
        raise CaptureError("no maps: the prompt has no marked word or no step was captured")
    f, y, x = first.shape[-3:]
    grid = LatentGrid(frames=f, height=y * ds, width=x * ds)
    variant, rule = facts.variant, facts.frame_rule
    # padding latent frames in front (a temporal patch): known from the video's frame count, else assumed
    rule = rule.for_video(video_dimensions.frames) if video_dimensions is not None else rule.for_unknown_video()
    n_ref = facts.num_reference_images
    if video_dimensions is not None:
        expected = num_latent_frames(video_dimensions.frames, rule) + n_ref
        if expected != f:
            raise CaptureError(
                f"the maps have {f} latent frames but a {video_dimensions.frames}-frame video with {n_ref} "
                f"reference images has {expected}: pass AttentionCapture(..., num_reference_images=...)"
            )
    dims = video_dimensions or default_video_dimensions(
        variant.pixels_per_cell, rule, (f, y * ds, x * ds), n_ref, facts.default_fps
    )
    targets = {t.word: t for t in facts.targets}
    num_steps = next(iter(word_maps.step_info.values())).num_steps or len(word_maps.steps)
    two_experts = any(info.expert is not None for info in word_maps.step_info.values())
    step_experts = tuple(word_maps.step_info[s].expert for s in word_maps.steps) if two_experts else ()
    out: dict[str, tuple[MapMetadata, list[MapMetadata]]] = {}
    for word, stack in word_maps.maps.items():  # stack: [step, *leading, frame, y, x]
        tt = targets.get(word)  # None for a pseudo-word (<image>, <text>)
        base = MapMetadata(
            video_id=video_id,
            token_word=word,
            shape=tuple(stack.shape[1:]),
            dtype=settings.storage_dtype,
            axes=word_maps.axes,
            num_steps=num_steps,
            steps_used=word_maps.steps,
            step_index=None,
            aggregation_method="mean_over_steps",
            video_dimensions=dims,
            token_grid=grid,
            latent_to_video_frames=latent_to_video_frame_ranges_after_references(f, n_ref, rule),
            spatial_downsample_factor=ds,
            marked_prompt=facts.marked.marked,
            clean_prompt=facts.marked.clean,
            token_indices=tt.token_indices if tt else (),
            token_ids=tt.token_ids if tt else (),
            token_pieces=tt.token_pieces if tt else (),
            char_spans=tt.spans if tt else (),
            guidance_pass=settings.guidance_pass,
            passes=word_maps.passes,
            reduction=Reduction(
                heads="kept" if settings.store_per_head else "mean",
                blocks="kept" if settings.store_per_block else "mean",
                tokens=settings.token_reduction,
                padding=settings.padding,
            ),
            blocks=facts.block_names,
            num_heads=facts.heads,
            model_id=model_id,
            seed=seed,
            variant=variant.name,
            step_experts=step_experts,
            boundary_timestep=facts.boundary_timestep,
            conditioning_frames=facts.conditioning_frames,
            pixels_per_token=variant.pixels_per_cell,
            quantity=map_quantity(word, variant, marked=tt is not None),
            family=variant.family,
            attention_kind=variant.attention_kind,
            joint_attention=settings.joint_attention if variant.joint else None,
            temporal_factor=rule.temporal_factor,
            latent_frames_per_cell=rule.latent_frames_per_cell,
        ).stamped()
        per_step = [
            dataclasses.replace(
                base,
                steps_used=(step,),
                step_index=step,
                aggregation_method="per_step",
                timestep=word_maps.step_info[step].timestep,
                sigma=word_maps.step_info[step].sigma,
                expert=word_maps.step_info[step].expert,
                step_experts=(word_maps.step_info[step].expert,) if two_experts else (),
                frame_timesteps=word_maps.step_info[step].frame_timesteps,
            )
            for step in word_maps.steps
        ]
        out[word] = (base, per_step)
    return out


def save_word_maps(
    word_maps: WordMaps,
    facts: CaptureFacts,
    root: Path,
    video_id: str,
    video_dimensions: VideoDimensions | None,
    *,
    storage_format: str,
    compress: bool,
    store_steps: bool,
    store_aggregated: bool,
    aggregated_format: str | None,
    model_id: str | None,
    seed: int | None,
    mark_complete: bool,
) -> list[Path]:
    """Write every word's steps and step-average, then the video's completion mark.

    ``storage_format`` ``"numpy"``/``"torch"``: files under the seed layout's folder ``root``;
    ``"zarr"``: into the packed store ``root`` (``attention_maps.zarr``), as ``pack`` would have written
    the ``numpy`` files (see :class:`~attention_visual.storage.packed.video.PackedVideoStore`).
    """
    store = map_sink(root, storage_format, compress, facts.settings.storage_dtype, aggregated_format)
    if store.is_complete(video_id):
        raise CaptureError(f"maps of video {video_id!r} already exist in {root}; choose another video id")
    first = next(iter(word_maps.maps.values()), None)
    if first is None or first.ndim < 4:
        raise CaptureError("nothing to save: the prompt has no marked word or no step was captured")
    metadata = word_metadata(word_maps, facts, video_id, video_dimensions, model_id=model_id, seed=seed)
    store.remove_video(video_id)  # leftovers of an interrupted earlier save
    paths: list[Path] = []
    maps = 0
    for word, stack in word_maps.maps.items():  # stack: [step, *leading, frame, y, x]
        base, per_step = metadata[word]
        if store_steps:
            paths += store.save_steps(per_step, stack)
            maps += len(per_step)
        if store_aggregated:
            mean = stack.astype(np.float32).mean(axis=0)  # [*leading, frame, y, x]
            paths.append(store.save_aggregated(base, mean))
            maps += 1
    if mark_complete:
        paths.append(
            store.mark_complete(
                video_id,
                {
                    "video_id": video_id,
                    "words": {w: word_dir_name(w) for w in word_maps.maps},
                    "steps": list(word_maps.steps),
                    "passes": list(word_maps.passes),
                    "files": maps,  # maps stored (one file each in the seed layout)
                },
            )
        )
    return paths


__all__ = [
    "IMAGE_TOKEN_QUANTITY",
    "PSEUDO_QUANTITIES",
    "CaptureFacts",
    "MapSink",
    "WordMaps",
    "default_video_dimensions",
    "map_quantity",
    "map_sink",
    "records_to_word_maps",
    "save_word_maps",
    "word_metadata",
]

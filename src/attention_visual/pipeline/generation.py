"""One video of a batch: the pipeline call under the capture, the video file, the stored maps.

:func:`generate_video` is the unit the batch loop repeats. It writes, in this order, the video file
(atomically, H.264 through :class:`~attention_visual.render.encoder.VideoWriter`) and the maps with
the store's ``_complete.json`` last (or, with ``storage_format: zarr``, the video's group in
``attention_maps.zarr`` marked complete last); the caller writes the status file after both. Memory the call
needed (GPU cache included) is released before it returns, whether it succeeded or not.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
except ModuleNotFoundError:
    from attention_visual.extras import GENERATION_EXTRA, require_extra

    require_extra(
        GENERATION_EXTRA, __name__
    )  # one line naming the extra when torch, diffusers or transformers is missing
    raise
from PIL import Image

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.config import Config
from attention_visual.config.inputs import PromptInputs, read_video_frames
from attention_visual.config.media import load_image
from attention_visual.families import Variant, family_of_variant
from attention_visual.families.runtime import call_arguments, describe_pipeline
from attention_visual.pipeline.plan import VideoJob
from attention_visual.pipeline.resume import captures_maps
from attention_visual.pipeline.validation import max_sequence_length
from attention_visual.render.encoder import VideoWriter
from attention_visual.storage import MapBackend, VideoDimensions
from attention_visual.storage.batch.manifest import Timings
from attention_visual.storage.durable.atomic import atomic_write_bytes
from attention_visual.storage.durable.faults import write_faults

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationOutcome:
    """What :func:`generate_video` produced.

    Attributes:
        timings: ``generation_s``, ``capture_save_s`` (None when nothing was captured), ``video_write_s``.
        files_written: The video file plus every map file and the completion mark.
        captured: Whether maps were stored.
    """

    timings: Timings
    files_written: int
    captured: bool


def to_uint8_frames(frames: np.ndarray) -> np.ndarray:
    """Pipeline output ``[frame, height, width, 3]`` floats in [0, 1] → uint8 of the same shape."""
    scaled: np.ndarray = (np.clip(frames, 0.0, 1.0) * 255.0).round()
    return scaled.astype(np.uint8)


def write_video_file(path: Path, frames: np.ndarray, fps: float) -> None:
    """Encode ``frames`` ``[frame, height, width, 3]`` uint8 as H.264 mp4 at ``fps``, atomically."""
    _, height, width, _ = frames.shape
    with VideoWriter(path, width=width, height=height, fps=fps, video_format="mp4") as writer:
        for frame in frames:  # [height, width, 3]
            writer.write(frame)


def pipeline_inputs(variant: Variant, inputs: PromptInputs, *, num_frames: int) -> dict[str, Any]:
    """The pipeline call's input arguments for the pipeline's variant: frames, images, video, strength.

    Most pipelines take ``num_frames``; one whose variant has ``frames_from_video`` (video-to-video)
    takes the input video's length instead (checked equal to ``num_frames`` at config time).
    """
    kwargs: dict[str, Any] = {}
    if not variant.frames_from_video:
        kwargs["num_frames"] = num_frames
    if inputs.image is not None:
        kwargs["image"] = load_image("image", inputs.image)  # checked against the input limits first
    if inputs.last_image is not None:
        kwargs["last_image"] = load_image("last_image", inputs.last_image)
    if inputs.video is not None:
        frames = read_video_frames("video", inputs.video)  # [height, width, rgb] each
        kwargs["video"] = [Image.fromarray(frame) for frame in frames]
    if inputs.reference_images:
        kwargs["reference_images"] = [
            load_image(f"reference_images[{i}]", path) for i, path in enumerate(inputs.reference_images)
        ]
    if inputs.strength is not None:
        kwargs["strength"] = inputs.strength
    return kwargs


def copy_inputs(batch_dir: Path, job: VideoJob) -> int:
    """Copy ``job``'s input files into the batch folder (``inputs/prompt_001/image.png``), once.

    Returns:
        The number of files written (0 when the copies exist already, e.g. on resume).
    """
    written = 0
    for _, source, relative in job.input_copies():
        target = batch_dir / relative
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, source.read_bytes())
            written += 1
    return written


def release_memory(device: torch.device) -> None:
    """Collect garbage and hand cached GPU memory back (between videos)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def generate_video(
    pipe: Any,
    job: VideoJob,
    config: Config,
    batch_dir: Path,
    device: torch.device,
    settings: CaptureSettings,
    maps: MapBackend,
) -> GenerationOutcome:
    """Generate ``job``'s video with the attention capture on, and write its video file and maps.

    Args:
        pipe: The loaded pipeline (of any supported family).
        job: The video to make (prompt, seed, paths).
        config: The batch config (generation and storage options).
        batch_dir: The batch folder; paths of ``job`` are relative to it.
        device: The execution device (the generator is created on it).
        settings: What the capture records.
        maps: The batch's maps (:func:`~attention_visual.pipeline.resume.batch_maps`): the store written
            into, in its layout (the packed store ``attention_maps.zarr`` or ``attention_maps/``).

    Returns:
        Timings and counts.

    Raises:
        StorageError: Writing the video or the maps failed for a storage reason (disk full,
            read-only folder, file too large...): the batch stops.
        Exception: Whatever else the pipeline, the capture or the writers raise (out of memory,
            a bad frame...); the batch records it as this video's failure.
    """
    g, a = config.generation, config.attention_analysis
    variant = describe_pipeline(pipe)
    family = family_of_variant(variant)
    fps = g.video_fps(family, variant)
    inputs = pipeline_inputs(variant, job.inputs, num_frames=g.num_frames)
    # given, or the family's: the pipeline and the capture agree even where a pipeline's own default differs
    inputs["max_sequence_length"] = text_length = max_sequence_length(config, variant)
    fps_argument = family.fps_argument_of(variant)
    if fps_argument is not None:  # the model is told the frame rate the video is saved at
        inputs[fps_argument] = fps
    capture = (
        AttentionCapture(
            pipe,
            job.prompt,
            settings,
            max_sequence_length=text_length,
            num_reference_images=len(job.inputs.reference_images),
        )
        if captures_maps(config, job)
        else None
    )
    generator = torch.Generator(device=device).manual_seed(job.seed)
    frames: np.ndarray | None = None
    try:
        started = time.perf_counter()
        arguments = call_arguments(
            pipe,
            variant,
            {
                "negative_prompt": g.negative_prompt or None,
                "height": g.height,
                "width": g.width,
                **inputs,
                "num_inference_steps": g.num_inference_steps,
                "guidance_scale": g.guidance_scale,
                "num_videos_per_prompt": 1,
                "generator": generator,
                "output_type": "np",
            },
        )  # as the family's pipelines take them
        with capture if capture is not None else contextlib.nullcontext():
            output = pipe(prompt=capture.prompt if capture is not None else job.prompt.clean, **arguments)
        frames = to_uint8_frames(np.asarray(output.frames)[0])  # [frame, height, width, 3]
        del output
        generation_s = time.perf_counter() - started

        started = time.perf_counter()
        with write_faults(batch_dir / job.video_path):
            write_video_file(batch_dir / job.video_path, frames, fps)
        video_write_s = time.perf_counter() - started

        files, capture_save_s = 1, None
        if capture is not None:
            started = time.perf_counter()
            with write_faults(batch_dir / job.attention_maps_path, any_os_error=True):
                paths = capture.save(
                    maps.root,
                    job.video_id,
                    video_dimensions=VideoDimensions(
                        width=g.width, height=g.height, fps=float(fps), frames=int(frames.shape[0])
                    ),
                    storage_format=maps.write_format(a.storage_format),
                    compress=a.compress_attention,
                    store_steps=True,
                    store_aggregated=a.store_aggregated_attention,
                    aggregated_format=a.aggregated_storage_format,
                    model_id=g.model_id,
                    seed=job.seed,
                    mark_complete=True,
                )
            files += len(paths)
            capture_save_s = time.perf_counter() - started
    finally:
        del capture, frames
        release_memory(device)
    log.debug("%s: generated in %.2f s, %d file(s) written", job.video_id, generation_s, files)
    return GenerationOutcome(
        Timings(generation_s=generation_s, capture_save_s=capture_save_s, video_write_s=video_write_s),
        files,
        capture_save_s is not None,
    )


__all__ = [
    "GenerationOutcome",
    "copy_inputs",
    "generate_video",
    "pipeline_inputs",
    "release_memory",
    "to_uint8_frames",
    "write_video_file",
]

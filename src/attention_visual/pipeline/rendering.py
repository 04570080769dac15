"""The batch's automatic attention videos: per video (as it finishes) and at the end of the batch.

For every marked word of a video two files are rendered with
:class:`~attention_visual.visualization.attention_visualizer.AttentionVisualizer`:

* ``<video_id>_<word_dir>_attention.<video_format>``: the step video (the map over the denoising steps);
* ``<video_id>_<word_dir>_overlay.<video_format>``: the step-averaged map over the generated video.

``auto_generate_per_video`` puts them in ``videos/prompt_NNN/attention_videos/``,
``auto_generate_videos`` in the batch's ``attention_videos/``. A render that fails is logged and
recorded (:class:`~attention_visual.storage.batch.manifest.RenderRecord` with ``status="failed"``); it never
touches the generated video or its maps, and the batch goes on. A file that already exists is a
finished render (the writer is atomic) and is not redone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from attention_visual.config import Config
from attention_visual.pipeline.plan import RENDER_KINDS, VideoJob
from attention_visual.storage.batch.manifest import RenderRecord, one_line
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.visualization.attention_visualizer import AttentionVisualizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderOutcome:
    """The renders of one video at one stage.

    Attributes:
        records: One per word and kind, in order.
        seconds: Time spent rendering.
        files_written: Renders written by this call (existing files are not counted).
    """

    records: tuple[RenderRecord, ...]
    seconds: float
    files_written: int


def make_visualizer(config: Config, batch_dir: Path) -> AttentionVisualizer:
    """A visualizer over the batch's maps (whichever layout holds them) with the config's ``visualization_params``."""
    params = config.attention_analysis.visualization_params
    return AttentionVisualizer.from_params(batch_dir, params)


def render_video(
    visualizer: AttentionVisualizer,
    job: VideoJob,
    batch_dir: Path,
    stage: str,
    video_format: str,
) -> RenderOutcome:
    """Render the step video and the overlay of every marked word of ``job``.

    Args:
        visualizer: Reads the batch's maps.
        job: A finished video (its file and maps exist).
        batch_dir: The batch folder.
        stage: ``"per_video"`` or ``"batch_end"`` (decides the folder).
        video_format: ``mp4`` | ``avi`` | ``gif``.

    Returns:
        One record per word and kind; failures are recorded, not raised (``KeyboardInterrupt`` is).

    Raises:
        StorageError: A render failed because the disk is full or read-only
            (see :mod:`attention_visual.storage.durable.faults`).
    """
    started = time.perf_counter()
    records: list[RenderRecord] = []
    written = 0
    original = batch_dir / job.video_path
    for word in job.words:
        for kind in RENDER_KINDS:
            rel = job.attention_video_path(word, kind, video_format, stage)
            output = batch_dir / rel
            if output.is_file():
                log.debug("%s exists: not rendered again", rel)
                records.append(RenderRecord(word, kind, stage, rel, "done"))
                continue
            try:
                visualizer.generate_attention_video(
                    job.video_id,
                    word,
                    output,
                    original_video_path=original if kind == "overlay" else None,
                    video_format=video_format,
                )
            except Exception as exc:  # a failed render must never stop the batch or lose a video
                fault = storage_fault(exc, output)
                if fault is not None:  # ...but a full or read-only disk ends it (every write would fail)
                    raise fault from exc
                log.error("%s: rendering the %s video of %r failed: %s", job.video_id, kind, word, one_line(exc))
                log.debug("render failure details", exc_info=True)
                records.append(RenderRecord(word, kind, stage, rel, "failed", one_line(exc)))
                continue
            written += 1
            records.append(RenderRecord(word, kind, stage, rel, "done"))
    return RenderOutcome(tuple(records), time.perf_counter() - started, written)


__all__ = ["RenderOutcome", "make_visualizer", "render_video"]

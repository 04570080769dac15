"""Write a batch's report: collect the batch, make the missing images, write ``report/index.html``.

Layout under the batch folder::

    report/index.html                               the page (opens from file://, no server)
    report/maps/<video_id>/<word_dir>.png          one sprite per word: steps × (mean + latent frames)
    report/maps/<video_id>/<word_dir>.json         its layout, labels and normalisation (and freshness)
    report/plots/<video_id>_temporal.png            the temporal comparison plot of a video's words
    report/plots/<video_id>_temporal.json           its freshness record

Images are redone only when their maps changed (or the colormap/normalisation did), so writing the
report again after a resumed batch costs little.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import quote

from attention_visual.config import load_config
from attention_visual.errors import AttentionDataError, AttentionVisualError, ConfigError, NotFoundError, StorageError
from attention_visual.render.colormap import check_colormap
from attention_visual.render.options import NORMALIZATIONS
from attention_visual.report.batch_view import build_batch_view
from attention_visual.report.collect import (
    INDEX_FILE,
    MAPS_DIR,
    PLOTS_DIR,
    REPORT_DIR,
    ReportView,
    VideoView,
    collect_batch,
)
from attention_visual.report.html import render_page
from attention_visual.report.images import write_comparison, write_sprite
from attention_visual.storage.batch.layout import CONFIG_FILE
from attention_visual.storage.batch.manifest import now_iso, one_line
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.storage.durable.faults import storage_fault
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

log = logging.getLogger(__name__)


def render_settings(batch_dir: Path) -> tuple[str, str]:
    """``(colormap, normalization)`` of the batch's ``config.yaml``; ``("hot", "global")`` without one."""
    config_path = batch_dir / CONFIG_FILE
    if config_path.is_file():
        try:
            params = load_config(config_path).attention_analysis.visualization_params
            return params.colormap, params.normalization
        except ConfigError as exc:
            log.warning("cannot read %s (%s): using the default colormap", config_path, one_line(exc))
    return "hot", "global"


def _unreadable(exc: AttentionVisualError) -> bool:
    """A map file that could not be read (damaged, refused, an I/O fault), not one that was never stored."""
    return isinstance(exc, AttentionDataError | StorageError) and not isinstance(exc, NotFoundError)


def _video_images(
    view: ReportView, video: VideoView, report_dir: Path, colormap: str, normalization: str, comparison_plots: bool
) -> None:
    """Fill in ``video``'s sprites and comparison plot, writing those that are not up to date; note the
    map files that cannot be read in ``view.unreadable``."""
    video_id = video.record.video_id
    if video.maps_dir is None:
        reason = "no maps stored" if video.record.status == "done" else f"no maps ({video.record.status})"
        for word in video.words:
            word.map_error = reason
        return
    analyzer = AttentionAnalyzer(video.maps_dir.parent)
    available = set(analyzer.get_available_words(video_id))
    for word in video.words:
        if word.word not in available:
            word.map_error = f"no maps stored for this word ({video.record.status})"
            continue
        relative = f"{MAPS_DIR}/{video_id}/{word.word_dir}.png"
        try:
            word.sprite_info = write_sprite(
                analyzer, video_id, word.word, report_dir / relative, colormap, normalization
            )
            word.sprite = quote(relative, safe="/")
        except AttentionVisualError as exc:
            log.warning("no map for %r of %s: %s", word.word, video_id, one_line(exc))
            word.map_error = one_line(exc)
            if _unreadable(exc):
                view.unreadable.append(one_line(str(exc)))
    words = [w.word for w in video.words if w.sprite_info is not None]
    if comparison_plots and words:
        relative = f"{PLOTS_DIR}/{video_id}_temporal.png"
        try:
            write_comparison(analyzer, video_id, words, report_dir / relative, colormap)
            video.comparison = quote(relative, safe="/")
        except AttentionVisualError as exc:
            log.warning("no comparison plot for %s: %s", video_id, one_line(exc))
            video.comparison_error = one_line(exc)


def resolve_look(batch_dir: Path, colormap: str | None, normalization: str | None) -> tuple[str, str]:
    """The checked ``(colormap, normalization)``: the ones given, else the batch config's (:func:`render_settings`).

    Raises:
        RenderError: Unknown colormap.
        ConfigError: Unknown normalisation.
    """
    default_cmap, default_norm = render_settings(batch_dir)
    colormap = check_colormap(colormap or default_cmap)
    normalization = normalization or default_norm
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    return colormap, normalization


def build_view(
    batch_dir: Path,
    colormap: str | None = None,
    normalization: str | None = None,
    comparison_plots: bool = True,
    report_dir: Path | None = None,
) -> ReportView:
    """Collect ``batch_dir`` and write the images of its report into ``report_dir`` (default
    ``BATCH/report``); return the filled-in view."""
    colormap, normalization = resolve_look(batch_dir, colormap, normalization)
    view = collect_batch(batch_dir, report_dir)
    report_dir = report_dir if report_dir is not None else batch_dir / REPORT_DIR
    for n, video in enumerate(view.videos, start=1):
        try:
            _video_images(view, video, report_dir, colormap, normalization, comparison_plots)
        except (AttentionDataError, StorageError) as exc:  # an unreadable store folder: report it, keep going
            log.warning("cannot read the maps of %s: %s", video.record.video_id, one_line(exc))
            for word in video.words:
                word.map_error = word.map_error or one_line(exc)
            if _unreadable(exc):
                view.unreadable.append(one_line(str(exc)))
        if n % 10 == 0:
            log.info("report: %d/%d videos", n, len(view.videos))
    return view


def write_report(
    batch_dir: Path | str,
    *,
    colormap: str | None = None,
    normalization: str | None = None,
    comparison_plots: bool = True,
    batch_view: bool = True,
    output_dir: Path | str | None = None,
) -> Path:
    """Write ``BATCH_DIR/report/index.html`` and its images; return the page's path.

    Args:
        batch_dir: A batch folder (``outputs/<batch>``, with ``manifest.json``).
        colormap: Colormap of the map sprites; default: the batch config's, else ``hot``.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``; default: the batch
            config's, else ``global``.
        comparison_plots: Also make each video's temporal comparison plot (matplotlib, ~1 s each).
        batch_view: Also make the batch view (statistics table, seed grids, curves, centroid paths,
            atlas; see :mod:`attention_visual.report.batch_view`), cached between runs.
        output_dir: Write the report there instead of ``BATCH_DIR/report`` (a read-only batch can be
            browsed this way); its links to the batch's videos are relative, so keep both where they are.

    Raises:
        NotFoundError: Not a batch folder.
        AttentionDataError: Its manifest is unreadable; or, **after** the page is written (it marks
            them), map files could not be read (damaged, truncated, refused): the message names the
            first and counts the others.
        RenderError: Unknown colormap.
        ConfigError: Unknown normalisation.
        StorageError: A file of the report cannot be written (read-only folder, disk full...).

    Example:
        >>> write_report("outputs/batch")
        PosixPath('outputs/batch/report/index.html')
    """
    started = time.perf_counter()
    batch_dir = Path(batch_dir)
    report_dir = Path(output_dir) if output_dir is not None else batch_dir / REPORT_DIR
    index = report_dir / INDEX_FILE
    try:
        view = build_view(batch_dir, colormap, normalization, comparison_plots, report_dir)
        batch = None
        if batch_view:
            look = resolve_look(batch_dir, colormap, normalization)
            batch = build_batch_view(batch_dir, report_dir, *look)
        atomic_write_text(index, render_page(view, generated=now_iso(), batch=batch))
    except Exception as exc:
        fault = storage_fault(exc, index)
        if fault is None:
            raise
        hint = "to browse a read-only batch, write its report elsewhere with --output DIR"
        raise StorageError(f"{fault}; {hint}") from exc
    log.info("wrote %s (%d videos) in %.1f s", index, len(view.videos), time.perf_counter() - started)
    if view.unreadable:
        more = f" (and {len(view.unreadable) - 1} more)" if len(view.unreadable) > 1 else ""
        raise AttentionDataError(f"{view.unreadable[0]}{more}; the report {index} marks the unreadable maps")
    return index


__all__ = ["build_view", "render_settings", "resolve_look", "write_report"]

"""Write a batch's report: each video's assets once (:mod:`.video_assets`), then the page from them.

Two steps, usable apart:

* :func:`~attention_visual.report.video_assets.build_video_assets` makes one video's assets (its sprites,
  poster, statistics rows, curves and paths); a batch calls it for each video as it finishes, in a worker
  process, beside the generation of the next one.
* :func:`assemble` puts the page together from the assets that exist, in seconds: the cards of the
  videos whose record or assets changed, the batch view's stale parts, ``index.html``. It can run at any
  time during a batch ("see attention patterns evolving as the batch progresses"); a video whose assets
  are not made yet says so on its card.

:func:`write_report` (``attention-visual report``) does both: it makes the missing or stale assets (in
parallel worker processes when there are many), then assembles.

Layout under the report folder (``BATCH_DIR/report`` unless ``--output``)::

    index.html                          the page (opens from file://, no server)
    cards/<video_id>.js                 one card per video, loaded as it nears the screen (.cards)
    cards/index.json                    the cards' hashes (a card is rewritten only when it changed)
    maps/<video_id>/...                 the video's assets (.video_assets)
    batch/view.js                       the batch view, loaded when opened (.batch_html)
    batch/groups/<k>.js                 its word × prompt groups, 25 a file, loaded near the screen
    batch/...                           its table, seed grids, curves, atlas (.batch_view)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from attention_visual.errors import RenderError, StorageError
from attention_visual.report.batch_html import GROUPS_DIR, VIEW_SCRIPT, batch_details, batch_scripts
from attention_visual.report.batch_view import BATCH_DIR, build_batch_view
from attention_visual.report.cards import write_cards
from attention_visual.report.collect import INDEX_FILE, REPORT_DIR, ReportView, collect_batch
from attention_visual.report.disk import write_if_changed
from attention_visual.report.html import render_page
from attention_visual.report.look import resolve_look
from attention_visual.report.video_assets import (
    POSTER_FILE,
    VideoAssets,
    assets_key,
    build_video_assets,
    current_assets,
    make_posters,
    read_video_assets,
    video_dir,
)
from attention_visual.storage.batch.layout import output_conflict
from attention_visual.storage.batch.manifest import VideoRecord, now_iso
from attention_visual.storage.durable.atomic import atomic_write_text
from attention_visual.storage.durable.faults import storage_fault

log = logging.getLogger(__name__)

MAX_WORKERS = 4
"""At most this many worker processes make the missing assets of a cold report..."""
VIDEOS_PER_WORKER = 8
"""...and one per this many videos to make (starting a process costs about a second)."""


def assemble(
    batch_dir: Path | str,
    *,
    report_dir: Path | str | None = None,
    colormap: str | None = None,
    normalization: str | None = None,
    comparison_plots: bool = True,
    batch_view: bool = True,
) -> Path:
    """Put ``report/index.html`` together from the videos' assets as they are now; return the page's path.

    Reads the manifest and status files and each video's ``assets.json``; reads maps only for the seed
    groups whose videos changed. Safe to call while a batch runs (every file is replaced atomically).

    Args:
        batch_dir: A batch folder (``outputs/<batch>``, with ``manifest.json``).
        report_dir: The report's folder (default ``BATCH_DIR/report``).
        colormap: Of the seed grids; default the batch config's, else ``hot`` (the videos' sprites keep
            the look they were made with: :func:`write_report` remakes them).
        normalization: Likewise.
        comparison_plots: Show each video's curves of its words over steps and frames.
        batch_view: Also make the batch view.

    Raises:
        NotFoundError: Not a batch folder.
        AttentionDataError: Its manifest is unreadable.
        RenderError: Unknown colormap.
        ConfigError: Unknown normalisation.
        OSError: A file of the report cannot be written.
    """
    started = time.perf_counter()
    batch_dir = Path(batch_dir)
    report_dir = Path(report_dir) if report_dir is not None else batch_dir / REPORT_DIR
    look = resolve_look(batch_dir, colormap, normalization)
    view = collect_batch(batch_dir, report_dir)
    assets = {v.record.video_id: read_video_assets(report_dir, v.record.video_id) for v in view.videos}
    write_cards(view, assets, report_dir, comparison_plots)
    details, script = "", None
    if batch_view:
        batch = build_batch_view(view, assets, report_dir, look)
        scripts = batch_scripts(batch)
        for relative, text in scripts.items():
            write_if_changed(report_dir / relative, text)
        for old in (report_dir / BATCH_DIR / GROUPS_DIR).glob("*.js"):  # files of groups no longer there
            if old.relative_to(report_dir).as_posix() not in scripts:
                old.unlink()
        details, script = batch_details(batch), VIEW_SCRIPT
    index = report_dir / INDEX_FILE
    atomic_write_text(index, render_page(view, generated=now_iso(), batch_section=details, batch_view=script))
    log.info("assembled %s (%d videos) in %.1f s", index, len(view.videos), time.perf_counter() - started)
    return index


def _stale(view: ReportView, report_dir: Path, look: tuple[str, str]) -> list[VideoRecord]:
    """The records of the videos whose assets are missing, damaged, or made from other maps or another look."""
    stale = []
    for video in view.videos:
        key, _ = assets_key(view.batch_dir, video.record, *look)
        if current_assets(report_dir, video.record.video_id, key) is None:
            stale.append(video.record)
    return stale


def _build_all(
    batch_dir: Path, records: list[VideoRecord], report_dir: Path, look: tuple[str, str]
) -> Iterator[VideoAssets]:
    """Make the assets of ``records``: in this process for a few, else in worker processes (spawned)."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1, len(records) // VIDEOS_PER_WORKER)
    posters = [
        (batch_dir / r.paths.video, video_dir(report_dir, r.video_id) / POSTER_FILE) for r in records if r.paths.video
    ]
    if len(posters) > 1:
        make_posters(posters)  # one ffmpeg process per 32 videos, not one each
    if workers < 2:
        for record in records:
            yield build_video_assets(batch_dir, record.video_id, record=record, report_dir=report_dir,
                                     colormap=look[0], normalization=look[1])  # fmt: skip
        return
    context = multiprocessing.get_context("spawn")  # never fork: the caller may hold CUDA or threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: list[Future[VideoAssets]] = [
            pool.submit(
                build_video_assets,
                batch_dir,
                r.video_id,
                record=r,
                report_dir=report_dir,
                colormap=look[0],
                normalization=look[1],
            )
            for r in records
        ]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def unreadable_maps(batch_dir: Path | str, report_dir: Path | str | None = None) -> list[str]:
    """One line per map file of the batch that the report could not read (damaged, refused, an I/O fault),
    from the videos' assets as they are now (the page marks them too)."""
    batch_dir = Path(batch_dir)
    report_dir = Path(report_dir) if report_dir is not None else batch_dir / REPORT_DIR
    found = []
    for video in collect_batch(batch_dir, report_dir).videos:
        assets = read_video_assets(report_dir, video.record.video_id)
        found += assets.unreadable_maps() if assets is not None else []
    return found


def write_report(
    batch_dir: Path | str,
    *,
    colormap: str | None = None,
    normalization: str | None = None,
    comparison_plots: bool = True,
    batch_view: bool = True,
    output_dir: Path | str | None = None,
) -> Path:
    """Write ``BATCH_DIR/report/index.html``: make the missing or stale assets, then :func:`assemble`.

    Args:
        batch_dir: A batch folder (``outputs/<batch>``, with ``manifest.json``).
        colormap: Colormap of the map sprites; default: the batch config's, else ``hot``.
        normalization: ``global`` | ``per_step`` | ``per_frame`` | ``percentile``; default: the batch
            config's, else ``global``.
        comparison_plots: Show each video's curves of its words over steps and frames (SVG, cheap).
        batch_view: Also make the batch view (statistics table, seed grids, curves, centroid paths,
            atlas; see :mod:`attention_visual.report.batch_view`).
        output_dir: Write the report there instead of ``BATCH_DIR/report`` (a read-only batch can be
            browsed this way); its links to the batch's videos are relative, so keep both where they are.
            Never inside a map store nor onto the batch's own files (its videos, status files…).

    Raises:
        RenderError: Unknown colormap, or ``output_dir`` inside a map store or onto a file of the batch.
        NotFoundError: Not a batch folder.
        AttentionDataError: Its manifest is unreadable.
        ConfigError: Unknown normalisation.
        StorageError: A file of the report cannot be written (read-only folder, disk full...).

    Example:
        >>> write_report("outputs/batch")
        PosixPath('outputs/batch/report/index.html')
    """
    started = time.perf_counter()
    batch_dir = Path(batch_dir)
    report_dir = Path(output_dir) if output_dir is not None else batch_dir / REPORT_DIR
    conflict = output_conflict(report_dir, batch_dir, own=REPORT_DIR)
    if conflict is not None:
        raise RenderError(f"cannot write the report into {report_dir}: {conflict}; choose another --output")
    look = resolve_look(batch_dir, colormap, normalization)
    index = report_dir / INDEX_FILE
    try:
        stale = _stale(collect_batch(batch_dir, report_dir), report_dir, look)
        for n, _ in enumerate(_build_all(batch_dir, stale, report_dir, look), start=1):
            if n % 50 == 0:
                log.info("report: assets of %d/%d videos", n, len(stale))
        index = assemble(
            batch_dir,
            report_dir=report_dir,
            colormap=look[0],
            normalization=look[1],
            comparison_plots=comparison_plots,
            batch_view=batch_view,
        )
    except Exception as exc:
        fault = storage_fault(exc, index)
        if fault is None:
            raise
        hint = "to browse a read-only batch, write its report elsewhere with --output DIR"
        raise StorageError(f"{fault}; {hint}") from exc
    log.info("wrote %s (%d videos made) in %.1f s", index, len(stale), time.perf_counter() - started)
    return index


__all__ = ["assemble", "unreadable_maps", "write_report"]

"""The batch's background work: render workers fed as videos finish, and the running batch's refresh.

:class:`Background` owns the :class:`~attention_visual.pipeline.workers.WorkerPool` of one process
(under ``torchrun`` every rank has its own) and its progress bar. The batch hands it each finished
video's work (:class:`~attention_visual.pipeline.render_tasks.VideoWork`) and calls :meth:`collect`
between videos: the work finished meanwhile is passed to the batch's ``record`` callback, which writes
the video's status file (status files stay the batch process's). Rank 0 also calls :meth:`refresh`:
every :data:`REFRESH_MIN_S` seconds at most (and never more than a fifth of the time), ahead of the
queued renders, a worker rewrites ``manifest.json`` from the status files and puts the report page together
from the assets made so far, so the page can be watched while the batch runs.

The pool starts with the first task (a batch with nothing to render starts no process).

Example:
    >>> background = Background(render_workers("auto", RankContext()), show=False, record=print)  # doctest: +SKIP
    >>> background.submit(work); background.drain(); background.close()                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from tqdm import tqdm

from attention_visual.config.limits import MAX_AUTO_RENDER_WORKERS
from attention_visual.pipeline.distributed import RankContext
from attention_visual.pipeline.render_tasks import (
    RefreshWork,
    VideoWork,
    VideoWorkDone,
    failed_work,
    make_video_files,
    refresh_batch,
)
from attention_visual.pipeline.workers import Done, WorkerPool

log = logging.getLogger(__name__)

#: Videos that may wait for a render worker, per worker, before the generation waits for them.
QUEUED_PER_WORKER = 1
#: Shortest time between two refreshes of a running batch's manifest and report page.
REFRESH_MIN_S = 10.0
#: ...and at least this many times the last refresh's own duration (a refresh takes ≤ 1/5 of a worker).
REFRESH_SPACING = 5.0
_REFRESH_KEY = "refresh"


def render_workers(setting: int | str, ctx: RankContext) -> int:
    """The number of render workers of ``attention_analysis.render_workers``.

    ``auto``: the cores this process may use, shared among the ranks of this node, less one for the
    generation itself, at least 1 and at most :data:`~attention_visual.config.limits.MAX_AUTO_RENDER_WORKERS`.
    """
    if setting != "auto":
        return int(setting)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_AUTO_RENDER_WORKERS, cores // ctx.local_world_size - 1))


class Background:
    """One process's render workers; see the module docstring.

    Args:
        workers: Worker processes (:func:`render_workers`); 0 does the work in this process, at submit.
        show: Show the render queue's progress bar (below the generation's).
        record: Called in this process with each finished video's work and what it made.
    """

    def __init__(self, workers: int, *, show: bool, record: Callable[[VideoWork, VideoWorkDone], None]) -> None:
        self.workers = workers
        self.show = show
        self._record = record
        self._pool: WorkerPool | None = None
        self._bar: tqdm | None = None  # type: ignore[type-arg]
        self._work: dict[str, VideoWork] = {}  # submitted and not recorded yet, by key
        self._refreshing = False
        self._next_refresh = time.monotonic() + REFRESH_MIN_S

    @property
    def waited_s(self) -> float:
        """Seconds the generation waited for a place in the queue."""
        return self._pool.waited_s if self._pool is not None else 0.0

    @property
    def pending(self) -> int:
        """Videos whose work is submitted and not recorded yet."""
        return len(self._work)

    def submit(self, work: VideoWork) -> None:
        """Hand ``work`` to the workers; waits while the queue is full (then records what finished)."""
        key = f"{work.stage}:{work.job.video_id}"
        pool = self._started()
        if self._bar is not None:
            self._bar.total = (self._bar.total or 0) + 1
            self._bar.refresh()
        self._work[key] = work
        pool.submit(key, make_video_files, work)
        self.collect()

    def collect(self) -> None:
        """Record the work finished since the last call (never waits)."""
        if self._pool is not None:
            self._handle(self._pool.poll())

    def refresh(self, make: Callable[[], RefreshWork]) -> None:
        """Queue a refresh of the manifest and the report page (``make()``), first in line, if one is due."""
        if self._pool is None or self._refreshing or time.monotonic() < self._next_refresh:
            return
        if self._pool.submit_next(_REFRESH_KEY, refresh_batch, make()):
            self._refreshing = True
            self._next_refresh = float("inf")  # set when it ends, from its duration

    def drain(self) -> None:
        """Wait until every submitted work is finished and recorded (the refresh in flight too)."""
        if self._pool is not None:
            self._pool.wait_all(on_done=self._handle)

    def stop(self) -> None:
        """After an interruption: stop the workers at once, record what they finished before."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        finished = pool.stop()
        self._handle(finished)
        if self._work:
            log.info("%d video(s) have attention videos or report assets left to make: the rerun makes them",
                     len({w.job.video_id for w in self._work.values()}))  # fmt: skip
        self._close_bar()

    def close(self) -> None:
        """End the workers (after :meth:`drain`, or after a failure: what is still queued is dropped)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            if pool.in_flight:
                pool.stop()
            else:
                pool.close()
        self._close_bar()

    def _started(self) -> WorkerPool:
        if self._pool is None:
            queue = max(1, self.workers * QUEUED_PER_WORKER)
            self._pool = WorkerPool(self.workers, queue)
            self._bar = tqdm(total=0, unit="video", desc="attention videos", position=1, disable=not self.show)
            if self.workers:
                log.info("rendering in %d worker process(es) beside the generation", self.workers)
        return self._pool

    def _handle(self, finished: list[Done]) -> None:
        for done in finished:
            if done.key == _REFRESH_KEY:
                self._refreshing = False
                took = done.value if isinstance(done.value, float) else 0.0
                self._next_refresh = time.monotonic() + max(REFRESH_MIN_S, REFRESH_SPACING * took)
                log.debug("refreshed the manifest and the report page in %.1f s", took)
                continue
            work = self._work.pop(done.key, None)
            if work is None:
                continue
            outcome = done.value if done.error is None else failed_work(work, done.error)
            if self._bar is not None:
                self._bar.update(1)
                self._bar.set_postfix(queued=self._pool.queued if self._pool is not None else 0, refresh=False)
            self._record(work, outcome)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = ["QUEUED_PER_WORKER", "REFRESH_MIN_S", "REFRESH_SPACING", "Background", "render_workers"]

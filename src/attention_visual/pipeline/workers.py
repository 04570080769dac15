"""A small pool of worker processes that does the batch's CPU work beside the generation.

The batch hands each finished video's renders to a :class:`WorkerPool` and goes on generating the
next one. How it works:

* Workers are **spawned** (a fresh interpreter, ``multiprocessing``'s ``spawn`` start method): a
  process that has initialised CUDA must never be forked. They import only what their tasks need
  (numpy, the renderers, the report), never torch.
* A **bounded queue**: :meth:`WorkerPool.submit` waits while ``queue_size`` tasks are waiting for a
  worker, so a generation faster than its renders is held back (backpressure) instead of piling up
  work that a kill would lose; the time spent waiting is counted (:attr:`WorkerPool.waited_s`).
* A dispatcher thread of the calling process hands queued tasks to idle workers over one pipe per
  worker (no lock shared between processes, so a worker killed at any moment cannot wedge the
  others), collects their results and passes their log records to this process's loggers.
* A worker that dies (killed, out of memory) fails the task it held (:attr:`Done.error`) and is
  replaced; the others go on.
* Signals: a terminal's Ctrl-C reaches every process of the foreground group, so workers ignore
  SIGINT and SIGHUP and leave the decision to the batch, which calls :meth:`WorkerPool.stop`:
  SIGTERM makes a worker raise :class:`~attention_visual.pipeline.signals.Interrupted` in its task,
  so an encoder stops its ffmpeg and removes its temporary file, and the worker exits. A worker
  whose parent dies (``kill -9``) gets the same SIGTERM from a watchdog thread, at once.

``workers=0`` runs every task in the calling process, at :meth:`submit` (no process, no thread):
the batch's ``render_workers: 0``.

Example:
    >>> with WorkerPool(2, queue_size=2) as pool:  # doctest: +SKIP
    ...     pool.submit("a", math.sqrt, 16.0)
    ...     [(d.key, d.value) for d in pool.wait_all()]
    [('a', 4.0)]
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from attention_visual.pipeline.signals import signals_held
from attention_visual.pipeline.worker_process import worker_main
from attention_visual.storage.batch.manifest import one_line

log = logging.getLogger(__name__)

#: How long :meth:`WorkerPool.stop` lets a worker clean up after SIGTERM before it is killed.
STOP_GRACE_S = 5.0
#: How long :meth:`WorkerPool.close` waits for a worker to finish after it was asked to.
CLOSE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Done:
    """A finished task.

    Attributes:
        key: The key it was submitted with.
        value: What the task function returned (None when it failed).
        error: One line when the function raised or its worker died, else None.
    """

    key: str
    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class _Task:
    key: str
    fn: Callable[[Any], Any]
    arg: Any


class _Worker:
    """One worker process and the calling side of its pipe."""

    def __init__(self, context: Any, index: int, log_level: int) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=worker_main, args=(child, log_level), name=f"attention-visual-worker-{index}", daemon=True
        )
        # multiprocessing starts its resource tracker at the first start and unblocks SIGINT and SIGTERM
        # after it: started first, it cannot undo the block that signals_held hands to the child.
        resource_tracker.ensure_running()
        with signals_held():  # a signal now would leave the child half-started (see signals_held)
            self.process.start()
        child.close()
        self.task: _Task | None = None
        self.ended = False


class WorkerPool:
    """Worker processes with a bounded task queue; see the module docstring.

    Args:
        workers: Worker processes; 0 runs tasks in this process, at :meth:`submit`.
        queue_size: Tasks that may wait for a worker before :meth:`submit` waits (at least 1).
        context: The ``multiprocessing`` start method: ``spawn`` or ``forkserver`` (never ``fork``).

    The workers start with the pool; use it as a context manager (or call :meth:`close`).
    """

    def __init__(self, workers: int, queue_size: int, *, context: str = "spawn") -> None:
        if context not in ("spawn", "forkserver"):
            raise ValueError(f"start method must be 'spawn' or 'forkserver' (never fork), got {context!r}")
        self.workers = max(0, workers)
        self.queue_size = max(1, queue_size)
        self.waited_s = 0.0
        self.submitted = 0
        self._queue: deque[_Task] = deque()
        self._done: deque[Done] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._ended = False
        self._pool: list[_Worker] = []
        self._thread: threading.Thread | None = None
        if self.workers == 0:
            return
        self._context = multiprocessing.get_context(context)
        self._level = logging.getLogger("attention_visual").getEffectiveLevel()
        self._wake_read, self._wake_write = self._context.Pipe(duplex=False)
        self._pool = [_Worker(self._context, i, self._level) for i in range(self.workers)]
        self._thread = threading.Thread(target=self._dispatch, name="attention-visual-dispatcher", daemon=True)
        self._thread.start()
        log.debug("started %d worker process(es)", self.workers)

    # -- the calling side ---------------------------------------------------------------------------
    def submit(self, key: str, fn: Callable[[Any], Any], arg: Any) -> None:
        """Queue ``fn(arg)`` (``fn`` a module-level function, ``arg`` picklable); wait while the queue is full.

        With ``workers=0`` the task runs now, here; an exception it raises is its :attr:`Done.error`
        (``KeyboardInterrupt`` propagates).
        """
        if self._ended:
            raise RuntimeError("the worker pool is closed")
        self.submitted += 1
        if self.workers == 0:
            try:
                done = Done(key, fn(arg))
            except Exception as exc:
                log.debug("task %s failed", key, exc_info=True)
                done = Done(key, error=one_line(exc))
            self._done.append(done)
            return
        started = time.perf_counter()
        with self._cond:
            while len(self._queue) >= self.queue_size and not self._closing:
                self._cond.wait(0.5)
            self._queue.append(_Task(key, fn, arg))
        self.waited_s += time.perf_counter() - started
        self._wake()

    def submit_next(self, key: str, fn: Callable[[Any], Any], arg: Any) -> bool:
        """Queue ``fn(arg)`` ahead of the waiting tasks, never waiting (the queue may exceed its size by it).

        For small periodic work that must not starve behind a long queue. Returns False, running
        nothing, with ``workers=0`` (background-only work is skipped) or once the pool is closed.
        """
        if self.workers == 0 or self._ended:
            return False
        with self._cond:
            self._queue.appendleft(_Task(key, fn, arg))
        self.submitted += 1
        self._wake()
        return True

    def poll(self) -> list[Done]:
        """The tasks finished since the last call (never waits)."""
        with self._cond:
            done = list(self._done)
            self._done.clear()
        return done

    @property
    def queued(self) -> int:
        """Tasks waiting for a worker."""
        with self._cond:
            return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Tasks queued or running."""
        with self._cond:
            return len(self._queue) + sum(w.task is not None for w in self._pool)

    def wait_all(self, on_done: Callable[[list[Done]], None] | None = None) -> list[Done]:
        """Wait until every submitted task is finished; return those not returned before.

        Args:
            on_done: Called (in this thread) with each batch of finished tasks as they come, e.g. to
                record them and move a progress bar; they are then not returned.
        """
        collected: list[Done] = []
        while True:
            with self._cond:
                idle = not self._queue and all(w.task is None for w in self._pool)
                if not idle and not self._done:
                    self._cond.wait(0.2)
            done = self.poll()
            if on_done is not None and done:
                on_done(done)
            elif done:
                collected.extend(done)
            if idle and not done:
                return collected

    def stop(self) -> list[Done]:
        """Drop the queued tasks, stop the workers (SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`).

        Returns:
            The tasks that finished before the workers stopped and were not returned yet; a task
            dropped or cut short is not among them.
        """
        dropped = self._begin_closing(STOP_GRACE_S)
        if self._pool:
            log.debug("stopping %d worker(s); %d queued task(s) dropped", len(self._pool), dropped)
        for worker in self._pool:
            if not worker.ended:
                with contextlib.suppress(OSError):
                    worker.process.terminate()
        self._end()
        return self.poll()

    def close(self) -> None:
        """Let the workers finish their current tasks, then end them (queued tasks are dropped)."""
        self._begin_closing(CLOSE_TIMEOUT_S)
        for worker in self._pool:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        self._end()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.stop()

    def _begin_closing(self, grace: float) -> int:
        """Stop handing out tasks; the workers get ``grace`` seconds to end before they are killed."""
        with self._cond:
            dropped = len(self._queue)
            self._queue.clear()
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + grace
            self._cond.notify_all()
        return dropped

    def _end(self) -> None:
        """Wait for the dispatcher thread, which reaps (or kills) the workers, then close the pipes."""
        self._ended = True
        self._wake()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for worker in self._pool:
            worker.conn.close()
        if self._pool:
            self._wake_read.close()
            self._wake_write.close()
        self._pool = []

    def _wake(self) -> None:
        """Wake the dispatcher thread (it waits on the workers' pipes and this one)."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._wake_write.send_bytes(b"")

    # -- the dispatcher thread: it alone hands out tasks and reaps processes ------------------------
    def _dispatch(self) -> None:
        try:
            while True:
                with self._cond:
                    closing = self._closing
                    for worker in self._pool:
                        if self._queue and worker.task is None and not closing:
                            worker.task = self._queue.popleft()
                            self._send(worker)
                    self._cond.notify_all()
                live = [w for w in self._pool if not w.ended]
                if closing and not live:
                    return
                if closing and time.monotonic() > self._deadline:
                    for worker in live:  # (one still starting up has nothing to lose)
                        level = logging.WARNING if worker.task is not None else logging.DEBUG
                        log.log(level, "worker %s did not stop in time: killing it", worker.process.name)
                        worker.process.kill()
                    self._deadline = float("inf")
                watched: list[Any] = [self._wake_read]
                for worker in live:
                    watched += [worker.conn, worker.process.sentinel]
                for ready in wait(watched, timeout=0.2 if closing else 1.0):
                    self._handle(ready)
        except Exception:  # a bug here must not hang the batch: it sees the tasks fail
            log.exception("the worker dispatcher failed")
            with self._cond:
                for worker in self._pool:
                    if worker.task is not None:
                        self._done.append(Done(worker.task.key, error="the worker dispatcher failed"))
                        worker.task = None
                    if not worker.ended:
                        worker.process.kill()
                self._queue.clear()
                self._closing = True
                self._cond.notify_all()

    def _send(self, worker: _Worker) -> None:
        assert worker.task is not None
        try:
            worker.conn.send((worker.task.key, worker.task.fn, worker.task.arg))
        except (OSError, ValueError) as exc:  # the worker is gone: its sentinel tells the rest
            log.debug("could not hand task %s to %s: %s", worker.task.key, worker.process.name, exc)

    def _handle(self, ready: Any) -> None:
        if ready is self._wake_read:
            with contextlib.suppress(EOFError, OSError):
                while self._wake_read.poll():
                    self._wake_read.recv_bytes()
            return
        for i, worker in enumerate(self._pool):
            if ready is worker.conn:
                self._receive(worker)
                return
            if ready == worker.process.sentinel:
                self._exited(i)
                return

    def _receive(self, worker: _Worker) -> bool:
        """Handle one message of ``worker``; False when its pipe is closed (it died: its sentinel says so too)."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            return False
        kind = message[0]
        if kind == "log":
            record = logging.makeLogRecord(message[1])
            logging.getLogger(record.name).handle(record)
            return True
        with self._cond:
            if worker.task is not None:
                key = worker.task.key
                worker.task = None
                self._done.append(Done(key, value=message[1]) if kind == "done" else Done(key, error=message[1]))
            self._cond.notify_all()
        return True

    def _exited(self, index: int) -> None:
        """Reap worker ``index``; unless the pool is closing, fail the task it held and start another."""
        worker = self._pool[index]
        with contextlib.suppress(OSError):
            while worker.conn.poll() and self._receive(worker):  # what it sent before it ended
                pass
        worker.process.join()
        worker.ended = True
        with self._cond:
            task, worker.task = worker.task, None
            if self._closing:  # stopped on purpose: its task is not done, and not failed either
                return
            if task is not None:
                why = f"its worker process ended unexpectedly (exit status {worker.process.exitcode})"
                log.error("%s: %s", task.key, why)
                self._done.append(Done(task.key, error=why))
                self._cond.notify_all()
        log.warning("worker %s ended (exit status %s): starting another", worker.process.name, worker.process.exitcode)
        worker.conn.close()
        self._pool[index] = _Worker(self._context, index, self._level)


__all__ = ["CLOSE_TIMEOUT_S", "STOP_GRACE_S", "Done", "WorkerPool"]

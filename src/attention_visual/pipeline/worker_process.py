"""The worker side of :class:`~attention_visual.pipeline.workers.WorkerPool`: what a spawned worker runs.

:func:`worker_main` reads ``(key, fn, arg)`` tasks from its pipe, runs ``fn(arg)`` and sends back
``("done", result)`` or ``("error", one line)``; its log records go back over the same pipe. It ignores
SIGINT and SIGHUP (the batch decides, see :mod:`.workers`; they were blocked while it started:
:func:`~attention_visual.pipeline.signals.signals_held`), turns SIGTERM into
:class:`~attention_visual.pipeline.signals.Interrupted` (so a render stops its ffmpeg and removes its
temporary file) and SIGTERMs itself when its parent process is gone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection, wait
from typing import Any

from attention_visual.pipeline.signals import Interrupted, unblock_signals
from attention_visual.storage.batch.manifest import one_line


class _PipeHandler(logging.Handler):
    """Sends a worker's log records to the pool, which passes them to the same loggers there."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn
        self.sending = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = {"name": record.name, "levelno": record.levelno, "levelname": record.levelname}
            data.update(msg=record.getMessage(), args=None, exc_info=None, exc_text=self.format_exception(record))
            with self.sending:
                self.conn.send(("log", data))
        except Exception:  # a log line must never fail a render
            self.handleError(record)

    def format_exception(self, record: logging.LogRecord) -> str | None:
        if record.exc_info:
            return logging.Formatter().formatException(record.exc_info)
        return record.exc_text


def _raise_interrupted(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the cleanup it starts runs undisturbed
    raise Interrupted(signum)


def _watch_parent() -> None:
    """SIGTERM this worker as soon as its parent process is gone (``kill -9`` of the batch)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_main(conn: Connection, log_level: int) -> None:
    """A worker's loop: run ``(key, fn, arg)`` tasks from ``conn`` and send back each result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides (see the module docstring)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    handler = _PipeHandler(conn)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    _watch_parent()
    try:
        unblock_signals()  # blocked since the pool started this process: a SIGTERM held till now stops it here
        while True:
            try:
                message = conn.recv()
                if message is None:
                    return
                _, fn, arg = message
                result: tuple[str, Any] = ("done", fn(arg))
            except (EOFError, OSError):
                return  # the pool is gone
            except Exception as exc:  # the task failed (or could not even be read: a missing module)
                logging.getLogger(__name__).debug("task failed", exc_info=True)
                result = ("error", one_line(exc))
            with handler.sending:
                conn.send(result)
    except (KeyboardInterrupt, EOFError, OSError):
        return


__all__ = ["worker_main"]

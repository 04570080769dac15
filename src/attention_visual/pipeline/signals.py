"""SIGTERM and SIGHUP handled like Ctrl-C: an exception in the main thread, so cleanup code runs.

SLURM, Kubernetes and ``docker stop`` send SIGTERM before they kill a job; a closed terminal or SSH
session sends SIGHUP. By default either ends Python at once: no ``finally`` block runs, the video
in flight leaves partial files and an ffmpeg child keeps writing. Inside
:func:`interrupts_as_exceptions` they (and SIGINT) raise :class:`Interrupted`, a
``KeyboardInterrupt``, so every ``except KeyboardInterrupt``/``finally`` path of the batch runs:
the video in flight is abandoned and its files removed, ffmpeg is stopped, the manifest and the
summary are written. Only the first signal raises; later ones are logged and ignored while that
cleanup runs (``kill -9`` still ends the process; a rerun then removes what it left).

Python drops an exception raised while a ``__del__`` method or a garbage-collector callback runs
("Exception ignored in ..."), so a signal that arrives at that moment would be lost. The batch calls
:func:`raise_if_swallowed` at its safe points (after each video, before the batch-end work): a signal
that was received but never stopped the run raises there.

Exit status after an interruption: ``128 + signal number``: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).

Example:
    >>> with interrupts_as_exceptions():  # doctest: +SKIP
    ...     run_batch(config, path)      # SIGTERM now raises Interrupted(SIGTERM) in here
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

#: The signals turned into :class:`Interrupted`.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A handled signal arrived: stop, clean up, exit with :attr:`exit_status`.

    Attributes:
        signum: The signal number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """``128 + signum``, the shell's convention: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15 (``signal N`` for a number without a name)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def signal_of(exc: BaseException) -> int:
    """The signal behind an interruption: :class:`Interrupted`'s, else SIGINT (a plain Ctrl-C)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


@contextlib.contextmanager
def interrupts_as_exceptions(signals: tuple[int, ...] = HANDLED_SIGNALS) -> Iterator[None]:
    """Raise :class:`Interrupted` for the first of ``signals``; restore the old handlers on exit.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            log.warning("%s received while stopping: still cleaning up (kill -9 to stop at once)", signal_name(signum))
            return
        received.append(signum)
        raise Interrupted(signum)

    handler.received = received  # type: ignore[attr-defined]  # read by raise_if_swallowed()
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def signals_held(signals: tuple[int, ...] = HANDLED_SIGNALS) -> Iterator[None]:
    """Hold ``signals`` while a child process starts: blocked, and acted on when the block ends.

    A spawned child inherits the blocked mask: a signal sent to it while its interpreter starts waits
    until it has installed its own handlers and unblocks them (``worker_process.worker_main``), instead
    of ending it with a traceback. In the main thread the handlers are swapped for one that only notes
    the signal, so the parent is not interrupted half-way through the start either (a child half-started
    would print ``EOFError: Ran out of input``); a noted signal is handed to the old handler on exit.
    """
    held: list[int] = []
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in signals}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending signal is noted (or handled) now
        for s, old in previous.items():
            signal.signal(s, old)
        for signum in held[:1]:
            old = previous[signum]
            if callable(old):
                old(signum, None)
            elif old == signal.SIG_DFL:
                signal.raise_signal(signum)


def unblock_signals(signals: tuple[int, ...] = HANDLED_SIGNALS) -> None:
    """End the block a child inherited from :func:`signals_held` (after it installed its handlers)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


def raise_if_swallowed() -> None:
    """Raise :class:`Interrupted` for a signal that :func:`interrupts_as_exceptions` received but that did
    not stop the run (its exception was dropped inside a ``__del__`` or a gc callback).

    Call it only on paths that no interruption has reached: there, a received signal was swallowed.
    Outside :func:`interrupts_as_exceptions` it does nothing.
    """
    received = getattr(signal.getsignal(signal.SIGINT), "received", None)
    if received:
        log.warning("%s was received but not acted on: stopping now", signal_name(received[0]))
        raise Interrupted(received[0])


__all__ = [
    "HANDLED_SIGNALS",
    "Interrupted",
    "interrupts_as_exceptions",
    "raise_if_swallowed",
    "signal_name",
    "signal_of",
    "signals_held",
    "unblock_signals",
]

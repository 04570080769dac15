"""Log records said once per command: a warning about the same batch or video from several readers.

A command may open a batch's maps in several places (the report: the page, the batch view, the seed
views), and a reader warns about what it finds (two layouts at once, an unfinished video) each time it
looks. The library logs every time, flagged ``extra={ONCE: True}``; the CLI installs :class:`ShownOnce`
on its log handlers for the command's run, so the user reads each such line once.

Example:
    >>> import logging
    >>> once = ShownOnce()
    >>> record = logging.makeLogRecord({"msg": "video %s is incomplete", "args": ("v1",), ONCE: True})
    >>> once.filter(record), once.filter(record)
    (True, False)
"""

from __future__ import annotations

import logging

ONCE = "once"
"""``extra`` key of a log record that a command shows once however often it is logged."""


class ShownOnce(logging.Filter):
    """Lets a record flagged :data:`ONCE` through the first time its message is seen only (others always)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, ONCE, False):
            return True
        message = record.getMessage()
        if message in self._seen:
            return False
        self._seen.add(message)
        return True


__all__ = ["ONCE", "ShownOnce"]

"""Read ahead: produce the next item of an iterator in a worker thread while the caller works on this one.

Reading a video's maps is mostly decompression (zlib, Blosc) and computing its statistics mostly
numpy loops; both release the GIL, so on two cores the next video is read while this one is computed.
At most one item is read ahead: memory holds two videos, whatever the size of the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")

_END = object()


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield what ``items`` yields, in order, producing each next item in one worker thread.

    ``items`` is only ever advanced by that one thread, one step at a time. An exception it raises is
    raised here, at the item where it happened. Stopping early waits for the item being read.

    >>> list(read_ahead(iter(range(3))))
    [0, 1, 2]
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="attention-visual-read-ahead") as pool:
        pending = pool.submit(next, items, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, items, _END)
            yield cast(T, item)


__all__ = ["read_ahead"]

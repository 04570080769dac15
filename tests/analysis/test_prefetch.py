"""Reading ahead keeps the order, raises where the source raised, and reads at most one item ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from attention_visual.analysis.prefetch import read_ahead

pytestmark = pytest.mark.light


def test_order_and_one_item_ahead() -> None:
    produced: list[int] = []
    threads: set[str] = set()

    def source() -> Iterator[int]:
        for i in range(5):
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i

    seen = []
    for item in read_ahead(source()):
        seen.append(item)
        assert len(produced) <= item + 2  # this one and at most the next
    assert seen == list(range(5))
    assert threads and threading.current_thread().name not in threads  # produced in the worker


def test_an_error_is_raised_at_its_item() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ValueError("bad video")

    got = []
    with pytest.raises(ValueError, match="bad video"):
        for item in read_ahead(source()):
            got.append(item)
    assert got == [1]


def test_stopping_early() -> None:
    it = read_ahead(iter(range(100)))
    assert next(it) == 0
    it.close()  # waits for the one item being read, leaves no thread behind
    assert not [t for t in threading.enumerate() if t.name.startswith("attention-visual-read-ahead")]

"""Whether two stores hold the same maps: every video, word, step and step average, by value.

``pack`` and ``unpack`` check the layout they wrote against the one they read before they delete it;
the repair of a batch holding both layouts checks the one it removes against the one it keeps.
Equal means: the same videos, each finished or not alike, the same completion record (less the files'
sizes and checksums, which belong to the layout), the same words and steps, every map with the same
metadata, dtype, shape and values (NaN equal to NaN).

Example:
    >>> next(differences(open_maps("a/attention_maps"), open_maps("b/attention_maps.zarr")), None)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from attention_visual.errors import NotFoundError
from attention_visual.storage.backend.maps import MapBackend
from attention_visual.storage.backend.protocols import BulkMapReader
from attention_visual.storage.files.store import AttentionInfo
from attention_visual.storage.packed.writer import PACKED_FILES

#: Keys of a completion record that describe the files of one layout, not the maps.
_LAYOUT_KEYS = frozenset({"checksums", PACKED_FILES})


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _aggregated(reader: BulkMapReader, video_id: str, word: str) -> AttentionInfo | None:
    try:
        return reader.read_aggregated(video_id, word)
    except NotFoundError:
        return None


def _record(maps: MapBackend, video_id: str) -> dict[str, object] | None:
    record = maps.complete_record(video_id)
    return None if record is None else {k: v for k, v in record.items() if k not in _LAYOUT_KEYS}


def video_differences(expected: MapBackend, actual: MapBackend, video_id: str) -> Iterator[str]:
    """How ``actual``'s maps of ``video_id`` differ from ``expected``'s (nothing when they are equal)."""
    a, b = expected.reader(), actual.reader()
    where = f"video {video_id}"
    if _record(expected, video_id) != _record(actual, video_id):
        yield f"{where}: completion records differ"
    words = a.list_words(video_id)
    if b.list_words(video_id) != words:
        yield f"{where}: words differ ({words} vs {b.list_words(video_id)})"
        return
    for word in words:
        steps = a.list_steps(video_id, word)
        if b.list_steps(video_id, word) != steps:
            yield f"{where}, word {word!r}: steps differ"
            continue
        if steps:
            (raw_a, metas_a), (raw_b, metas_b) = a.read_steps(video_id, word), b.read_steps(video_id, word)
            if metas_a != metas_b:
                yield f"{where}, word {word!r}: step metadata differ"
            if not _same_array(raw_a, raw_b):
                yield f"{where}, word {word!r}: step maps differ"
            del raw_a, raw_b
        avg_a, avg_b = _aggregated(a, video_id, word), _aggregated(b, video_id, word)
        if (avg_a is None) != (avg_b is None):
            yield f"{where}, word {word!r}: a step average in one store only"
        elif (
            avg_a is not None
            and avg_b is not None
            and (avg_a.metadata != avg_b.metadata or not _same_array(avg_a.attention_map, avg_b.attention_map))
        ):
            yield f"{where}, word {word!r}: step averages differ"


def differences(expected: MapBackend, actual: MapBackend) -> Iterator[str]:
    """How the store ``actual`` differs from ``expected``, video by video (nothing when they hold the same maps).

    Reads one word of one video of each store at a time: memory stays flat whatever the batch's size.
    """
    a, b = expected.reader(), actual.reader()
    videos = a.list_videos(include_incomplete=True)
    if b.list_videos(include_incomplete=True) != videos:
        extra = sorted(set(b.list_videos(include_incomplete=True)) - set(videos))
        missing = sorted(set(videos) - set(b.list_videos(include_incomplete=True)))
        yield f"videos differ: {len(missing)} missing ({', '.join(missing[:3])}), {len(extra)} extra"
        return
    for video_id in videos:
        if a.is_complete(video_id) != b.is_complete(video_id):
            yield f"video {video_id}: finished in one store only"
            continue
        yield from video_differences(expected, actual, video_id)


__all__ = ["differences", "video_differences"]

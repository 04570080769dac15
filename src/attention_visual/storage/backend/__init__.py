"""One batch's maps, whichever layout holds them: the rule of where they are, and the object that reads,
writes, verifies and removes them.

* :mod:`.protocols` — :class:`MapReader`, :class:`BulkMapReader` (reading) and :class:`MapSink` (writing), side by side;
* :mod:`.maps` — :class:`MapBackend`: one store's reader, sink, completion record, verification, removal;
* :mod:`.placement` — :func:`open_maps`: the one rule of which layout holds a batch's maps;
* :mod:`.transaction` — ``pack``/``unpack`` as crash-safe transactions, and :func:`repair_layout`;
* :mod:`.compare` — whether two stores hold the same maps, by value.

Example:
    >>> maps = open_maps("outputs/batch")
    >>> maps.layout, maps.reader().list_videos()
    ('files', ['prompt_001_vid_001'])
    >>> maps.completion_mark("prompt_001_vid_001"), maps.check_video("prompt_001_vid_001")
    ('attention_maps/prompt_001_vid_001/_complete.json', [])
"""

from attention_visual.storage.backend.maps import FILES, PACKED, MapBackend, map_sink
from attention_visual.storage.backend.placement import find_maps, open_maps
from attention_visual.storage.backend.protocols import BulkMapReader, MapReader, MapSink

__all__ = [
    "FILES",
    "PACKED",
    "BulkMapReader",
    "MapBackend",
    "MapReader",
    "MapSink",
    "find_maps",
    "map_sink",
    "open_maps",
]

"""The attention-map store: layout, metadata schema, atomic save, safe load and the reader.

See :mod:`attention_visual.storage.layout` for the folder layout; :class:`AttentionStore` writes it and
:class:`AttentionStoreReader` (a :class:`MapReader`) reads it back.
"""

from attention_visual.storage.layout import token_dir_name
from attention_visual.storage.metadata import (
    ATTENTION_STORAGE_VERSION,
    MapMetadata,
    Reduction,
    TokenGrid,
    VideoDimensions,
)
from attention_visual.storage.reader import AttentionStoreReader, MapReader
from attention_visual.storage.store import AttentionInfo, AttentionStore, read_array, read_map, read_metadata

__all__ = [
    "ATTENTION_STORAGE_VERSION",
    "AttentionInfo",
    "AttentionStore",
    "AttentionStoreReader",
    "MapMetadata",
    "MapReader",
    "Reduction",
    "TokenGrid",
    "VideoDimensions",
    "read_array",
    "read_map",
    "read_metadata",
    "token_dir_name",
]

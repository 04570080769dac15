"""The attention-map store: layout, metadata schema, atomic save and safe load.

See :mod:`attention_visual.storage.layout` for the folder layout.
"""

from attention_visual.storage.layout import token_dir_name
from attention_visual.storage.metadata import (
    ATTENTION_STORAGE_VERSION,
    MapMetadata,
    Reduction,
    TokenGrid,
    VideoDimensions,
)
from attention_visual.storage.store import AttentionInfo, AttentionStore, read_array, read_map, read_metadata

__all__ = [
    "ATTENTION_STORAGE_VERSION",
    "AttentionInfo",
    "AttentionStore",
    "MapMetadata",
    "Reduction",
    "TokenGrid",
    "VideoDimensions",
    "read_array",
    "read_map",
    "read_metadata",
    "token_dir_name",
]

"""The attention-map store, in six parts (subpackages), each importing only those below it:

* :mod:`.schema` — what one map is: its metadata, latent→video frame mapping, leading-axis reduction;
* :mod:`.durable` — atomic writes, storage-fault naming, file digests;
* :mod:`.files` — the files layout (one ``.npz`` + JSON per map under ``attention_maps/``);
* :mod:`.packed` — the packed store (one Zarr v3 store ``attention_maps.zarr``);
* :mod:`.batch` — a batch folder's names, manifest, per-video status records and lock;
* :mod:`.backend` — a batch's maps whichever layout holds them: :func:`open_maps` applies the one rule of
  where they are and gives a :class:`MapBackend` (reader, sink, completion record, verification, removal).

:class:`AttentionStore` writes the files layout and :class:`AttentionStoreReader` (a :class:`MapReader`)
reads it back.
"""

from attention_visual.storage.backend import MapBackend, MapReader, MapSink, open_maps
from attention_visual.storage.files.layout import token_dir_name, word_dir_name
from attention_visual.storage.files.reader import AttentionStoreReader
from attention_visual.storage.files.store import AttentionInfo, AttentionStore, read_array, read_map, read_metadata
from attention_visual.storage.schema.metadata import (
    ATTENTION_STORAGE_VERSION,
    LatentGrid,
    MapMetadata,
    Reduction,
    TokenGrid,
    VideoDimensions,
)

__all__ = [
    "ATTENTION_STORAGE_VERSION",
    "AttentionInfo",
    "AttentionStore",
    "AttentionStoreReader",
    "LatentGrid",
    "MapBackend",
    "MapMetadata",
    "MapReader",
    "MapSink",
    "Reduction",
    "TokenGrid",
    "VideoDimensions",
    "open_maps",
    "read_array",
    "read_map",
    "read_metadata",
    "token_dir_name",
    "word_dir_name",
]

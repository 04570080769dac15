"""The packed store: a whole batch in one Zarr v3 store ``attention_maps.zarr``, one shard per video × word.

:mod:`.reader` holds the layout and :class:`~.reader.PackedReader`; :mod:`.writer` writes a store
(``pack``), :mod:`.video` one video at a time during generation (``storage_format: zarr``) and
:mod:`.averages` merges the step averages staged during a batch.
"""

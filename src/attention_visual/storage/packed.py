"""The packed store: every map of a batch in one Zarr v3 store, ``attention_maps.zarr``."""

from __future__ import annotations

PACKED_STORE = "attention_maps.zarr"
"""Folder name of the packed store inside a batch folder (beside, or instead of, ``attention_maps/``)."""

__all__ = ["PACKED_STORE"]

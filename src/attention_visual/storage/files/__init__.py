"""The files layout: one ``.npz`` (or ``.pt``) + JSON per map under ``attention_maps/`` (:mod:`.layout`),
written by :class:`~.store.AttentionStore` and read by :class:`~.reader.AttentionStoreReader`.
"""

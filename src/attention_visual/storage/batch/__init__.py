"""A batch folder's bookkeeping: its file names (:mod:`.layout`) and its manifest and per-video status
records (:mod:`.manifest`)."""

"""Exceptions raised by attention_visual.

The hierarchy::

    AttentionVisualError            base class; the CLI prints its message on one line and exits with 2
    ├── ConfigError                 the YAML config or an override is invalid (names the dotted key)
    │   └── BatchBusyError          another run holds the batch folder's lock (names the holder)
    ├── PromptError                 a marked prompt is malformed or a word cannot be found in the tokens
    ├── AttentionDataError          a stored map is missing, truncated, corrupted or of an unknown schema
    │   └── NotFoundError           a video, word or step that does not exist (lists what does)
    ├── CaptureError                the capture hooks were misused (entered twice, batched call, ...)
    ├── MissingExtraError           an optional part needs an extra that is not installed (also an ImportError)
    ├── RenderError                 a visualisation could not be produced (bad option, unreadable video)
    └── StorageError                a file could not be written (disk full, read-only folder...): exit 1
"""

from __future__ import annotations


class AttentionVisualError(Exception):
    """Base class of every error this package raises on purpose.

    Attributes:
        exit_status: The command's exit status when this error ends it (2: bad input).
    """

    exit_status = 2


class ConfigError(AttentionVisualError, ValueError):
    """The config file or an override is invalid."""


class PromptError(AttentionVisualError, ValueError):
    """A marked prompt is malformed, or a marked word cannot be located in the tokens."""


class AttentionDataError(AttentionVisualError):
    """Stored attention data is missing, truncated, corrupted or of an unknown schema version."""


class NotFoundError(AttentionDataError, KeyError):
    """A requested video, word or step does not exist; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CaptureError(AttentionVisualError, RuntimeError):
    """The capture was misused or the pipeline does not look like a Wan text-to-video pipeline."""


class RenderError(AttentionVisualError, ValueError):
    """A visualisation option is invalid or an input video cannot be read."""


class MissingExtraError(AttentionVisualError, ImportError):
    """A module needs an optional dependency group (an "extra", e.g. ``wan``) that is not installed."""


class BatchBusyError(ConfigError):
    """Another process holds the batch folder's lock (``generate`` runs one writer per batch)."""


class StorageError(AttentionVisualError):
    """A file could not be written or replaced: disk full, read-only folder, quota, I/O error.

    Not bad input, so the command exits with 1. The message names the path and the cause, e.g.
    ``cannot write outputs/b/status/prompt_001_vid_001.json: No space left on device``.
    """

    exit_status = 1


__all__ = [
    "AttentionDataError",
    "AttentionVisualError",
    "BatchBusyError",
    "CaptureError",
    "ConfigError",
    "MissingExtraError",
    "NotFoundError",
    "PromptError",
    "RenderError",
    "StorageError",
]

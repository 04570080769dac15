"""Where the store puts things, and safe folder names for words and videos.

The layout under an ``attention_maps/`` folder::

    <video_id>/<word_dir>/step_000.npz                 one diffusion step   (.pt with storage_format torch)
    <video_id>/<word_dir>/step_000_metadata.json
    <video_id>/aggregated/<word_dir>_aggregated.npz    the step-averaged map
    <video_id>/aggregated/<word_dir>_aggregated_metadata.json
    <video_id>/_complete.json                           written last: the video's maps are all there

``word_dir`` is :func:`word_dir_name` of the word (``token_dir_name``: the first version's name): the
word itself when it is already a safe, lower-case name, otherwise a sanitised prefix (its Latin
letters, or for a word without any, such as ``小猫``, its own letters) plus a hash of the original
word, so
``../x``, ``a/b``, ``CON``, ``""``, a 300-character word, ``Kiss`` vs ``kiss`` and the reserved
name ``aggregated`` can neither escape the video folder nor collide. The original word is
kept in every metadata file, and the reader (:mod:`.reader`) looks maps up by it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from attention_visual.errors import AttentionDataError

AGGREGATED_DIR = "aggregated"
COMPLETE_MARK = "_complete.json"
STEP_PREFIX = "step_"
METADATA_SUFFIX = "_metadata.json"
EXTENSIONS = {"numpy": ".npz", "torch": ".pt"}
PACKED_FORMAT = "zarr"
"""``storage_format`` that writes the packed store ``attention_maps.zarr`` instead of one file per map."""

_SAFE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
_VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RESERVED = {
    AGGREGATED_DIR,
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
_MAX_PREFIX = 40
_MAX_UNICODE_PREFIX = 20  # characters; at most 80 bytes in UTF-8, far below any file-name limit


def word_dir_name(word: str) -> str:
    """A folder name for ``word`` that is safe on every OS and unique per word.

    >>> word_dir_name("kiss")
    'kiss'
    >>> word_dir_name("red car")[:8], word_dir_name("../x").startswith("x-")
    ('red_car-', True)
    >>> word_dir_name("小猫")[:3]
    '小猫-'

    """
    if _SAFE.match(word) and word not in _RESERVED:
        return word
    ascii_word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii").lower()
    prefix = re.sub(r"[^a-z0-9]+", "_", ascii_word).strip("_")[:_MAX_PREFIX].strip("_")
    if not prefix:  # no Latin letter (Chinese, Japanese, Korean...): keep the word's own letters, readable
        letters = re.sub(r"\W+", "_", unicodedata.normalize("NFC", word).lower()).strip("_")
        prefix = letters[:_MAX_UNICODE_PREFIX].strip("_") or "word"
    digest = hashlib.sha256(word.encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{digest}"


#: The first version's name of :func:`word_dir_name` (docs/glossary.md: a word is not a token piece).
token_dir_name = word_dir_name


def check_video_id(video_id: str) -> str:
    """Return ``video_id`` if it is a safe single path component, else raise."""
    if not isinstance(video_id, str) or not _VIDEO_ID.match(video_id):
        raise AttentionDataError(
            f"invalid video id {video_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "not starting with '.', '_' or '-'"
        )
    return video_id


def step_stem(step_index: int) -> str:
    """``step_007`` (3 digits, more when needed)."""
    return f"{STEP_PREFIX}{step_index:03d}"


def step_paths(root: Path, video_id: str, word: str, step_index: int, storage_format: str) -> tuple[Path, Path]:
    """(array file, metadata file) of one step's map."""
    folder = root / check_video_id(video_id) / word_dir_name(word)
    stem = step_stem(step_index)
    return folder / f"{stem}{EXTENSIONS[storage_format]}", folder / f"{stem}{METADATA_SUFFIX}"


def aggregated_paths(root: Path, video_id: str, word: str, storage_format: str) -> tuple[Path, Path]:
    """(array file, metadata file) of a word's step-averaged map."""
    folder = root / check_video_id(video_id) / AGGREGATED_DIR
    stem = f"{word_dir_name(word)}_aggregated"
    return folder / f"{stem}{EXTENSIONS[storage_format]}", folder / f"{stem}{METADATA_SUFFIX}"


def parse_step_index(metadata_path: Path) -> int | None:
    """The step index of ``step_012_metadata.json``, or None for other names."""
    name = metadata_path.name
    if not (name.startswith(STEP_PREFIX) and name.endswith(METADATA_SUFFIX)):
        return None
    digits = name[len(STEP_PREFIX) : -len(METADATA_SUFFIX)]
    return int(digits) if digits.isdigit() else None


__all__ = [
    "AGGREGATED_DIR",
    "COMPLETE_MARK",
    "EXTENSIONS",
    "METADATA_SUFFIX",
    "PACKED_FORMAT",
    "aggregated_paths",
    "check_video_id",
    "parse_step_index",
    "step_paths",
    "step_stem",
    "token_dir_name",
    "word_dir_name",
]

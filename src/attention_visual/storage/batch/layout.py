"""The names of a batch folder's files and folders: one place, read by the batch writer and the report.

A batch folder (``outputs/<config>_<time>/``) holds::

    config.yaml                      the resolved config (CONFIG_FILE)
    manifest.json                    the merged manifest (MANIFEST_FILE)
    status/<video_id>.json           one completion mark per video (STATUS_DIR)
    videos/prompt_001/video_001.mp4  the generated videos (VIDEOS_DIR); videos/<model>/prompt_001/ in a
                                     comparison of several models, whose video ids start <model>_
    attention_maps/<video_id>/       the attention-map store, files layout (ATTENTION_MAPS_DIR)
    attention_maps.zarr/             or the packed store (PACKED_STORE); one of the two (storage.backend)
    generate.lock                    the batch lock of every command that changes the batch (LOCK_FILE)
    .layout-transaction.json         while pack/unpack moves the maps: which layout is complete (TRANSACTION_FILE)
    attention_videos/                the batch-end attention videos (ATTENTION_VIDEOS_DIR)
    report/index.html                the report (REPORT_DIR, REPORT_INDEX_FILE; REPORT_INDEX)

Example:
    >>> make_video_id(1, 2), prompt_dir(12)
    ('prompt_001_vid_002', 'prompt_012')
"""

from __future__ import annotations

import re
from pathlib import Path

#: Folders and files of a batch directory, relative to it.
VIDEOS_DIR = "videos"
ATTENTION_MAPS_DIR = "attention_maps"
PACKED_STORE = "attention_maps.zarr"
"""The packed store (one Zarr v3 store for the whole batch), instead of ``attention_maps/``."""
LOCK_FILE = "generate.lock"
"""The batch lock (:mod:`.lock`); its name is the one ``generate`` gave it first."""
TRANSACTION_FILE = ".layout-transaction.json"
"""The record of a ``pack``/``unpack`` under way (:mod:`attention_visual.storage.backend.placement`)."""
ATTENTION_VIDEOS_DIR = "attention_videos"
STATUS_DIR = "status"
CONFIG_FILE = "config.yaml"
#: Copies of the prompts' input files: ``inputs/prompt_001/image.png``.
INPUTS_DIR = "inputs"
MANIFEST_FILE = "manifest.json"
REPORT_DIR = "report"
REPORT_INDEX_FILE = "index.html"
REPORT_INDEX = f"{REPORT_DIR}/{REPORT_INDEX_FILE}"


#: The map stores: no command writes anything else into them.
STORES = (ATTENTION_MAPS_DIR, PACKED_STORE)
#: What the batch itself writes, relative to it: a command's own output (``video --output``, ``report --output``)
#: never goes there. ``report/`` is the report's own folder.
OWNED = (*STORES, VIDEOS_DIR, ATTENTION_VIDEOS_DIR, STATUS_DIR, INPUTS_DIR, REPORT_DIR, CONFIG_FILE, MANIFEST_FILE,
         LOCK_FILE, TRANSACTION_FILE)  # fmt: skip


def output_conflict(target: Path, batch_dir: Path | None, *, own: str | None = None) -> str | None:
    """Why a command must not write its output ``target`` there, or None when it may.

    Refused: any path inside a map store (``…/attention_maps/…``, ``…/attention_maps.zarr/…``, of any
    batch), and in ``batch_dir`` (the batch the command reads) every path the batch owns (:data:`OWNED`:
    its videos, status files, manifest…) except ``own`` (``report`` for the report's own folder).

    Example:
        >>> output_conflict(Path("b/attention_maps/x.html"), None)
        'it is inside the map store b/attention_maps'
        >>> output_conflict(Path("b/videos/prompt_001/video_001.mp4"), Path("b"))
        'it is a file of batch b (videos/prompt_001/video_001.mp4)'
        >>> output_conflict(Path("b/report"), Path("b"), own=REPORT_DIR) is None
        True
    """
    resolved = target.resolve()
    for folder in (resolved, *resolved.parents):
        if folder.name in STORES and folder.parent != folder:
            return f"it is inside the map store {_shown(folder, target)}"
    if batch_dir is None:
        return None
    try:
        rel = resolved.relative_to(batch_dir.resolve())
    except ValueError:
        return None
    if not rel.parts:
        return f"it is the batch folder {batch_dir} itself"
    if rel.parts[0] in OWNED and not (own is not None and rel.parts == (own,)):
        return f"it is a file of batch {batch_dir} ({rel.as_posix()})"
    return None


def _shown(folder: Path, target: Path) -> str:
    """``folder`` as the user wrote ``target`` (relative stays relative)."""
    depth = len(target.resolve().relative_to(folder).parts)
    if depth >= len(target.parts):
        return folder.as_posix()
    shown = target
    for _ in range(depth):
        shown = shown.parent
    return shown.as_posix()


def prompt_dir(prompt_index: int) -> str:
    """``prompt_001``: the folder name of a prompt (1-based index; more digits past 999)."""
    return f"prompt_{prompt_index:03d}"


def status_file(video_id: str) -> str:
    """``status/prompt_001_vid_002.json``: a video's completion mark, relative to the batch folder."""
    return f"{STATUS_DIR}/{video_id}.json"


def make_video_id(prompt_index: int, video_index: int, model: str | None = None) -> str:
    """``prompt_001_vid_002``: the store's id of a video (both indices 1-based).

    In a comparison batch (several models) the model's name comes first: ``tiny-ltx_prompt_001_vid_002``.
    """
    video_id = f"{prompt_dir(prompt_index)}_vid_{video_index:03d}"
    return video_id if model is None else f"{model}_{video_id}"


def video_dir(prompt_index: int, model: str | None = None) -> str:
    """``videos/prompt_001``: the folder of a prompt's videos (``videos/<model>/prompt_001`` in a comparison)."""
    prompt = prompt_dir(prompt_index)
    return f"{VIDEOS_DIR}/{prompt}" if model is None else f"{VIDEOS_DIR}/{model}/{prompt}"


def model_label(model_id: str) -> str:
    """A folder-safe name of a model id: its last path part, other characters as ``-``.

    It names a comparison's models that the config does not name, and every batch's ``model`` column.

    Example:
        >>> model_label("Lightricks/LTX-Video"), model_label("/data/my model/")
        ('LTX-Video', 'my-model')
    """
    last = model_id.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip("-.") or "model"
    return label if label[0].isalnum() else f"m{label}"


__all__ = [
    "ATTENTION_MAPS_DIR",
    "ATTENTION_VIDEOS_DIR",
    "CONFIG_FILE",
    "INPUTS_DIR",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "OWNED",
    "PACKED_STORE",
    "REPORT_DIR",
    "REPORT_INDEX",
    "REPORT_INDEX_FILE",
    "STATUS_DIR",
    "STORES",
    "TRANSACTION_FILE",
    "VIDEOS_DIR",
    "make_video_id",
    "model_label",
    "output_conflict",
    "prompt_dir",
    "status_file",
    "video_dir",
]

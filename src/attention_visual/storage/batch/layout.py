"""The names of a batch folder's files and folders: one place, read by the batch writer and the report.

A batch folder (``outputs/<config>_<time>/``) holds::

    config.yaml                      the resolved config (CONFIG_FILE)
    manifest.json                    the merged manifest (MANIFEST_FILE)
    status/<video_id>.json           one completion mark per video (STATUS_DIR)
    videos/prompt_001/video_001.mp4  the generated videos (VIDEOS_DIR)
    attention_maps/<video_id>/       the maps in the files layout (ATTENTION_MAPS_DIR)
    attention_maps.zarr/             or all of them in one packed store (PACKED_STORE)
    attention_videos/                the batch-end attention videos (ATTENTION_VIDEOS_DIR)
    report/index.html                the report (REPORT_DIR, REPORT_INDEX_FILE; REPORT_INDEX)

Example:
    >>> make_video_id(1, 2), prompt_dir(12)
    ('prompt_001_vid_002', 'prompt_012')
"""

from __future__ import annotations

#: Folders and files of a batch directory, relative to it.
VIDEOS_DIR = "videos"
ATTENTION_MAPS_DIR = "attention_maps"
ATTENTION_VIDEOS_DIR = "attention_videos"
#: The packed store (one Zarr v3 store for the whole batch), instead of ``attention_maps/``.
PACKED_STORE = "attention_maps.zarr"
STATUS_DIR = "status"
CONFIG_FILE = "config.yaml"
#: Copies of the prompts' input files: ``inputs/prompt_001/image.png``.
INPUTS_DIR = "inputs"
MANIFEST_FILE = "manifest.json"
REPORT_DIR = "report"
REPORT_INDEX_FILE = "index.html"
REPORT_INDEX = f"{REPORT_DIR}/{REPORT_INDEX_FILE}"


def prompt_dir(prompt_index: int) -> str:
    """``prompt_001``: the folder name of a prompt (1-based index; more digits past 999)."""
    return f"prompt_{prompt_index:03d}"


def status_file(video_id: str) -> str:
    """``status/prompt_001_vid_002.json``: a video's completion mark, relative to the batch folder."""
    return f"{STATUS_DIR}/{video_id}.json"


def make_video_id(prompt_index: int, video_index: int) -> str:
    """``prompt_001_vid_002``: the store's id of a video (both indices 1-based)."""
    return f"{prompt_dir(prompt_index)}_vid_{video_index:03d}"


__all__ = [
    "ATTENTION_MAPS_DIR",
    "ATTENTION_VIDEOS_DIR",
    "CONFIG_FILE",
    "INPUTS_DIR",
    "MANIFEST_FILE",
    "PACKED_STORE",
    "REPORT_DIR",
    "REPORT_INDEX",
    "REPORT_INDEX_FILE",
    "STATUS_DIR",
    "VIDEOS_DIR",
    "make_video_id",
    "prompt_dir",
    "status_file",
]

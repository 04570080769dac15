"""Helpers for the batch tests: a tiny config, file snapshots, the CLI command line for a subprocess.

Import as ``from pipeline.pipeline_support import ...`` (tests/ is on pytest's pythonpath).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from attention_visual.config import Config, config_from_dict

REPO = Path(__file__).resolve().parents[2]

PROMPTS = [
    "A romantic (kiss) between a man and woman with (flowers)",
    "a small (dog) runs on the (beach)",
]

TINY_CONFIG: dict[str, Any] = {
    "prompts": PROMPTS,
    "generation": {
        "model_id": "tiny",
        "device": "cpu",
        "dtype": "float32",
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "height": 32,
        "width": 48,
        "num_frames": 9,
        "fps": 8,
        "seed": 42,
        "videos_per_prompt": 2,
        "max_sequence_length": 32,
    },
    "attention_analysis": {
        "auto_generate_per_video": False,
        "auto_generate_videos": False,
        "generate_report": False,
        "visualization_params": {"figsize": [2, 1.5], "fps": 4, "interpolation_steps": 1},
    },
}


def tiny_data(output_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """The tiny test config as plain data, with ``output_dir`` and sections updated (merged one level)."""
    data = copy.deepcopy(TINY_CONFIG)
    data["output_dir"] = str(output_dir)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


def tiny_config(output_dir: Path, **sections: Any) -> Config:
    """The tiny test config (2 prompts x 2 videos, renders and report off unless switched on)."""
    return config_from_dict(tiny_data(output_dir, **sections))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as a YAML config file and return its path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """``{relative path: (inode, size, mtime_ns)}`` of every file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def cli_env() -> dict[str, str]:
    """Environment for CLI subprocesses: one torch thread, no network."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def cli_command(*args: str) -> list[str]:
    """``python -m attention_visual ARGS`` with this interpreter."""
    return [sys.executable, "-m", "attention_visual", *args]


def batch_dirs(output_dir: Path) -> list[Path]:
    """The batch folders under ``output_dir``, sorted by name."""
    return sorted(p for p in output_dir.iterdir() if p.is_dir()) if output_dir.is_dir() else []


def generate_batch(config: Path, out: Path, *overrides: str) -> tuple[Path, dict[str, Any]]:
    """``attention-visual generate config --set output_dir=out ...`` in this process: one finished batch, its report.

    Returns:
        The batch folder and its parsed ``manifest.json``.
    """
    from support.cli import run_main

    done = run_main("generate", config, *overrides, "--set", f"output_dir={out}", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    [batch] = batch_dirs(out)
    manifest: dict[str, Any] = json.loads((batch / "manifest.json").read_text())
    assert manifest["counts"]["done"] == len(manifest["videos"]) >= 1
    assert (batch / "report" / "index.html").is_file()
    return batch, manifest

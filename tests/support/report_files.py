"""Reading a written report back in tests: its page, its cards and its batch view.

Import as ``from support.report_files import cards, batch_view, markup`` (tests/ is on pytest's pythonpath).
A card (``report/cards/<video_id>.js``) and the batch view (``report/batch/view.js``) are scripts calling
``AV.card(id, data)`` / ``AV.batch(data)`` with JSON arguments: they are parsed here as JSON, not run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_CALL = re.compile(r"AV\.(card|batch|groups)\((.*)\);\n", re.S)


def script_arguments(path: Path) -> list[Any]:
    """The JSON arguments of the one ``AV.…(...)`` call a report script is made of."""
    match = _CALL.fullmatch(path.read_text(encoding="utf-8"))
    assert match is not None, f"{path} is not a report script"
    arguments: list[Any] = json.loads(f"[{match.group(2)}]")
    return arguments


def page_data(index: Path) -> dict[str, Any]:
    """The JSON block of ``index.html``."""
    page = index.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert block is not None
    data: dict[str, Any] = json.loads(block.group(1))
    return data


def cards(report_dir: Path) -> dict[str, dict[str, Any]]:
    """``{video_id: {"html": ..., "maps": ...}}`` of every card file."""
    found = {}
    for path in sorted((report_dir / "cards").glob("*.js")):
        video_id, data = script_arguments(path)
        assert path.stem == video_id
        found[video_id] = data
    return found


def batch_view(report_dir: Path) -> dict[str, Any]:
    """The batch view's data, its groups gathered from their files: ``{"html", "stats", "groups": [...]}``."""
    [data] = script_arguments(report_dir / "batch" / "view.js")
    assert isinstance(data, dict)
    groups = []
    for k in range(-(-data["groups"] // data["per_file"])):
        index, chunk = script_arguments(report_dir / "batch" / "groups" / f"{k}.js")
        assert index == k and len(chunk) <= data["per_file"]
        groups += chunk
    assert len(groups) == data["groups"]
    return {**data, "groups": groups}


def markup(report_dir: Path) -> str:
    """All the HTML the page can show: ``index.html``, every card, the batch view and its groups."""
    parts = [(report_dir / "index.html").read_text(encoding="utf-8")]
    parts += [c["html"] for c in cards(report_dir).values()]
    if (report_dir / "batch" / "view.js").is_file():
        view = batch_view(report_dir)
        parts += [view["html"], *(g["html"] for g in view["groups"])]
    return "\n".join(parts)


__all__ = ["batch_view", "cards", "markup", "page_data", "script_arguments"]

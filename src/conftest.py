"""Doctest set-up for ``pytest --doctest-modules src/attention_visual`` (part of ``make test``; not shipped).

Every doctest runs in its own temporary folder (with ``configs/`` of the repository), so examples may write
relative paths (``kiss.png``). The
examples that read a batch find a small one at ``outputs/batch``: the layout ``attention-visual generate``
writes (manifest, maps of ``kiss`` and ``flowers`` for ``prompt_001_vid_001``, videos), made without a
model by the report tests' synthetic batch builder and copied in only for the doctests that name it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BATCH = Path("outputs") / "batch"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _doctest_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.batch import build_batch  # tests/ is on pytest's pythonpath

    batch = tmp_path_factory.mktemp("doctest_batch") / "batch"
    build_batch(batch, prompts=("A romantic (kiss) between a man and woman with (flowers)",), videos_per_prompt=1)
    return batch


@pytest.fixture(autouse=True)
def _doctest_folder(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not isinstance(request.node, pytest.DoctestItem):
        return
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")  # the examples' configs/*.yaml
    if str(BATCH) in (request.node.dtest.docstring or ""):
        shutil.copytree(request.getfixturevalue("_doctest_batch"), tmp_path / BATCH)

"""The maps of every tiny Wan variant are bit-identical to those made before the model-family layer.

``data/wan_map_digests.json`` holds digests made on main before the Wan pipelines moved into
``attention_visual.families`` (see :mod:`capture.map_digests`): the arrays bit for bit, and the values
of every metadata field that existed then (fields added since do not count).
"""

from __future__ import annotations

import json

import pytest

from capture.map_digests import CASES, DIGESTS, case_digests

STORED = json.loads(DIGESTS.read_text(encoding="utf-8"))


def test_every_case_is_stored() -> None:
    assert sorted(STORED["cases"]) == sorted(name for name, _, _ in CASES)
    assert "storage_timestamp" not in STORED["fields"] and "video_id" in STORED["fields"]


@pytest.mark.parametrize(("name", "model_id", "settings"), CASES, ids=[c[0] for c in CASES])
def test_maps_are_bit_identical_to_before(name: str, model_id: str, settings: dict[str, object]) -> None:
    stored = STORED["cases"][name]
    assert stored["model_id"] == model_id and stored["settings"] == json.loads(json.dumps(settings))
    got = case_digests(model_id, settings, STORED["fields"])
    assert sorted(got["words"]) == sorted(stored["words"])
    for word, digests in stored["words"].items():
        assert got["words"][word]["shape"] == digests["shape"], word
        assert got["words"][word]["array"] == digests["array"], f"{name}: the {word!r} array changed"
        assert got["words"][word]["steps"] == digests["steps"], f"{name}: the {word!r} step metadata changed"
    assert sorted(got["files"]) == sorted(stored["files"])
    changed = [path for path, digest in stored["files"].items() if got["files"][path] != digest]
    assert not changed, f"{name}: these saved files changed: {changed}"

"""Reading one word's step metadata as a series (decode the first, then only what changes) equals reading each."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from attention_visual.errors import AttentionDataError
from attention_visual.storage import MapMetadata
from attention_visual.storage.files.store import read_metadata, read_metadata_series
from support.synthetic import make_metadata

pytestmark = pytest.mark.light


def write(folder: Path, metas: list[MapMetadata]) -> list[Path]:
    paths = []
    for i, meta in enumerate(metas):
        path = folder / f"step_{i:03d}_metadata.json"
        path.write_text(meta.to_json(), encoding="utf-8")
        paths.append(path)
    return paths


def steps() -> list[MapMetadata]:
    base = make_metadata(step=0, num_steps=4, expert="high_noise", timestep=999.0, sigma=1.0)
    return [
        base,
        dataclasses.replace(base, step_index=1, steps_used=(1,), timestep=750.0, sigma=0.75, expert="low_noise"),
        dataclasses.replace(base, step_index=2, steps_used=(2,), timestep=None, sigma=None, expert=None),
        dataclasses.replace(base, step_index=3, steps_used=(3,), token_pieces=("▁k", "iss"), blocks=("blocks.0",)),
    ]


def test_same_metadata_as_reading_each_file(tmp_path: Path) -> None:
    paths = write(tmp_path, steps())
    assert read_metadata_series(paths) == [read_metadata(p) for p in paths] == steps()
    assert read_metadata_series([]) == []


def test_updated_is_from_dict_of_the_merged_fields() -> None:
    base = steps()[0]
    changes = {"step_index": 5, "steps_used": [5], "char_spans": [[0, 4]], "reduction": {"heads": "kept"}}
    want = MapMetadata.from_dict({**base.to_dict(), **changes})
    got = base.updated(changes)
    assert got == want and got.steps_used == (5,) and got.char_spans == ((0, 4),)
    assert base.step_index == 0  # the original is untouched
    with pytest.raises(AttentionDataError, match="unexpected fields"):
        base.updated({"no_such_field": 1})
    with pytest.raises(AttentionDataError, match="axes"):
        base.updated({"axes": ["y", "x"]})  # validated like a new object
    with pytest.raises(AttentionDataError, match="attention_storage_version"):
        base.updated({"attention_storage_version": 99})


def test_missing_fields_and_new_frame_facts_are_read_in_full(tmp_path: Path) -> None:
    first, second = steps()[:2]
    paths = write(tmp_path, [first, second])
    data = json.loads(paths[1].read_text(encoding="utf-8"))
    del data["marked_prompt"]  # absent: the default applies, not the first file's value
    paths[1].write_text(json.dumps(data), encoding="utf-8")
    assert read_metadata_series(paths)[1] == read_metadata(paths[1])
    assert read_metadata_series(paths)[1].marked_prompt == ""
    data["marked_prompt"] = first.marked_prompt
    data["latent_to_video_frames"] = [[0, 0]]  # contradicts the 3 latent frames: checked as read_metadata does
    paths[1].write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AttentionDataError, match=str(paths[1])):
        read_metadata_series(paths)


def test_errors_name_the_file(tmp_path: Path) -> None:
    paths = write(tmp_path, steps()[:2])
    paths[1].write_text("{not json", encoding="utf-8")
    with pytest.raises(AttentionDataError, match=str(paths[1])):
        read_metadata_series(paths)
    paths[1].write_text(json.dumps({**steps()[1].to_dict(), "shape": "bad", "axes": 3}), encoding="utf-8")
    with pytest.raises(AttentionDataError, match=str(paths[1])):
        read_metadata_series(paths)
    paths[1].write_text(json.dumps({**steps()[1].to_dict(), "steps_used": 7}), encoding="utf-8")
    with pytest.raises(AttentionDataError, match=str(paths[1])):
        read_metadata_series(paths)

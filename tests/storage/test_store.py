from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError
from attention_visual.storage import AttentionStore, MapMetadata, read_map, token_dir_name, word_dir_name
from attention_visual.storage.files.layout import aggregated_paths, check_video_id, step_paths
from attention_visual.storage.schema.frames import (
    FrameRule,
    latent_frame_of_video_frame,
    latent_to_video_frame_ranges,
    num_latent_frames,
    video_frames_of_latent,
)
from support.synthetic import GRID, hot_spot, make_metadata

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)

CAUSAL_4 = FrameRule(4)  # a causal 4x VAE: video frame 0 alone, then 4 per latent frame


@pytest.mark.parametrize("fmt", ["numpy", pytest.param("torch", marks=pytest.mark.wan)])
@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_round_trip_every_option(tmp_path: Path, fmt: str, compress: bool, dtype: str) -> None:
    store = AttentionStore(tmp_path, storage_format=fmt, compress=compress, dtype=dtype)
    arr = np.random.default_rng(0).random(GRID, dtype=np.float32)  # [frame, y, x]
    path = store.save_step(make_metadata(step=3), arr)
    assert path.suffix == {"numpy": ".npz", "torch": ".pt"}[fmt]
    assert path == tmp_path / "prompt_001_vid_001" / "kiss" / f"step_003{path.suffix}"
    meta_path = path.with_name("step_003_metadata.json")
    info = read_map(path, meta_path)
    assert info.attention_map.dtype == np.dtype(dtype)
    np.testing.assert_allclose(info.attention_map, arr.astype(dtype))
    assert info.metadata.dtype == dtype
    assert info.metadata.storage_format == fmt
    assert info.metadata.step_index == 3
    assert info.metadata.storage_timestamp
    raw = json.loads(meta_path.read_text())
    for key in (
        "shape",
        "dtype",
        "num_steps",
        "steps_used",
        "aggregation_method",
        "token_word",
        "video_dimensions",
        "storage_timestamp",
        "attention_storage_version",
        "axes",
        "token_grid",
        "latent_to_video_frames",
        "timestep",
        "sigma",
        "guidance_pass",
        "reduction",
        "token_ids",
        "token_pieces",
        "char_spans",
        "model_id",
        "seed",
    ):
        assert key in raw, key
    assert raw["video_dimensions"] == {"width": 80, "height": 32, "fps": 16.0, "frames": 9}


def test_leading_axes_round_trip(tmp_path: Path) -> None:
    shape = (2, 3, *GRID)  # [block, head, frame, y, x]
    arr = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    meta = make_metadata(shape=shape, axes=("block", "head", "frame", "y", "x"))
    path = AttentionStore(tmp_path).save_step(meta, arr)
    info = read_map(path, path.with_name("step_000_metadata.json"))
    np.testing.assert_array_equal(info.attention_map, arr)
    assert info.metadata.axes == ("block", "head", "frame", "y", "x")


@pytest.mark.wan
def test_aggregated_layout_and_separate_format(tmp_path: Path) -> None:
    store = AttentionStore(tmp_path, storage_format="numpy", aggregated_format="torch")
    path = store.save_aggregated(make_metadata(step=None), hot_spot())
    assert path == tmp_path / "prompt_001_vid_001" / "aggregated" / "kiss_aggregated.pt"
    assert path.with_name("kiss_aggregated_metadata.json").is_file()


def test_shape_mismatch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AttentionDataError, match="does not match"):
        AttentionStore(tmp_path).save_step(make_metadata(), np.zeros((3, 5, 2), np.float32))


def test_metadata_rejects_bad_axes() -> None:
    with pytest.raises(AttentionDataError):
        make_metadata(axes=("y", "frame", "x"))


@pytest.mark.parametrize(
    "word",
    [
        "../x",
        "a/b",
        "CON",
        "con",
        "",
        "x" * 300,
        "aggregated",
        "Kiss",
        "red car",
        "..",
        ".",
        "a\\b",
        "naïve",
        "日本",
    ],
)
def test_word_dir_names_are_safe(word: str) -> None:
    name = word_dir_name(word)
    assert name and len(name) <= 60
    assert "/" not in name and "\\" not in name and name not in {".", "..", "aggregated"}
    assert name.lower() not in {"con", "prn", "aux", "nul"}
    assert name == name.lower()


def test_word_dir_names_never_collide() -> None:
    words = ["kiss", "Kiss", "KISS", "red car", "red_car", "red-car", "../x", "x", "a/b", "a_b", "", "_"]
    names = [word_dir_name(w) for w in words]
    assert len(set(names)) == len(names)
    assert token_dir_name is word_dir_name  # the first version's name stays


def test_hostile_word_stays_inside_video_dir(tmp_path: Path) -> None:
    store = AttentionStore(tmp_path)
    for word in ["../../escape", "/abs", "a/../../b"]:
        path = store.save_step(make_metadata(word=word), hot_spot())
        assert path.resolve().is_relative_to((tmp_path / "prompt_001_vid_001").resolve())


@pytest.mark.parametrize("bad", ["../v", "a/b", "", ".hidden", "x" * 200, "_complete"])
def test_bad_video_ids_are_refused(bad: str) -> None:
    with pytest.raises(AttentionDataError, match="invalid video id"):
        check_video_id(bad)


def test_paths_helpers() -> None:
    data, meta = step_paths(Path("r"), "v1", "kiss", 12, "numpy")
    assert (data.name, meta.name) == ("step_012.npz", "step_012_metadata.json")
    data, meta = aggregated_paths(Path("r"), "v1", "kiss", "torch")
    assert (data.name, meta.name) == ("kiss_aggregated.pt", "kiss_aggregated_metadata.json")


@pytest.mark.parametrize("fmt", ["numpy", pytest.param("torch", marks=pytest.mark.wan)])
def test_truncated_or_corrupted_file_names_the_file(tmp_path: Path, fmt: str) -> None:
    path = AttentionStore(tmp_path, storage_format=fmt).save_step(make_metadata(), hot_spot())
    meta = path.with_name("step_000_metadata.json")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AttentionDataError, match=re.escape(path.name)):
        read_map(path, meta)
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(AttentionDataError, match="corrupted"):
        read_map(path, meta)


def test_pickled_npz_is_never_loaded(tmp_path: Path) -> None:
    path = AttentionStore(tmp_path).save_step(make_metadata(), hot_spot())
    with path.open("wb") as fh:
        np.savez(fh, attention=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(AttentionDataError):
        read_map(path, path.with_name("step_000_metadata.json"))


@pytest.mark.wan
def test_pickled_pt_is_never_loaded(tmp_path: Path) -> None:
    import torch

    path = AttentionStore(tmp_path, storage_format="torch").save_step(make_metadata(), hot_spot())

    import datetime

    torch.save({"attention": datetime.datetime(2026, 1, 1)}, path)  # an arbitrary object: needs full unpickling
    with pytest.raises(AttentionDataError):
        read_map(path, path.with_name("step_000_metadata.json"))


def test_corrupted_metadata(tmp_path: Path) -> None:
    path = AttentionStore(tmp_path).save_step(make_metadata(), hot_spot())
    meta = path.with_name("step_000_metadata.json")
    meta.write_text("{not json")
    with pytest.raises(AttentionDataError, match=r"step_000_metadata\.json"):
        read_map(path, meta)
    meta.write_text(json.dumps({"attention_storage_version": 99}))
    with pytest.raises(AttentionDataError, match="attention_storage_version"):
        read_map(path, meta)


def test_writes_are_atomic_and_leave_no_temporaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AttentionStore(tmp_path)
    path = store.save_step(make_metadata(), hot_spot(value=1.0))
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(KeyboardInterrupt):
        store.save_step(make_metadata(), hot_spot(value=2.0))
    assert path.read_bytes() == before  # the old file is intact
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_complete_mark_and_remove(tmp_path: Path) -> None:
    store = AttentionStore(tmp_path)
    store.save_step(make_metadata(), hot_spot())
    assert not store.is_complete("prompt_001_vid_001")
    store.mark_complete("prompt_001_vid_001", {"words": ["kiss"]})
    assert store.is_complete("prompt_001_vid_001")
    store.remove_video("prompt_001_vid_001")
    assert not (tmp_path / "prompt_001_vid_001").exists()


def test_bad_store_options(tmp_path: Path) -> None:
    with pytest.raises(AttentionDataError, match="storage_format"):
        AttentionStore(tmp_path, storage_format="hdf5")
    with pytest.raises(AttentionDataError, match="dtype"):
        AttentionStore(tmp_path, dtype="int8")


def test_metadata_json_round_trip() -> None:
    meta = make_metadata(char_spans=((2, 6),), token_pieces=("▁ki", "ss"), seed=7).stamped()
    assert MapMetadata.from_json(meta.to_json()) == meta


def test_wan_frame_mapping() -> None:
    assert [latent_frame_of_video_frame(n, CAUSAL_4) for n in range(10)] == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert list(video_frames_of_latent(0, CAUSAL_4)) == [0]
    assert list(video_frames_of_latent(1, CAUSAL_4)) == [1, 2, 3, 4]
    assert num_latent_frames(81, CAUSAL_4) == 21
    ranges = latent_to_video_frame_ranges(21, CAUSAL_4)
    assert ranges[0] == (0, 0) and ranges[-1] == (77, 80)
    for k, (a, b) in enumerate(ranges):
        assert all(latent_frame_of_video_frame(n, CAUSAL_4) == k for n in range(a, b + 1))


def test_no_leftover_tmp_after_many_writes(tmp_path: Path) -> None:
    store = AttentionStore(tmp_path)
    for s in range(5):
        store.save_step(make_metadata(step=s), hot_spot())
    names = [p.name for p in (tmp_path / "prompt_001_vid_001" / "kiss").iterdir()]
    assert sorted(names) == sorted(
        [f"step_{s:03d}.npz" for s in range(5)] + [f"step_{s:03d}_metadata.json" for s in range(5)]
    )

"""The store's reader: the index of videos, words and steps of the folder layout, and the maps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage import AttentionStore, AttentionStoreReader, MapReader
from support.synthetic import GRID, hot_spot, make_metadata

VID = "prompt_001_vid_001"
WORDS = ("kiss", "red car", "../x")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    store = AttentionStore(tmp_path)
    for word in WORDS:
        for step in (2, 0, 1):  # written out of order
            store.save_step(make_metadata(word=word, step=step, num_steps=3), hot_spot(at=(step, 0, 0), value=step + 1))
        store.save_aggregated(make_metadata(word=word, step=None, num_steps=3), hot_spot(value=5.0))
    store.mark_complete(VID, {"words": list(WORDS)})
    return tmp_path


def test_reads_back_what_the_store_wrote(store_root: Path) -> None:
    reader = AttentionStoreReader(store_root)
    assert isinstance(reader, MapReader)
    assert reader.list_videos() == [VID] and reader.is_complete(VID)
    assert reader.list_words(VID) == ["../x", "kiss", "red car"]  # original text, not folder names
    assert reader.list_steps(VID, "red car") == [0, 1, 2]
    info = reader.read_step(VID, "red car", 1)
    assert info.attention_map.shape == GRID and info.attention_map[1, 0, 0] == 2.0
    assert (info.metadata.word, info.metadata.step_index) == ("red car", 1)
    aggregated = reader.read_aggregated(VID, "../x")
    assert aggregated.metadata.aggregation_method == "mean_over_steps" and aggregated.attention_map.max() == 5.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.read_step("nope", "kiss", 0), f"no video 'nope' in .*; available videos: {VID}"),
        (lambda r: r.read_step(VID, "hug", 0), "available words: ../x, kiss, red car"),
        (lambda r: r.read_step(VID, "kiss", 9), "available steps: 0, 1, 2"),
        (lambda r: r.list_steps(VID, "kis"), "available words"),
    ],
)
def test_missing_things_list_what_exists(
    store_root: Path, call: Callable[[AttentionStoreReader], object], match: str
) -> None:
    with pytest.raises(NotFoundError, match=match):
        call(AttentionStoreReader(store_root))


def test_missing_aggregated_and_missing_root(tmp_path: Path) -> None:
    AttentionStore(tmp_path).save_step(make_metadata(), hot_spot())
    with pytest.raises(NotFoundError, match="no step average for word 'kiss'"):
        AttentionStoreReader(tmp_path).read_aggregated(VID, "kiss")
    with pytest.raises(NotFoundError, match="does not exist"):
        AttentionStoreReader(tmp_path / "nope")


def test_an_unfinished_video_is_reread_and_partial_files_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = AttentionStore(tmp_path)
    store.save_step(make_metadata(step=0), hot_spot())
    (tmp_path / VID / "kiss" / "step_001.npz").write_bytes(b"partial")  # data without metadata
    (tmp_path / VID / "kiss" / ".step_002_metadata.json.tmp-123").write_text("{")  # an unfinished write
    reader = AttentionStoreReader(tmp_path)
    assert reader.list_videos(include_incomplete=False) == [] and not reader.is_complete(VID)
    with caplog.at_level(logging.WARNING):
        assert reader.list_steps(VID, "kiss") == [0]
    assert "incomplete" in caplog.text
    store.save_step(make_metadata(step=3), hot_spot())  # the capture goes on
    assert reader.list_steps(VID, "kiss") == [0, 3]


def test_a_finished_video_is_indexed_once(store_root: Path) -> None:
    reader = AttentionStoreReader(store_root)
    assert reader.list_steps(VID, "kiss") == [0, 1, 2]
    (store_root / VID / "kiss" / "step_000_metadata.json").rename(store_root / VID / "kiss" / "moved.json")
    assert reader.list_steps(VID, "kiss") == [0, 1, 2]  # the cached index
    with pytest.raises(AttentionDataError, match=r"step_000_metadata\.json"):
        reader.read_step(VID, "kiss", 0)

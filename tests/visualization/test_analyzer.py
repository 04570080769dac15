from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage import AttentionInfo, AttentionStore, AttentionStoreReader, MapReader
from attention_visual.visualization import AttentionAnalyzer
from support.synthetic import GRID, hot_spot, make_metadata

VID = "prompt_001_vid_001"


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    store = AttentionStore(tmp_path)
    for word in ("kiss", "red car", "../x"):
        for step in (2, 0, 1):  # written out of order
            arr = hot_spot(at=(step, 0, 0), value=float(step + 1))
            store.save_step(make_metadata(word=word, step=step, num_steps=3), arr)
        store.save_aggregated(make_metadata(word=word, step=None, num_steps=3), hot_spot(value=5.0))
    store.mark_complete(VID, {"words": ["kiss", "red car", "../x"]})
    return tmp_path


def test_the_seed_api_asks_the_store_reader(store_root: Path) -> None:
    an = AttentionAnalyzer(store_root)
    assert isinstance(an.reader, AttentionStoreReader)
    assert an.get_available_videos() == an.reader.list_videos() == [VID]
    assert an.get_available_words(VID) == ["../x", "kiss", "red car"]
    assert an.get_available_tokens(VID) == an.get_available_words(VID)  # the seed's name stays
    assert an.get_available_steps(VID, "red car") == [0, 1, 2]
    assert an.is_complete(VID)


class _MemoryReader:
    """A second backend: maps held in memory (a packed store would sit here the same way)."""

    def __init__(self, maps: dict[int, np.ndarray]) -> None:  # step -> [frame, y, x]
        self.maps = maps

    def list_videos(self, include_incomplete: bool = True) -> list[str]:
        return [VID]

    def is_complete(self, video_id: str) -> bool:
        return True

    def list_words(self, video_id: str) -> list[str]:
        return ["kiss"]

    def list_steps(self, video_id: str, word: str) -> list[int]:
        return sorted(self.maps)

    def read_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        return AttentionInfo(self.maps[step], make_metadata(step=step), Path("memory"))

    def read_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        raise NotFoundError("no aggregated map in memory")


def test_another_reader_sits_behind_the_same_api(tmp_path: Path) -> None:
    reader = _MemoryReader({0: hot_spot(value=1.0), 3: hot_spot(value=2.0)})
    assert isinstance(reader, MapReader)
    an = AttentionAnalyzer(tmp_path, reader=reader)
    stack, metas = an.step_stack(VID, "kiss")  # [step, frame, y, x]
    assert stack.shape == (2, *GRID) and [m.step_index for m in metas] == [0, 3]
    assert stack[1].max() == 2.0


def test_load_step_typed_metadata(store_root: Path) -> None:
    info = AttentionAnalyzer(store_root).load_step(VID, "red car", 1)
    assert info.metadata.video_dimensions.width == 80
    assert info.metadata.token_word == info.metadata.word == "red car"
    assert info.attention_map.shape == GRID
    assert info.attention_map[1, 0, 0] == 2.0


def test_load_all_steps_in_order(store_root: Path) -> None:
    infos = AttentionAnalyzer(store_root).load_all_steps(VID, "kiss")
    assert [i.metadata.step_index for i in infos] == [0, 1, 2]
    stack, _ = AttentionAnalyzer(store_root).step_stack(VID, "kiss")
    assert stack.shape == (3, *GRID)  # [step, frame, y, x]
    assert [stack[s, s, 0, 0] for s in range(3)] == [1.0, 2.0, 3.0]


def test_load_aggregated(store_root: Path) -> None:
    info = AttentionAnalyzer(store_root).load_aggregated(VID, "../x")
    assert info.metadata.aggregation_method == "mean_over_steps"
    assert info.attention_map.max() == 5.0


def test_incomplete_videos(tmp_path: Path) -> None:
    AttentionStore(tmp_path).save_step(make_metadata(step=0), hot_spot())
    an = AttentionAnalyzer(tmp_path)
    assert an.get_incomplete_videos() == [VID]
    with pytest.raises(NotFoundError, match="available steps: 0"):
        an.load_step(VID, "kiss", 1)


def test_corrupted_step_raises_data_error(store_root: Path) -> None:
    (store_root / VID / "kiss" / "step_001.npz").write_bytes(b"\x00" * 10)
    with pytest.raises(AttentionDataError, match=r"step_001\.npz"):
        AttentionAnalyzer(store_root).load_step(VID, "kiss", 1)


def test_grid_reduces_leading_axes_and_selects_pass(tmp_path: Path) -> None:
    shape = (2, 2, 3, *GRID)  # [pass, block, head, frame, y, x]
    arr = np.zeros(shape, np.float32)
    arr[0] = 1.0  # cond
    arr[1] = 7.0  # uncond
    arr[0, 1, 2] = 4.0  # one block/head of the cond pass differs
    meta = make_metadata(shape=shape, axes=("pass", "block", "head", "frame", "y", "x"), passes=("cond", "uncond"))
    AttentionStore(tmp_path).save_step(meta, arr)
    info = AttentionAnalyzer(tmp_path).load_step(VID, "kiss", 0)
    np.testing.assert_allclose(AttentionAnalyzer.grid(info), (5 * 1.0 + 4.0) / 6)
    np.testing.assert_allclose(AttentionAnalyzer.grid(info, pass_name="uncond"), 7.0)
    single = AttentionStore(tmp_path / "b").save_step(make_metadata(), hot_spot())
    with pytest.raises(NotFoundError, match=r"pass 'uncond' not stored"):
        AttentionAnalyzer.grid(AttentionAnalyzer(single.parents[2]).load_step(VID, "kiss", 0), pass_name="uncond")


def test_frame_average_weights_video_frames(store_root: Path) -> None:
    meta = make_metadata()
    grid = np.zeros(GRID, np.float32)
    grid[0] = 9.0  # latent 0 owns 1 of the 9 video frames
    avg = AttentionAnalyzer.frame_averaged(grid, meta)
    assert avg.shape == GRID[1:]
    np.testing.assert_allclose(avg, 1.0)


def test_video_frame_maps_follow_wan_mapping() -> None:
    meta = make_metadata()  # 3 latent frames -> 9 video frames, 32 x 80 pixels
    grid = hot_spot(at=(2, 0, 0), value=1.0)  # top-left token of latent frame 2
    maps = AttentionAnalyzer.video_frame_maps(grid, meta)
    assert maps.shape == (9, 32, 80)  # [video_frame, H, W]
    hot_frames = [n for n in range(9) if maps[n].max() > 0.5]
    assert hot_frames == [5, 6, 7, 8]
    y, x = np.unravel_index(np.argmax(maps[6]), maps[6].shape)
    assert y < 8 and x < 8  # top-left corner of the 32 x 80 frame
    small = AttentionAnalyzer.video_frame_maps(grid, meta, height=GRID[1], width=GRID[2])
    np.testing.assert_array_equal(small[5], grid[2])

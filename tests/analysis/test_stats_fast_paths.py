"""The fast paths of the statistics table agree with the plain ones: float16 maps kept as stored, the
files layout's bulk read, the packed store's direct shard decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attention_visual.analysis import batch_stats
from attention_visual.analysis.measures import MEASURES, PixelGeometry, map_measures
from attention_visual.analysis.pack import pack_batch
from attention_visual.analysis.source import iter_videos
from attention_visual.errors import AttentionDataError
from attention_visual.storage.packed.reader import PackedReader, read_entry, read_whole
from attention_visual.visualization import AttentionAnalyzer
from support.synthetic import random_batch


@pytest.fixture
def half_batch(tmp_path: Path) -> Path:
    return random_batch(tmp_path / "half", videos=2, steps=3, dtype="float16")


def test_float16_maps_stay_float16_and_match_the_float32_statistics(half_batch: Path) -> None:
    video = next(iter_videos(half_batch))
    assert all(w.maps.dtype == np.float16 for w in video.words)
    df = batch_stats(half_batch)
    analyzer = AttentionAnalyzer(half_batch / "attention_maps")
    for word in video.words:
        rows = df[(df.video_id == video.video_id) & (df.word == word.word)].sort_values(["step", "frame"])
        steps = analyzer.get_available_steps(video.video_id, word.word)
        for step in steps:
            info = analyzer.load_step(video.video_id, word.word, step)
            widened = info.attention_map.astype(np.float32)  # [frame, y, x]: the plain path
            dims = info.metadata.video_dimensions
            geometry = PixelGeometry(dims.height, dims.width, *widened.shape[-2:])
            want = map_measures(widened, geometry)
            got = rows[rows.step == step]
            for name in MEASURES:
                np.testing.assert_allclose(got[name].to_numpy(), want[name], rtol=1e-6, err_msg=name)


def test_packed_and_seed_tables_are_identical(half_batch: Path, tmp_path: Path) -> None:
    seed_df = batch_stats(half_batch)
    pack_batch(half_batch)
    pd.testing.assert_frame_equal(batch_stats(half_batch), seed_df)


def test_direct_shard_reads_match_zarr(tmp_path: Path) -> None:
    batch = random_batch(tmp_path / "b", videos=3, steps=4, dtype="float16")
    pack_batch(batch)
    reader = PackedReader(batch / "attention_maps.zarr")
    for video in reader.list_videos():
        word = reader.word(video, "dog")
        np.testing.assert_array_equal(read_whole(word.array, word.path), np.asarray(word.array[...]))
    aggregates = reader.aggregates("dog")
    assert aggregates is not None
    for video, index in aggregates.videos.items():
        got = read_entry(aggregates.array, aggregates.path, index)
        np.testing.assert_array_equal(got, np.asarray(aggregates.array[index]))
        info = reader.read_aggregated(video, "dog")
        np.testing.assert_array_equal(info.attention_map, got)


@pytest.mark.parametrize("damage", ["index byte", "truncated", "missing"])
def test_a_damaged_shard_is_one_error_naming_it(tmp_path: Path, damage: str) -> None:
    batch = random_batch(tmp_path / "b", videos=1, steps=3)
    pack_batch(batch)
    reader = PackedReader(batch / "attention_maps.zarr")
    [video] = reader.list_videos()
    word = reader.word(video, "dog")
    [shard] = [p for p in word.path.rglob("c*") if p.is_file()]  # one video × word: one shard file
    data = bytearray(shard.read_bytes())
    if damage == "index byte":
        data[-10] ^= 0xFF  # inside the shard index, before its CRC-32C
        shard.write_bytes(bytes(data))
    elif damage == "truncated":
        shard.write_bytes(bytes(data[: len(data) // 2]))
    else:
        shard.unlink()
    with pytest.raises(AttentionDataError, match=str(shard)):
        read_whole(word.array, word.path)
    with pytest.raises(AttentionDataError, match=str(shard)):
        read_entry(word.array, word.path, 0)

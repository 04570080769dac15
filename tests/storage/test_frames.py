"""One latent→video frame mapping: weights, averages and the per-video-frame index, checked against the array."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from attention_visual.errors import AttentionDataError
from attention_visual.render.options import RenderOptions
from attention_visual.render.videos import step_video
from attention_visual.storage import AttentionStore, read_map
from attention_visual.storage.schema.frames import (
    FrameRule,
    check_frame_mapping,
    frame_average,
    frame_weights,
    latent_frame_of_video_frame,
    latent_to_video_frame_ranges,
    num_latent_frames,
    video_frame_index,
    video_frames_of_latent,
)
from attention_visual.visualization.comparison import temporal_metrics
from support.synthetic import GRID, hot_spot, make_metadata

CAUSAL_4 = FrameRule(4)  # a causal 4x VAE: video frame 0 alone, then 4 per latent frame


def test_weights_and_index_follow_the_wan_vae() -> None:
    meta = make_metadata()  # 3 latent frames, 9 video frames
    np.testing.assert_array_equal(frame_weights(meta), [1, 4, 4])
    assert video_frame_index(meta).tolist() == [latent_frame_of_video_frame(n, CAUSAL_4) for n in range(9)]


def test_frame_average_is_the_mean_over_video_frames() -> None:
    rng = np.random.default_rng(1)
    stack = rng.random((2, *GRID), dtype=np.float32)  # [step, frame, y, x], non-square grid
    meta = make_metadata()
    expected = np.stack([stack[:, video_frame_index(meta)[n]] for n in range(9)]).mean(axis=0)  # [step, y, x]
    np.testing.assert_allclose(frame_average(stack, meta), expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("ranges", "latent", "video", "message"),
    [
        (((0, 0), (1, 4)), 3, 5, "3 latent frames but latent_to_video_frames maps 2"),
        (((0, 0), (2, 4)), 2, 5, r"latent_to_video_frames\[1\] is \(2, 4\)"),
        (((0, 0), (0, 4)), 2, 5, r"latent_to_video_frames\[1\] is \(0, 4\)"),
        (((0, 0), (1, 4)), 2, 9, "covers video frames 0–4 but the video has 9 frames"),
    ],
)
def test_a_contradicting_mapping_raises(
    ranges: tuple[tuple[int, int], ...], latent: int, video: int, message: str
) -> None:

    with pytest.raises(AttentionDataError, match=message):
        check_frame_mapping(ranges, latent, video)


def test_no_reader_falls_back_to_an_unweighted_mean() -> None:
    meta = make_metadata()  # 3 latent frames
    four_frames = np.zeros((4, *GRID[1:]), np.float32)  # [frame, y, x]
    with pytest.raises(AttentionDataError, match="video 'prompt_001_vid_001', word 'kiss', step 0: the map has 4"):
        frame_average(four_frames, meta)
    with pytest.raises(AttentionDataError, match="the map has 4"):
        video_frame_index(meta, 4)
    with pytest.raises(AttentionDataError, match="the map has 4"):
        step_video(four_frames[None], [meta], "kiss", RenderOptions(), frame="mean")
    with pytest.raises(AttentionDataError, match="2 frame weights for a stack of 3"):
        temporal_metrics(np.zeros((1, *GRID), np.float32), np.ones(2), [1])


def test_reading_metadata_that_contradicts_its_array_names_the_file(tmp_path: Path) -> None:
    data = AttentionStore(tmp_path).save_step(make_metadata(), hot_spot())
    meta_path = data.with_name("step_000_metadata.json")
    raw = json.loads(meta_path.read_text())
    raw["latent_to_video_frames"] = raw["latent_to_video_frames"][:2]
    meta_path.write_text(json.dumps(raw))
    with pytest.raises(AttentionDataError, match=re.escape(str(meta_path)) + ": the map has 3 latent frames"):
        read_map(data, meta_path)


def test_the_writer_refuses_a_contradicting_mapping(tmp_path: Path) -> None:
    meta = dataclasses.replace(make_metadata(), latent_to_video_frames=((0, 0), (1, 4)))
    with pytest.raises(AttentionDataError, match=r"step_000\.npz: the map has 3 latent frames"):
        AttentionStore(tmp_path).save_step(meta, hot_spot())
    assert not list(tmp_path.rglob("*.npz"))


@pytest.mark.parametrize(
    ("rule", "video_frames", "ranges"),
    [
        (FrameRule(4), 9, ((0, 0), (1, 4), (5, 8))),
        (FrameRule(8), 17, ((0, 0), (1, 8), (9, 16))),  # 8 video frames per latent frame (8k+1 videos)
        (FrameRule(4, first_frame_alone=False), 8, ((0, 3), (4, 7))),
        (FrameRule(4, latent_frames_per_cell=2), 13, ((0, 4), (5, 12))),  # a temporal patch of 2 latent frames
        # 2 tokens per patch and 1 padding latent frame in front: map frame 0 = padding + latent 0
        (FrameRule(4, latent_frames_per_cell=2, padding_latent_frames=1), 9, ((0, 0), (1, 8))),
    ],
)
def test_every_frame_rule_maps_map_frames_onto_the_video(
    rule: FrameRule, video_frames: int, ranges: tuple[tuple[int, int], ...]
) -> None:
    frames = num_latent_frames(video_frames, rule)
    assert latent_to_video_frame_ranges(frames, rule) == ranges
    check_frame_mapping(ranges, frames, video_frames)
    for k, (first, last) in enumerate(ranges):
        assert list(video_frames_of_latent(k, rule)) == list(range(first, last + 1))
        assert all(latent_frame_of_video_frame(n, rule) == k for n in range(first, last + 1))

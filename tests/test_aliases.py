"""Words and tokens: the word-named API and the seed's token-named aliases give the same results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attention_visual.aliases import keyword_aliases
from attention_visual.cli.main import main
from attention_visual.visualization import AttentionAnalyzer, AttentionVisualizer
from support.maps import VIDEO_ID, decode, write_store


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("aliases") / "attention_maps")


def test_keyword_alias_maps_the_old_name_and_refuses_both() -> None:
    @keyword_aliases(token_word="word")
    def f(video_id: str, word: str, flag: bool = False) -> tuple[str, str, bool]:
        return video_id, word, flag

    assert f("v", token_word="kiss", flag=True) == f("v", "kiss", True) == f("v", word="kiss", flag=True)
    with pytest.raises(TypeError, match="got both 'word' and its older name 'token_word'"):
        f("v", word="a", token_word="b")
    assert f.__name__ == "f"


def test_visualizer_word_and_token_word_keywords(maps: Path) -> None:
    viz = AttentionVisualizer(AttentionAnalyzer(maps), figsize=(3, 2), dpi=40)
    new = viz.generate_aggregated_attention_map(VIDEO_ID, word="kiss", aggregate_steps=False)
    old = viz.generate_aggregated_attention_map(VIDEO_ID, token_word="kiss", aggregate_steps=False)
    np.testing.assert_array_equal(new, old)
    assert new.shape[0] == 4  # [step, frame, y, x]
    fig_new = viz.generate_temporal_comparison(VIDEO_ID, words=["kiss", "flowers"], snapshots=2)
    fig_old = viz.generate_temporal_comparison(VIDEO_ID, tokens=["kiss", "flowers"], snapshots=2)
    assert len(fig_new.axes) == len(fig_old.axes) > 6


def test_analyzer_word_and_token_keywords(maps: Path) -> None:
    analyzer = AttentionAnalyzer(maps)
    assert analyzer.get_available_steps(VIDEO_ID, token="kiss") == analyzer.get_available_steps(VIDEO_ID, word="kiss")
    old, new = analyzer.load_step(VIDEO_ID, token="kiss", step=1), analyzer.load_step(VIDEO_ID, word="kiss", step=1)
    np.testing.assert_array_equal(old.attention_map, new.attention_map)
    np.testing.assert_array_equal(
        analyzer.step_stack(VIDEO_ID, token="kiss")[0], analyzer.step_stack(VIDEO_ID, "kiss")[0]
    )
    assert analyzer.get_available_tokens(VIDEO_ID) == analyzer.get_available_words(VIDEO_ID) == ["flowers", "kiss"]
    with pytest.raises(TypeError, match="older name 'token'"):
        analyzer.load_aggregated(VIDEO_ID, word="kiss", token="kiss")


@pytest.mark.parametrize("flag", ["--word", "--token"])
def test_video_cli_word_and_token_flags(maps: Path, tmp_path: Path, flag: str) -> None:
    out = tmp_path / "kiss.mp4"
    argv = ["video", "--attention-dir", str(maps), "--video-id", VIDEO_ID, flag, "kiss", "--output", str(out),
            "--use-aggregated", "--static-duration", "0.5", "--fps", "4", "--figsize", "3,2",
            "--dpi", "40"]  # fmt: skip
    assert main(argv) == 0
    frames, _ = decode(out)
    assert len(frames) == 2


@pytest.mark.parametrize("flag", ["--words", "--tokens"])
def test_compare_cli_words_and_tokens_flags(maps: Path, tmp_path: Path, flag: str) -> None:
    out = tmp_path / "t.png"
    argv = ["compare", "--attention-dir", str(maps), "--video-id", VIDEO_ID, flag, "kiss", "flowers",
            "--output", str(out), "--snapshots", "2", "--dpi", "40"]  # fmt: skip
    assert main(argv) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"

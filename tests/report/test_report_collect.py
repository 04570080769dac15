"""Reading a batch folder into the report's data model (no images, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.report.collect import collect_batch, highlight, link
from attention_visual.storage.batch.manifest import read_manifest, write_status
from support.batch import NASTY_PROMPT, build_batch


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    build_batch(
        tmp_path / "b",
        statuses={"prompt_001_vid_002": "failed", "prompt_002_vid_002": "pending"},
        failed_renders=[("prompt_002_vid_001", "beach")],
    )
    return tmp_path / "b"


def test_collect_groups_videos_by_prompt_in_order(batch: Path) -> None:
    view = collect_batch(batch)
    assert [p.record.prompt_index for p in view.prompts] == [1, 2]
    assert [[v.record.video_id for v in p.videos] for p in view.prompts] == [
        ["prompt_001_vid_001", "prompt_001_vid_002"],
        ["prompt_002_vid_001", "prompt_002_vid_002"],
    ]
    assert [v.record.status for v in view.videos] == ["done", "failed", "done", "pending"]


def test_links_are_relative_to_the_report_folder_and_exist(batch: Path) -> None:
    view = collect_batch(batch)
    done = view.videos[0]
    assert done.video == "../videos/prompt_001/video_001.mp4"
    assert (batch / "report" / done.video).resolve().is_file()
    kiss = done.words[0]
    assert kiss.word == "kiss"
    assert kiss.overlay == "../videos/prompt_001/attention_videos/prompt_001_vid_001_kiss_overlay.mp4"
    assert kiss.step_video is not None and kiss.step_video.endswith("_kiss_attention.mp4")
    assert done.maps_dir == batch / "attention_maps" / "prompt_001_vid_001"


def test_missing_files_and_failures_are_reported_not_linked(batch: Path) -> None:
    view = collect_batch(batch)
    failed, pending = view.videos[1], view.videos[3]
    assert failed.video is None and failed.maps_dir is None
    assert failed.record.error is not None and "out of memory" in failed.record.error
    assert pending.video is None
    beach = view.videos[2].words[1]
    assert beach.word == "beach" and beach.overlay is None and beach.step_video is not None
    assert beach.render_errors == ["overlay video failed: RenderError: ffmpeg exploded"]


def test_a_status_file_is_newer_than_the_manifest(batch: Path) -> None:
    record = read_manifest(batch / "manifest.json").videos[3]
    write_status(
        batch / "status" / f"{record.video_id}.json",
        record.__class__.from_dict({**record.to_dict(), "status": "interrupted"}),
    )
    assert collect_batch(batch).videos[3].record.status == "interrupted"


def test_link_refuses_paths_outside_the_batch(tmp_path: Path) -> None:
    (tmp_path / "outside.mp4").write_bytes(b"x")
    (tmp_path / "b").mkdir()
    assert link(tmp_path / "b", "../outside.mp4") is None
    assert link(tmp_path / "b", "/etc/passwd") is None
    assert link(tmp_path / "b", None) is None
    (tmp_path / "b" / "a b#c.mp4").write_bytes(b"x")
    assert link(tmp_path / "b", "a b#c.mp4") == "../a%20b%23c.mp4"


def test_highlight_marks_every_occurrence_with_the_word_index() -> None:
    segments = highlight("a (cat) sees a (dog) and a (cat)", "a cat sees a dog and a cat", ("cat", "dog"))
    assert [(s.text, s.word_index) for s in segments] == [
        ("a ", None),
        ("cat", 0),
        (" sees a ", None),
        ("dog", 1),
        (" and a ", None),
        ("cat", 0),
    ]
    nasty = highlight(NASTY_PROMPT, "", ('</script><b>"x"&', "cat"))
    assert [s.text for s in nasty if s.word_index is not None] == ['</script><b>"x"&', "cat"]


def test_highlight_falls_back_to_the_clean_prompt_when_unparsable() -> None:
    assert [(s.text, s.word_index) for s in highlight("a (broken", "a broken", ())] == [("a broken", None)]


def test_not_a_batch_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        collect_batch(tmp_path / "nope")
    with pytest.raises(NotFoundError, match=r"no manifest\.json"):
        collect_batch(tmp_path)
    (tmp_path / "manifest.json").write_text('{"schema_version": 99}')
    with pytest.raises(AttentionDataError, match="schema version"):
        collect_batch(tmp_path)

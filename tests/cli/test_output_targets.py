"""``report --output``, ``video --output`` and ``compare --output`` never write into a map store nor onto the
batch's own files: one line, exit 2, nothing touched. Readers do not take a report folder for a video."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.analysis.pack import pack_batch
from attention_visual.cli.main import main
from attention_visual.storage.backend import open_maps
from support.batch import build_batch

VID = "prompt_001_vid_001"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    build_batch(tmp_path / "b", videos_per_prompt=1)
    return tmp_path / "b"


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("attention-visual: error:")]
    assert "Traceback" not in err
    return line


@pytest.mark.parametrize("packed", [False, True])
def test_report_output_inside_the_store_is_refused(
    batch: Path, packed: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    if packed:
        pack_batch(batch)
    before = tree(batch)
    for target in (batch / "attention_maps", batch / "attention_maps.zarr" / "report", batch / "videos"):
        assert main(["report", str(batch), "--output", str(target), "--no-plots", "--no-batch-view"]) == 2
        line = one_error(capsys)
        assert f"cannot write the report into {target}:" in line
    assert {k: v for k, v in tree(batch).items() if k != "generate.lock"} == {
        k: v for k, v in before.items() if k != "generate.lock"
    }
    assert len(open_maps(batch).reader().list_videos()) == 2


def test_video_and_compare_outputs_onto_the_batch_are_refused(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated = batch / "videos" / "prompt_001" / "video_001.mp4"
    original = generated.read_bytes()
    source = ["--attention-dir", str(batch / "attention_maps"), "--video-id", VID]
    assert main(["video", *source, "--word", "kiss", "--output", str(generated)]) == 2
    assert "it is a file of batch" in one_error(capsys) and generated.read_bytes() == original
    into_store = batch / "attention_maps" / "kiss.mp4"
    assert main(["video", *source, "--word", "kiss", "--output", str(into_store)]) == 2
    assert "inside the map store" in one_error(capsys) and not into_store.exists()
    plot = batch / "attention_maps" / VID / "temporal.png"
    assert main(["compare", *source, "--words", "kiss", "flowers", "--output", str(plot)]) == 2
    assert "inside the map store" in one_error(capsys) and not plot.exists()
    elsewhere = batch / "my_renders" / "kiss.gif"  # the user's own folder in the batch is fine
    assert main(["video", *source, "--word", "kiss", "--output", str(elsewhere), "--fps", "4"]) == 0
    assert elsewhere.is_file()


def test_a_report_written_into_the_store_by_an_older_version_is_not_read_as_videos(
    batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stray = batch / "attention_maps"
    assert main(["report", str(batch), "--output", str(batch / "elsewhere"), "--no-plots", "--no-batch-view"]) == 0
    capsys.readouterr()
    (batch / "elsewhere").rename(stray / "report")  # as `report --output BATCH/attention_maps/report` once did
    (stray / "index.html").write_text("<html></html>")
    assert open_maps(batch).reader().list_videos() == [VID, "prompt_002_vid_001"]
    assert main(["video", "--attention-dir", str(stray), "--list-available"]) == 0
    videos = [
        line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith("  ") and "'" not in line
    ]
    assert videos == [VID, "prompt_002_vid_001"]

"""Real storage faults: a full disk (a small tmpfs), a per-process file size limit (RLIMIT_FSIZE), a
read-only status folder and a read-only batch for the report. Each ends the command with one line
naming the path and the cause, exit status 1; nothing finished is lost; a rerun completes.

Mounting needs root (or CAP_SYS_ADMIN); where it is refused those tests are skipped with the reason.
The RLIMIT_FSIZE test works for any user.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from attention_visual.cli.main import main
from attention_visual.config import dump_config, load_config
from attention_visual.pipeline import BatchOptions, run_batch
from pipeline.chaos_support import fork_cli, wait_exit
from pipeline.pipeline_support import snapshot, tiny_config, tiny_data, write_config
from support.mounts import mount
from support.mounts import tmpfs as small_disk
from support.report_files import markup

pytestmark = pytest.mark.slow  # full tiny batches

_mount = mount


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted on a fresh folder (unmounted afterwards); skipped where mounting is refused."""
    with small_disk(tmp_path / "disk") as point:
        yield point


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("attention-visual: error:")]


def test_a_full_disk_ends_generate_with_one_line_and_a_rerun_completes(
    tmpfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmpfs, batch_name="b", attention_analysis={"auto_generate_per_video": True})
    config = write_config(tmp_path / "c.yaml", data)
    (tmpfs / "filler").write_bytes(b"\0" * 700_000)  # room for about one video and its renders
    assert main(["generate", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert re.fullmatch(rf"attention-visual: error: cannot write {tmpfs}/b/\S+: No space left on device", line), line
    assert "Traceback" not in err
    batch = tmpfs / "b"
    done = [p for p in (batch / "status").glob("*.json") if json.loads(p.read_text())["video"]["status"] == "done"]
    finished = {k: v for k, v in snapshot(batch).items() if any(p.stem in k for p in done) or "video_001" in k}
    assert not [k for k in snapshot(batch) if ".tmp-" in k]

    (tmpfs / "filler").unlink()  # space freed: the rerun completes and leaves finished files alone
    _mount("-o", "remount,size=16m", str(tmpfs))
    assert main(["generate", str(config), "--no-progress"]) == 0
    after = snapshot(batch)
    assert {k: after.get(k) for k in finished if k.startswith(("videos/prompt_001/video", "attention_maps"))} == {
        k: v for k, v in finished.items() if k.startswith(("videos/prompt_001/video", "attention_maps"))
    }
    assert json.loads((batch / "manifest.json").read_text())["counts"]["done"] == 4


def test_a_file_size_limit_in_a_real_process_is_a_clean_exit_1(tmp_path: Path) -> None:
    data = tiny_data(tmp_path / "out", batch_name="b")
    config = write_config(tmp_path / "c.yaml", data)
    pid = fork_cli(["generate", str(config), "--no-progress"], tmp_path / "log", max_file_size=2000)
    assert wait_exit(pid) == 1, (tmp_path / "log").read_text()[-3000:]
    log = (tmp_path / "log").read_text()
    assert "Traceback" not in log
    [line] = error_lines(log)
    assert re.fullmatch(rf"attention-visual: error: cannot write {tmp_path}/out/b/\S+: File too large", line), line
    assert not [k for k in snapshot(tmp_path / "out" / "b") if ".tmp-" in k]
    assert wait_exit(fork_cli(["generate", str(config), "--no-progress"], tmp_path / "log2")) == 0


def test_a_read_only_status_folder_is_one_line_and_exit_1(
    tmpfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out", batch_name="b"))
    status = tmp_path / "out" / "b" / "status"
    status.mkdir(parents=True)
    (status.parent / "config.yaml").write_text(dump_config(load_config(config)))  # an earlier run's folder
    _mount("--bind", str(tmpfs), str(status))
    _mount("-o", "remount,bind,ro", str(status))
    try:
        assert main(["generate", str(config), "--no-progress"]) == 1
    finally:
        subprocess.run(["umount", str(status)], check=True)
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert line == f"attention-visual: error: cannot write {status}/prompt_001_vid_001.json: Read-only file system"
    assert "Traceback" not in err
    assert main(["generate", str(config), "--no-progress"]) == 0


def test_a_read_only_batch_gets_its_report_elsewhere(
    tmp_path: Path, fresh_tiny_pipe: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config(tmp_path / "out", batch_name="b", generation={"videos_per_prompt": 1})
    batch = run_batch(config, Path("c.yaml"), BatchOptions(progress=False), pipe=fresh_tiny_pipe).batch_dir
    try:
        _mount("--bind", str(batch), str(batch))
        _mount("-o", "remount,bind,ro", str(batch))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a read-only bind mount here ({getattr(exc, 'stderr', exc)!s})")
    try:
        assert main(["report", str(batch), "--no-plots"]) == 1
        [line] = error_lines(capsys.readouterr().err)
        assert line.startswith(f"attention-visual: error: cannot write {batch}/generate.lock:")  # the batch lock
        hint = "to browse a read-only batch, write its report elsewhere with --output DIR"
        assert line.endswith(f"Read-only file system; {hint}")
        elsewhere = tmp_path / "browse" / "report"
        assert main(["report", str(batch), "--output", str(elsewhere), "--no-plots"]) == 0
    finally:
        subprocess.run(["umount", str(batch)], check=True)
    page = markup(elsewhere)  # the page and its cards
    links = set(re.findall(r'(?:src|href|data-src)="([^"#]+\.(?:mp4|png))"', page))
    assert any(link.endswith("video_001.mp4") for link in links)
    for link in links:  # every link resolves from the report's own folder
        assert (elsewhere / unquote(link)).resolve().is_file(), link

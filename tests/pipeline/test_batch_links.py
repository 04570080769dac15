"""A link inside a batch never takes a command's writes outside it: ``report`` and ``pack`` refuse the batch
in one line (exit 2) and write nothing, inside the batch or where the link points."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.cli.main import main
from support.batch import build_batch
from support.shared import changes, snapshot_of

pytestmark = pytest.mark.light


@pytest.mark.parametrize(
    ("command", "linked"),
    [("report", "report"), ("report", "attention_videos/prompt_001"), ("pack", "videos"), ("pack", "status")],
)
def test_a_linked_folder_refuses_the_command_that_would_write_through_it(
    command: str, linked: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch, outside = tmp_path / "batch", tmp_path / "outside"
    build_batch(batch, prompts=("a (cat)",), videos_per_prompt=1)
    outside.mkdir()
    if (batch / linked).exists():
        (batch / linked).rename(outside / "moved")
    else:
        (outside / "moved").mkdir()
        (batch / linked).parent.mkdir(parents=True, exist_ok=True)
    (batch / linked).symlink_to(outside / "moved", target_is_directory=True)
    before_outside, before_batch = snapshot_of(outside), snapshot_of(batch)
    assert main([command, str(batch)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{linked}: a symbolic link inside the batch" in err, err
    assert changes(outside, before_outside) == []
    assert changes(batch, before_batch) in ([], ["generate.lock"])  # the lock file records who asked

"""The light install: reading, rendering and reporting a stored batch without torch, diffusers or transformers.

Every command runs in a subprocess where those three modules cannot be imported (``sys.modules[name] =
None``, which makes ``import`` fail and ``importlib.util.find_spec`` return None, as on a light install),
so this proves the commands work without them even in the full dev venv. ``make test-light`` runs the
``light`` tests again in a venv made with ``pip install .`` only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.batch import build_batch

pytestmark = pytest.mark.light

WAN_MODULES = ("torch", "diffusers", "transformers")

#: Runs the CLI (or the code given after ``--code``) with the ``wan`` extra made unimportable.
RUNNER = f"""
import sys
sys.modules.update(dict.fromkeys({WAN_MODULES!r}))
if sys.argv[1] == "--code":
    exec(sys.argv[2])
else:
    from attention_visual.cli.main import main
    sys.exit(main(sys.argv[1:]))
"""


def run_light(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished synthetic batch (manifest, maps, videos) written without any model."""
    root = tmp_path_factory.mktemp("light") / "batch"
    build_batch(root, prompts=("A romantic (kiss) with (flowers)",), videos_per_prompt=1)
    return root


def test_video_list_step_and_overlay_without_torch(batch: Path, tmp_path: Path) -> None:
    maps = batch / "attention_maps"
    listing = run_light("video", "--attention-dir", maps, "--list-available")
    assert listing.returncode == 0, listing.stderr
    assert "prompt_001_vid_001" in listing.stdout and "kiss" in listing.stdout
    out = tmp_path / "kiss.mp4"
    step = run_light("video", "--attention-dir", maps, "--video-id", "prompt_001_vid_001", "--word", "kiss",
                     "--output", out, "--figsize", "3,2", "--dpi", "40")  # fmt: skip
    assert step.returncode == 0, step.stderr
    assert out.stat().st_size > 0
    overlay_out = tmp_path / "overlay.mp4"
    original = batch / "videos" / "prompt_001" / "video_001.mp4"
    overlay = run_light("video", "--attention-dir", maps, "--video-id", "prompt_001_vid_001", "--token", "flowers",
                        "--output", overlay_out, "--original-video", original)  # fmt: skip
    assert overlay.returncode == 0, overlay.stderr
    assert overlay_out.stat().st_size > 0


def test_compare_and_report_without_torch(batch: Path, tmp_path: Path) -> None:
    png = tmp_path / "temporal.png"
    compare = run_light("compare", "--attention-dir", batch / "attention_maps", "--video-id", "prompt_001_vid_001",
                        "--words", "kiss", "flowers", "--output", png)  # fmt: skip
    assert compare.returncode == 0, compare.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = run_light("report", batch)
    assert report.returncode == 0, report.stderr
    assert (batch / "report" / "index.html").is_file()


def test_generation_modules_name_the_extra(tmp_path: Path) -> None:
    for module in ("attention_visual.capture", "attention_visual.models", "attention_visual.pipeline.batch"):
        result = run_light("--code", f"import {module}")
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("attention_visual.errors.MissingExtraError: "), result.stderr
        assert "needs the 'wan' extra" in last and 'pip install "attention_visual[wan]"' in last
    code = (
        "from attention_visual.errors import MissingExtraError\n"
        "try:\n    import attention_visual.capture\n"
        "except ImportError as exc:\n    assert isinstance(exc, MissingExtraError), exc\n    print(exc)\n"
    )
    caught = run_light("--code", code)
    assert caught.returncode == 0, caught.stderr
    assert caught.stdout.startswith("attention_visual.capture needs the 'wan' extra (torch, diffusers, transformers")


def test_generate_without_the_extra_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[2] / "configs" / "tiny_demo.yaml"
    result = run_light("generate", config, "--set", f"output_dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "needs the 'wan' extra" in result.stderr, result.stderr
    assert not any(tmp_path.iterdir())


def test_the_package_and_light_commands_do_not_import_torch(batch: Path) -> None:
    code = (
        "import sys\n"
        "import attention_visual, attention_visual.cli.main as m\n"
        "from attention_visual.visualization import AttentionAnalyzer, AttentionVisualizer\n"
        "from attention_visual.report import write_report\n"
        "from attention_visual.config import load_config\n"
        "m.build_parser()\n"
        f"AttentionAnalyzer({str(batch / 'attention_maps')!r}).get_available_words('prompt_001_vid_001')\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {WAN_MODULES!r} and sys.modules[n]))\n"
    )
    # not blocked here: whatever is installed, nothing of the wan extra may be loaded
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_config_validates_without_torch() -> None:
    """`config` works on a light install (checks that need the tokenizer are left out there)."""
    config = Path(__file__).resolve().parents[2] / "configs" / "tiny_demo.yaml"
    result = run_light("config", config, "--set", "generation.seed=7")
    assert result.returncode == 0, result.stderr
    assert "seed: 7" in result.stdout

"""The report page's HTML and its cards (escaping, links, states) and the ``attention-visual report`` command."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from attention_visual.cli.main import main
from attention_visual.report import write_report
from attention_visual.report.escape import json_block
from attention_visual.report.look import render_settings
from support.batch import NASTY_PROMPT, PROMPTS, build_batch
from support.report_files import cards, markup, page_data

pytestmark = pytest.mark.light  # runs on the light install too (make test-light)

NASTY_WORD = '</script><b>"x"&'


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _urls(page: str) -> list[str]:
    urls = [a[k] for _, a in _tags(page) for k in ("href", "src") if a.get(k)]
    urls += re.findall(r"url\(&#x27;([^&]+)&#x27;\)", page)
    return [u for u in urls if u is not None]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    batch = tmp_path_factory.mktemp("batches") / "demo"
    build_batch(
        batch,
        prompts=(*PROMPTS, NASTY_PROMPT),
        statuses={"prompt_001_vid_002": "failed", "prompt_002_vid_002": "pending", "prompt_003_vid_002": "interrupted"},
        failed_renders=[("prompt_002_vid_001", "beach")],
    )
    return write_report(batch, comparison_plots=False)


def test_every_link_is_relative_and_resolves(report: Path) -> None:
    page = markup(report.parent)
    urls = _urls(page) + re.findall(r'data-(?:src|poster)="([^"]+)"', page)
    videos = {v for p in page_data(report)["prompts"] for v in p["videos"]}  # their cards get these ids
    assert any(u.endswith(".mp4") for u in urls) and any(u.endswith(".png") for u in urls)
    for url in urls:
        if url.startswith("#"):
            assert f'id="{url[1:]}"' in page or url[1:] in videos, url
            continue
        assert "://" not in url and not url.startswith("/"), url
        assert (report.parent / unquote(url)).is_file(), url


def test_no_external_resources(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert page.count("<script") == 2  # the JSON data block and the inline script
    everything = markup(report.parent)
    assert "http://" not in everything and "https://" not in everything and "@import" not in everything
    assert len(page) < 40_000  # no card in the page itself: they are loaded as they near the screen
    for tag, attrs in _tags(everything):
        assert tag != "video", attrs  # players are made by the script while on screen, never in the markup
        if tag == "img":
            assert attrs["loading"] == "lazy"


def test_user_strings_are_escaped_in_html_and_json(report: Path) -> None:
    page = markup(report.parent)
    assert "<b>" not in page and NASTY_WORD not in page
    assert "&lt;/script&gt;&lt;b&gt;&quot;x&quot;&amp;" in page
    assert "CUDA out of memory &lt;tried to allocate 2 GiB&gt;" in page
    for script in [*(report.parent / "cards").glob("*.js"), *(report.parent / "batch").rglob("*.js")]:
        text = script.read_text(encoding="utf-8")
        assert NASTY_WORD not in text and "<" not in text, script  # markup travels JSON-escaped
    data = page_data(report)
    word_maps = [key for card in cards(report.parent).values() for key in card["maps"]]
    assert data["batch"] == "demo" and len(word_maps) == 2 * 4  # 2 words × (3 done + 1 interrupted videos)
    assert json.loads(json_block({"w": NASTY_WORD + "<!--\u2028"})) == {"w": NASTY_WORD + "<!--\u2028"}
    assert "<" not in json_block({"w": NASTY_WORD + "<!--"}) and "\u2028" not in json_block({"w": "\u2028"})


def test_states_are_shown(report: Path) -> None:
    index = report.read_text(encoding="utf-8")
    page = markup(report.parent)
    for status in ("done", "failed", "pending", "interrupted"):
        assert f'<span class="badge {status}">{status}</span>' in page
    assert "nothing to show: generation failed" in page and "nothing to show: not generated yet" in page
    assert "overlay video failed: RenderError: ffmpeg exploded" in page
    assert index.count('<details class="prompt"') == 3 and index.count(" open>") == 1
    assert sorted(cards(report.parent)) == sorted(v for p in page_data(report)["prompts"] for v in p["videos"])
    assert len(cards(report.parent)) == 6
    assert '<mark class="w0">kiss</mark>' in page and '<mark class="w1">flowers</mark>' in page
    assert 'type="range" class="step"' in page and 'type="range" class="frame"' in page
    assert "Words side by side" in page


def test_render_settings_come_from_the_batch_config(tmp_path: Path) -> None:
    assert render_settings(tmp_path) == ("hot", "global")
    (tmp_path / "config.yaml").write_text(
        "prompts: ['a (cat)']\nattention_analysis:\n  visualization_params:\n"
        "    colormap: viridis\n    normalization: per_step\n"
    )
    assert render_settings(tmp_path) == ("viridis", "per_step")
    (tmp_path / "config.yaml").write_text("prompts: 3\n")
    assert render_settings(tmp_path) == ("hot", "global")


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "b"
    build_batch(batch, prompts=("a (cat)",), videos_per_prompt=1)
    assert main(["report", str(batch), "--no-plots", "--colormap", "magma"]) == 0
    assert capsys.readouterr().out.strip() == str((batch / "report" / "index.html").absolute())
    assets = json.loads((batch / "report" / "maps" / "prompt_001_vid_001" / "assets.json").read_text())
    assert assets["words"]["cat"]["info"]["colormap"] == "magma"


@pytest.mark.parametrize("args", [["nope"], ["."], [".", "--colormap", "nocolor"]])
def test_cli_bad_input_is_one_line_and_exit_2(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    if args[0] == "." and len(args) > 1:
        build_batch(tmp_path, prompts=("a (cat)",), videos_per_prompt=1)
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attention-visual: error: ") and err.count("\n") == 1, err

"""The report page, ``index.html``: inline CSS and JS, one collapsible section per prompt, its data in a JSON block.

The page itself holds no video card: each prompt section lists its videos' ids in the JSON block and the
script loads their cards (``cards/<video_id>.js``, :mod:`.cards`) as they near the screen, so the page
stays small (a few hundred bytes per prompt and ~25 bytes per video) and opens fast at any batch size.

Every user string (prompts, words, errors, ids) goes through :func:`~attention_visual.report.escape.e`;
the JSON block is :func:`~attention_visual.report.escape.json_block` output, so no value can close the
``<script>`` element. Links are relative (``../videos/...``) and URL-quoted, so the page works from
``file://`` and keeps working when the batch folder is moved or copied as a whole.

Example:
    >>> from pathlib import Path
    >>> from attention_visual.report.collect import collect_batch
    >>> page = render_page(collect_batch(Path("outputs/batch")))
    >>> page.startswith("<!doctype html>"), "prompt_001_vid_001" in page
    (True, True)
"""

from __future__ import annotations

from typing import Any

from attention_visual.report.assets import CSS, JS
from attention_visual.report.cards import video_slot, word_class
from attention_visual.report.collect import PromptView, ReportView, Segment
from attention_visual.report.escape import e, json_block
from attention_visual.storage.batch.manifest import STATUSES

_VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".gif")


def _segments(segments: list[Segment]) -> str:
    return "".join(
        e(s.text) if s.word_index is None else f'<mark class="{word_class(s.word_index)}">{e(s.text)}</mark>'
        for s in segments
    )


def _inputs(inputs: list[tuple[str, str]]) -> str:
    """The prompt's input images/videos, each with its name (``image``, ``last_image``, ``video``, ...)."""
    if not inputs:
        return ""
    items = []
    for name, href in inputs:
        if href.lower().endswith(_VIDEO_SUFFIXES):
            items.append(video_slot(href, "small input", f"input {name}", ""))
        else:
            items.append(
                f'<figure class="input"><img src="{e(href)}" alt="input {e(name)}" loading="lazy" class="small">'
                f"<figcaption>input {e(name)}</figcaption></figure>"
            )
    return f'<div class="inputs">{"".join(items)}</div>'


def _prompt_section(prompt: PromptView, open_: bool) -> str:
    p = prompt.record
    counts: dict[str, int] = {}
    for v in prompt.videos:
        counts[v.record.status] = counts.get(v.record.status, 0) + 1
    badges = " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES if s in counts)
    empty = "" if prompt.videos else '<p class="meta">no videos</p>'
    return (
        f'<details class="prompt" id="prompt-{p.prompt_index}"{" open" if open_ else ""}>'
        f'<summary><span class="pnum">Prompt {p.prompt_index}</span>{_segments(prompt.segments)} {badges}</summary>'
        f'<div class="prompt-body"><p class="marked">marked: <code>{e(p.marked_prompt)}</code></p>'
        f'{_inputs(prompt.inputs)}{empty}<div class="cards"></div></div></details>'
    )


def render_page(view: ReportView, generated: str = "", batch_section: str = "", batch_view: str | None = None) -> str:
    """The complete HTML of the report of ``view``.

    Args:
        view: The collected batch.
        generated: When the page was written (shown in its footer).
        batch_section: The batch view's ``<details>`` (:func:`attention_visual.report.batch_html.batch_details`).
        batch_view: Link to the batch view's script, when there is a batch view.
    """
    manifest = view.manifest
    counts = manifest.counts()
    summary = " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES if counts.get(s))
    toc = "".join(
        f'<li><a href="#prompt-{p.record.prompt_index}">Prompt {p.record.prompt_index}</a></li>' for p in view.prompts
    )
    if batch_section:
        toc = '<li><a href="#batch">Batch view</a></li>' + toc
    sections = batch_section + "".join(_prompt_section(p, i == 0) for i, p in enumerate(view.prompts))
    data: dict[str, Any] = {
        "batch": manifest.batch_name,
        "prompts": [
            {"id": f"prompt-{p.record.prompt_index}", "videos": [v.record.video_id for v in p.videos]}
            for p in view.prompts
        ],
        "batch_view": batch_view,
    }
    finished = f"finished {manifest.finished}" if manifest.finished else "not finished"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attention report · {e(manifest.batch_name)}</title>
<style>{CSS}</style></head>
<body>
<header class="top"><h1>Attention report · {e(manifest.batch_name)}</h1>
<p>model {e(manifest.model_id)} · {len(view.prompts)} prompts · {len(manifest.videos)} videos {summary}</p>
<p>created {e(manifest.created)} · updated {e(manifest.updated)} · {e(finished)}</p>
<p class="keys">Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous video · <kbd>e</kbd>/<kbd>c</kbd> expand/collapse all
· <kbd>Tab</kbd> to a slider, then <kbd>←</kbd>/<kbd>→</kbd></p></header>
<main><ul class="toc">{toc}</ul>
{sections}
</main>
<footer>Written by attention-visual{e(" on " + generated) if generated else ""} from the batch's stored files.</footer>
<script type="application/json" id="report-data">{json_block(data)}</script>
<script>{JS}</script>
</body></html>
"""


__all__ = ["render_page"]

"""The report page: one HTML file with inline CSS and JS, its data in a JSON ``<script>`` block.

Every user string (prompts, words, errors, ids) goes through :func:`html.escape`; the JSON block is
``json.dumps`` output with ``<``, ``>`` and ``&`` written as ``\\u003c`` etc., so no value can close the
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

import json
from typing import Any

from attention_visual.report.assets import CSS, JS
from attention_visual.report.batch_html import batch_section
from attention_visual.report.batch_view import TABLE_COLUMNS, BatchView
from attention_visual.report.collect import PromptView, ReportView, Segment, VideoView, WordView
from attention_visual.report.escape import e
from attention_visual.report.images import SpriteInfo
from attention_visual.storage.batch.manifest import STATUSES, Timings, VideoRecord

WORD_COLOURS = 6
"""Highlight colours (CSS classes ``w0`` … ``w5``), cycled over a prompt's words."""

_TIMING_NAMES = (
    ("generation_s", "generation"),
    ("capture_save_s", "maps"),
    ("video_write_s", "encode"),
    ("render_s", "render"),
)


def json_block(data: Any) -> str:
    """``data`` as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def word_class(index: int) -> str:
    return f"w{index % WORD_COLOURS}"


def _segments(segments: list[Segment]) -> str:
    return "".join(
        e(s.text) if s.word_index is None else f'<mark class="{word_class(s.word_index)}">{e(s.text)}</mark>'
        for s in segments
    )


def _badge(status: str) -> str:
    return f'<span class="badge {e(status)}">{e(status)}</span>'


def _timings(timings: Timings) -> str:
    parts = [f"{label} {getattr(timings, name):.1f} s" for name, label in _TIMING_NAMES if getattr(timings, name)]
    return " · ".join(parts)


def _video(href: str | None, css: str, label: str, missing: str) -> str:
    if href is None:
        return f'<figure><div class="missing">{e(missing)}</div><figcaption>{e(label)}</figcaption></figure>'
    return (
        f'<figure><video class="{css}" src="{e(href)}" controls muted loop playsinline preload="none"></video>'
        f'<figcaption>{e(label)} · <a href="{e(href)}">open</a></figcaption></figure>'
    )


def _map(key: str, word: WordView) -> str:
    info = word.sprite_info
    assert info is not None and word.sprite is not None
    row, col = info.rows - 1, 0
    x = f"{100 * col / (info.cols - 1):g}%" if info.cols > 1 else "0%"
    y = f"{100 * row / (info.rows - 1):g}%" if info.rows > 1 else "0%"
    style = (
        f"background-image:url('{word.sprite}');background-size:{info.cols * 100}% {info.rows * 100}%;"
        f"background-position:{x} {y};aspect-ratio:{info.tile_width}/{info.tile_height}"
    )
    label = f"attention map of {word.word}"
    return f'<div class="map" role="img" aria-label="{e(label)}" data-map="{key}" style="{e(style)}"></div>'


def _sliders(info: SpriteInfo) -> str:
    return (
        '<div class="sliders">'
        f'<label>step</label><input type="range" class="step" min="0" max="{info.rows - 1}" '
        f'value="{info.rows - 1}" aria-label="denoising step">'
        f"<output>{e(info.step_labels[-1])}</output>"
        f'<label>frame</label><input type="range" class="frame" min="0" max="{info.cols - 1}" value="0" '
        'aria-label="latent frame (0: mean over the video)">'
        f"<output>{e(info.frame_labels[0])}</output>"
        "</div>"
    )


def _colorbar(info: SpriteInfo) -> str:
    gradient = ", ".join(info.gradient)
    return (
        f'<div class="cbar" style="background:linear-gradient(to right, {e(gradient)})"></div>'
        f'<div class="cbar-labels"><span>{info.vmin:.3g}</span><span>{e(info.norm_label)}</span>'
        f"<span>{info.vmax:.3g}</span></div>"
    )


def _word_section(video: VideoView, word: WordView, keys: dict[int, str]) -> str:
    mark = f'<mark class="{word_class(word.index)}">{e(word.word)}</mark>'
    if word.sprite_info is not None:
        info = word.sprite_info
        panel = (
            f'<div class="panel"><h4>{mark} map · step × frame</h4>{_map(keys[id(word)], word)}'
            f"{_sliders(info)}{_colorbar(info)}</div>"
        )
    else:
        panel = f'<div class="panel"><h4>{mark}</h4><div class="missing">{e(word.map_error or "no map")}</div></div>'
    errors = "".join(f'<p class="error">{e(err)}</p>' for err in word.render_errors)
    status = video.record.status
    return (
        f'<section class="word">{panel}'
        f"{_video(word.overlay, 'small', f'{word.word}: overlay on the video', f'no overlay video ({status})')}"
        f"{_video(word.step_video, 'small', f'{word.word}: map over the steps', f'no step video ({status})')}"
        f"{errors}</section>"
    )


def _side_by_side(video: VideoView, keys: dict[int, str]) -> str:
    shown = [w for w in video.words if w.sprite_info is not None]
    if len(shown) < 2:
        return ""
    tiles = "".join(
        f'<figure>{_map(keys[id(w)], w)}<figcaption><mark class="{word_class(w.index)}">{e(w.word)}</mark>'
        "</figcaption></figure>"
        for w in shown
    )
    first = shown[0].sprite_info
    assert first is not None
    return (
        f'<section class="panel"><h4>Words side by side</h4><div class="tiles">{tiles}</div>{_sliders(first)}</section>'
    )


def _video_card(video: VideoView, keys: dict[int, str]) -> str:
    record: VideoRecord = video.record
    meta = " · ".join(p for p in (f"seed {record.seed}", _timings(record.timings)) if p)
    error = f'<p class="error">{e(record.error)}</p>' if record.error else ""
    missing = {"done": "video file missing", "failed": "generation failed"}.get(record.status, "not generated yet")
    head = (
        f'<article class="video" id="{e(record.video_id)}" tabindex="-1">'
        f"<header><h3>Video {record.video_index}</h3><code>{e(record.video_id)}</code>{_badge(record.status)}"
        f'<span class="meta">{e(meta)}</span></header>{error}'
    )
    if video.video is None and not any(w.sprite_info or w.overlay or w.step_video for w in video.words):
        return f'{head}<p class="meta">nothing to show: {e(missing)}</p></article>'
    gen = _video(video.video, "gen", "generated video", missing)
    words = "".join(_word_section(video, w, keys) for w in video.words)
    if video.comparison:
        plot = (
            f'<figure class="plot"><a href="{e(video.comparison)}"><img src="{e(video.comparison)}" loading="lazy" '
            f'alt="temporal comparison of the words of {e(record.video_id)}"></a>'
            "<figcaption>temporal comparison of the words (click to enlarge)</figcaption>"
            "</figure>"
        )
    elif video.comparison_error:
        plot = f'<p class="meta">no comparison plot: {e(video.comparison_error)}</p>'
    else:
        plot = ""
    return (
        f'{head}<div class="row">{gen}{_side_by_side(video, keys)}{plot}</div>'
        f'<div class="words">{words}</div></article>'
    )


def _inputs(inputs: list[tuple[str, str]]) -> str:
    """The prompt's input images/videos, each with its name (``image``, ``last_image``, ``video``, ...)."""
    if not inputs:
        return ""
    items = []
    for name, href in inputs:
        media = (
            f'<video src="{e(href)}" controls muted loop preload="metadata" class="small"></video>'
            if href.lower().endswith((".mp4", ".avi", ".webm", ".mov", ".gif"))
            else f'<img src="{e(href)}" alt="input {e(name)}" loading="lazy" class="small">'
        )
        items.append(f'<figure class="input">{media}<figcaption>input {e(name)}</figcaption></figure>')
    return f'<div class="inputs">{"".join(items)}</div>'


def _prompt_section(prompt: PromptView, open_: bool, keys: dict[int, str]) -> str:
    p = prompt.record
    counts: dict[str, int] = {}
    for v in prompt.videos:
        counts[v.record.status] = counts.get(v.record.status, 0) + 1
    badges = " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES if s in counts)
    cards = "".join(_video_card(v, keys) for v in prompt.videos) or '<p class="meta">no videos</p>'
    inputs = _inputs(prompt.inputs)
    body = (
        f'<div class="prompt-body"><p class="marked">marked: <code>{e(p.marked_prompt)}</code></p>{inputs}{cards}</div>'
    )
    # A closed prompt's body stays inert until opened (see assets.JS): no video elements are created.
    content = body if open_ else f'<template class="lazy">{body}</template>'
    return (
        f'<details class="prompt" id="prompt-{p.prompt_index}"{" open" if open_ else ""}>'
        f'<summary><span class="pnum">Prompt {p.prompt_index}</span>{_segments(prompt.segments)} {badges}</summary>'
        f"{content}</details>"
    )


def render_page(view: ReportView, generated: str = "", batch: BatchView | None = None) -> str:
    """The complete HTML of the report of ``view`` (sprites and plots already filled in), with ``batch``'s view."""
    manifest = view.manifest
    keys: dict[int, str] = {}
    maps: dict[str, dict[str, Any]] = {}
    for video in view.videos:
        for word in video.words:
            if word.sprite_info is not None:
                keys[id(word)] = key = f"m{len(keys)}"
                info = word.sprite_info
                maps[key] = {
                    "rows": info.rows,
                    "cols": info.cols,
                    "step_labels": list(info.step_labels),
                    "frame_labels": list(info.frame_labels),
                }
    counts = manifest.counts()
    summary = " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES if counts.get(s))
    toc = "".join(
        f'<li><a href="#prompt-{p.record.prompt_index}">Prompt {p.record.prompt_index}</a></li>' for p in view.prompts
    )
    sections = "".join(_prompt_section(p, i == 0, keys) for i, p in enumerate(view.prompts))
    data: dict[str, Any] = {"batch": manifest.batch_name, "maps": maps}
    if batch is not None:
        links = {v.record.video_id: v.video for v in view.videos}
        details, body = batch_section(batch, links, maps)
        sections = details + sections
        toc = '<li><a href="#batch">Batch view</a></li>' + toc
        data["stats"] = {"columns": list(TABLE_COLUMNS), "rows": batch.rows}
        data["batch_html"] = body
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


__all__ = ["e", "json_block", "render_page"]

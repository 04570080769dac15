"""The video cards: one small script file per video, ``report/cards/<video_id>.js``, loaded when it is needed.

A card is the HTML of one video (status, seed and timings, the generated video, each word's map with its
sliders, overlay and step video, the words' curves) made from its record (:mod:`.collect`) and its assets
(:mod:`.video_assets`). The file is ``AV.card("<video_id>", {"html": ..., "maps": {...}})``: a script, not
JSON, because a page opened from ``file://`` may load scripts but not ``fetch()`` files. The page asks for
a card when its place nears the screen and drops it again far away (:mod:`.assets`), so the page holds
a bounded number of cards whatever the size of the batch.

Videos are not ``<video>`` elements here but ``<div class="vslot" data-src=...>`` slots: the page creates
a player in a slot while it is on screen and releases it (``src`` removed, ``load()``) when it leaves, so a
page never holds more than the players on screen (Chromium creates at most 1,000 per page).

Every user string goes through :func:`attention_visual.report.escape.e`; the JSON payload escapes ``<``,
``>`` and ``&`` (:func:`attention_visual.report.escape.json_block`). :func:`write_cards` rewrites a card
only when its content changed (``cards/index.json`` holds each card's hash), so refreshing the page of a
running batch writes only the cards of the videos that moved on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from attention_visual.measures import LABELS
from attention_visual.report.collect import ReportView, VideoView, WordView
from attention_visual.report.disk import file_sizes, read_json
from attention_visual.report.escape import e, json_block
from attention_visual.report.images import SpriteInfo
from attention_visual.report.svg import Series, chart_row, line_chart
from attention_visual.report.video_assets import VideoAssets, WordAssets, check_video_id
from attention_visual.storage.batch.manifest import Timings
from attention_visual.storage.durable.atomic import atomic_write_bytes, atomic_write_text
from attention_visual.visualization.comparison import METRICS

log = logging.getLogger(__name__)

CARDS_DIR = "cards"
"""The cards' folder inside ``report/``."""
CARDS_INDEX = "index.json"
WORD_COLOURS = 6
"""Highlight colours (CSS classes ``w0`` … ``w5``), cycled over a prompt's words."""
LINE_COLOURS = ("#b07d00", "#1f6fb5", "#2e8540", "#c2185b", "#6a3fb5", "#c25e00")
"""The curves' line colour of each highlight colour (darker, for lines on white)."""

_TIMING_NAMES = (
    ("generation_s", "generation"),
    ("capture_save_s", "maps"),
    ("video_write_s", "encode"),
    ("render_s", "render"),
)


def word_class(index: int) -> str:
    return f"w{index % WORD_COLOURS}"


def card_link(video_id: str) -> str:
    return f"{CARDS_DIR}/{quote(video_id, safe='')}.js"


def badge(status: str) -> str:
    return f'<span class="badge {e(status)}">{e(status)}</span>'


def _timings(timings: Timings) -> str:
    parts = [f"{label} {getattr(timings, name):.1f} s" for name, label in _TIMING_NAMES if getattr(timings, name)]
    return " · ".join(parts)


def video_slot(href: str | None, css: str, label: str, missing: str, poster: str | None = None) -> str:
    """A figure with a player slot for ``href`` (see the module docstring), or a grey box saying ``missing``."""
    if href is None:
        return f'<figure><div class="missing">{e(missing)}</div><figcaption>{e(label)}</figcaption></figure>'
    style = f" style=\"background-image:url('{e(poster)}')\"" if poster else ""
    poster_attr = f' data-poster="{e(poster)}"' if poster else ""
    return (
        f'<figure><div class="vslot {css}" data-src="{e(href)}"{poster_attr}{style}></div>'
        f'<figcaption>{e(label)} · <a href="{e(href)}">open</a></figcaption></figure>'
    )


def _map(key: str, word: str, sprite: str, info: SpriteInfo) -> str:
    row = info.rows - 1
    y = f"{100 * row / (info.rows - 1):g}%" if info.rows > 1 else "0%"
    style = (
        f"background-image:url('{sprite}');background-size:{info.cols * 100}% {info.rows * 100}%;"
        f"background-position:0% {y};aspect-ratio:{info.tile_width}/{info.tile_height}"
    )
    label = f"attention map of {word}"
    return f'<div class="map" role="img" aria-label="{e(label)}" data-map="{e(key)}" style="{e(style)}"></div>'


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


def _shown(found: WordAssets | None) -> tuple[str, SpriteInfo] | None:
    if found is None or found.sprite is None or found.info is None:
        return None
    return found.sprite, found.info


def _map_error(video: VideoView, assets: VideoAssets | None, found: WordAssets | None) -> str:
    status = video.record.status
    if video.maps_dir is None:
        return "no maps stored" if status == "done" else f"no maps ({status})"
    if assets is None:
        return "maps not drawn yet (attention-visual report makes them)"
    if assets.error:
        return assets.error
    if found is None:
        return f"no maps stored for this word ({status})"
    return found.error or "no map"


def _word_section(video: VideoView, word: WordView, assets: VideoAssets | None, keys: dict[str, str]) -> str:
    mark = f'<mark class="{word_class(word.index)}">{e(word.word)}</mark>'
    found = assets.words.get(word.word) if assets is not None else None
    shown = _shown(found)
    if shown is not None:
        sprite, info = shown
        panel = (
            f'<div class="panel"><h4>{mark} map · step × frame</h4>{_map(keys[word.word], word.word, sprite, info)}'
            f"{_sliders(info)}{_colorbar(info)}</div>"
        )
    else:
        error = _map_error(video, assets, found)
        panel = f'<div class="panel"><h4>{mark}</h4><div class="missing">{e(error)}</div></div>'
    errors = "".join(f'<p class="error">{e(err)}</p>' for err in word.render_errors)
    status = video.record.status
    overlay = video_slot(word.overlay, "small", f"{word.word}: overlay on the video", f"no overlay video ({status})")
    steps = video_slot(word.step_video, "small", f"{word.word}: map over the steps", f"no step video ({status})")
    return f'<section class="word">{panel}{overlay}{steps}{errors}</section>'


def _side_by_side(video: VideoView, assets: VideoAssets | None, keys: dict[str, str]) -> str:
    shown = [(w, _shown(assets.words.get(w.word))) for w in video.words] if assets is not None else []
    tiles = [(w, s) for w, s in shown if s is not None]
    if len(tiles) < 2:
        return ""
    figures = "".join(
        f"<figure>{_map(keys[w.word], w.word, *s)}<figcaption>"
        f'<mark class="{word_class(w.index)}">{e(w.word)}</mark></figcaption></figure>'
        for w, s in tiles
    )
    return (
        f'<section class="panel"><h4>Words side by side</h4><div class="tiles">{figures}</div>'
        f"{_sliders(tiles[0][1][1])}</section>"
    )


def curves_chart(words: Sequence[WordView], assets: VideoAssets) -> str:
    """The words' mass, peak and entropy over the steps and over the latent frames: six SVG panels."""
    drawn = [
        (w, metrics) for w in words if w.word in assets.words and (metrics := assets.words[w.word].metrics) is not None
    ]
    if not drawn:
        return ""
    panels = []
    for axis, xlabel in (("by_step", "denoising step (1 = the first)"), ("by_frame", "latent frame (1 = the first)")):
        for metric in METRICS:
            series = []
            for word, m in drawn:
                values = [float("nan") if v is None else v for v in m[axis][metric]]
                xs = [s + 1 for s in m["steps"]] if axis == "by_step" else list(range(1, len(values) + 1))
                series.append(Series(word.word, LINE_COLOURS[word.index % len(LINE_COLOURS)], xs, values))
            title = f"{LABELS[metric]} across {'steps' if axis == 'by_step' else 'frames'}"
            panels.append(line_chart(series, title, xlabel, legend=metric == METRICS[0]))
    rows = [chart_row(panels[:3], "the words over the steps"), chart_row(panels[3:], "the words over the frames")]
    return (
        f'<figure class="plot curves">{"".join(rows)}<figcaption>the words over the denoising steps (each '
        "step's map averaged over the video's frames) and over the latent frames (the step average)"
        "</figcaption></figure>"
    )


def card(video: VideoView, assets: VideoAssets | None, curves: bool = True) -> dict[str, Any]:
    """The card of ``video``: ``{"html": inner HTML of its <article>, "maps": {key: sprite layout}}``."""
    record = video.record
    model = f"model {record.model}" if record.model else ""  # a comparison batch: whose video this is
    meta = " · ".join(p for p in (model, f"seed {record.seed}", _timings(record.timings)) if p)
    error = f'<p class="error">{e(record.error)}</p>' if record.error else ""
    missing = {"done": "video file missing", "failed": "generation failed"}.get(record.status, "not generated yet")
    head = (
        f"<header><h3>Video {record.video_index}</h3><code>{e(record.video_id)}</code>{badge(record.status)}"
        f'<span class="meta">{e(meta)}</span></header>{error}'
    )
    keys: dict[str, str] = {}
    maps: dict[str, dict[str, Any]] = {}
    for word in video.words:
        shown = _shown(assets.words.get(word.word)) if assets is not None else None
        if shown is not None:
            keys[word.word] = key = f"{record.video_id}:{len(keys)}"
            info = shown[1]
            maps[key] = {
                "rows": info.rows,
                "cols": info.cols,
                "step_labels": list(info.step_labels),
                "frame_labels": list(info.frame_labels),
            }
    has_renders = any(w.overlay or w.step_video for w in video.words)
    if video.video is None and not keys and not has_renders:
        return {"html": f'{head}<p class="meta">nothing to show: {e(missing)}</p>', "maps": {}}
    poster = assets.poster if assets is not None else None
    gen = video_slot(video.video, "gen", "generated video", missing, poster)
    words = "".join(_word_section(video, w, assets, keys) for w in video.words)
    plot = curves_chart(video.words, assets) if curves and assets is not None else ""
    html = (
        f'{head}<div class="row">{gen}{_side_by_side(video, assets, keys)}{plot}</div><div class="words">{words}</div>'
    )
    return {"html": html, "maps": maps}


def card_script(video_id: str, data: dict[str, Any]) -> str:
    """The card file's text: ``AV.card(<id>, <data>);``."""
    return f"AV.card({json_block(video_id)},{json_block(data)});\n"


def write_cards(view: ReportView, assets: dict[str, VideoAssets | None], report_dir: Path, curves: bool = True) -> int:
    """Write the card of every video of ``view`` whose content changed; return how many were written.

    Cards are not fsynced (they are made again from the batch); ``cards/index.json`` (fsynced) holds each
    card's hash and size, and a card whose file has another size is written again.
    """
    folder = report_dir / CARDS_DIR
    index_path = folder / CARDS_INDEX
    old = read_json(index_path) or {}
    new: dict[str, list[Any]] = {}
    written = 0
    for video in view.videos:
        video_id = check_video_id(video.record.video_id)
        data = card_script(video_id, card(video, assets.get(video_id), curves)).encode("utf-8")
        new[video_id] = [hashlib.sha1(data, usedforsecurity=False).hexdigest(), len(data)]
        path = folder / f"{video_id}.js"
        if old.get(video_id) != new[video_id] or file_sizes(path) != [len(data)]:
            atomic_write_bytes(path, data, sync=False)
            written += 1
    if new != old:
        atomic_write_text(index_path, json.dumps(new, indent=0, sort_keys=True) + "\n")
    log.info("cards: %d of %d written", written, len(new))
    return written


__all__ = [
    "CARDS_DIR",
    "LINE_COLOURS",
    "WORD_COLOURS",
    "badge",
    "card",
    "card_link",
    "card_script",
    "curves_chart",
    "video_slot",
    "word_class",
    "write_cards",
]

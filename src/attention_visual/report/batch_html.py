"""The HTML of the report's batch view (a collapsible section at the top of the page).

The section's body is HTML kept as a string in the page's JSON block (``"batch_html"``) until the
section is first opened. The statistics table is data (``"stats"`` in the JSON block) that the inline
script turns into rows when the section is opened, sorts when a column header is clicked and filters by word. Seed grids
are ``.panel`` s like the word maps: each tile is a ``.map`` pinned to its sprite column (``data-col``)
and the step slider moves every tile's row. A centroid path is an inline SVG over the generated video,
in the video's pixel coordinates; the script moves a dot along it as the video plays.

Every user string goes through :func:`attention_visual.report.html.e`.
"""

from __future__ import annotations

from typing import Any

from attention_visual.report.batch_images import SeedGridInfo
from attention_visual.report.batch_view import TABLE_COLUMNS, BatchView, SeedGroup, Trajectory, WordBatch
from attention_visual.report.escape import e

#: Column headers of the page's table.
HEADERS = {
    "video_id": "video",
    "prompt_index": "prompt",
    "seed": "seed",
    "word": "word",
    "mass": "mass",
    "peak": "peak",
    "entropy": "entropy",
    "spread": "spread (px)",
    "mask_area": "mask area",
}
#: At most this many seeds per prompt get a centroid path over their video.
MAX_TRAJECTORIES = 8


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _seed_tiles(key: str, grid: str, info: SeedGridInfo) -> str:
    row = info.rows - 1
    y = f"{100 * row / (info.rows - 1):g}%" if info.rows > 1 else "0%"
    tiles = []
    for col, label in enumerate(info.labels):
        x = f"{100 * col / (info.cols - 1):g}%" if info.cols > 1 else "0%"
        style = (
            f"background-image:url('{grid}');background-size:{info.cols * 100}% {info.rows * 100}%;"
            f"background-position:{x} {y};aspect-ratio:{info.tile_width}/{info.tile_height}"
        )
        tiles.append(
            f'<figure><div class="map" role="img" aria-label="{e(label)}" data-map="{key}" data-col="{col}" '
            f'style="{e(style)}"></div><figcaption>{e(label)}</figcaption></figure>'
        )
    return "".join(tiles)


def _seed_panel(key: str, word: str, group: SeedGroup) -> str:
    info = group.info
    gradient = ", ".join(info.gradient)
    return (
        f'<div class="panel seeds" data-word="{e(word)}"><h4>prompt {group.prompt_index} · {len(info.seeds)} seeds · '
        f'consistency <span class="score">{_score(info.consistency)}</span></h4>'
        f'<div class="tiles">{_seed_tiles(key, group.grid, info)}</div>'
        '<div class="sliders"><label>step</label>'
        f'<input type="range" class="step" min="0" max="{info.rows - 1}" value="{info.rows - 1}" '
        f'aria-label="denoising step"><output>{e(info.step_labels[-1])}</output></div>'
        f'<div class="cbar" style="background:linear-gradient(to right, {e(gradient)})"></div>'
        f'<div class="cbar-labels"><span>{info.vmin:.3g}</span><span>{e(info.norm_label)} · seeds and mean</span>'
        f"<span>{info.vmax:.3g}</span></div></div>"
    )


def _trajectory(path: Trajectory, group: SeedGroup, video: str | None) -> str:
    w, h = group.width, group.height
    points = " ".join(f"{x:g},{y:g}" for x, y, _ in path.points)
    frames = ",".join(str(f) for _, _, f in path.points)
    first = path.points[0] if path.points else (w / 2, h / 2, 0)
    radius = max(w, h) / 60
    svg = (
        f'<svg class="path" viewBox="0 0 {w} {h}" preserveAspectRatio="none" data-frames="{frames}" '
        f'data-fps="{group.fps:g}" aria-label="centroid path of seed {path.seed}">'
        f'<polyline points="{points}" vector-effect="non-scaling-stroke"></polyline>'
        f'<circle class="now" cx="{first[0]:g}" cy="{first[1]:g}" r="{radius:g}"></circle></svg>'
    )
    media = (
        f'<video class="traj-video" src="{e(video)}" muted loop playsinline controls preload="none"></video>'
        if video
        else '<div class="traj-video blank"></div>'
    )
    return (
        f'<figure class="traj"><div class="traj-box" style="aspect-ratio:{w}/{h}">{media}{svg}</div>'
        f"<figcaption>seed {path.seed} · {len(path.points)} latent frames</figcaption></figure>"
    )


def _word_section(word: WordBatch, keys: dict[int, str], videos: dict[str, str | None]) -> str:
    parts = [f'<section class="word-batch" data-word="{e(word.word)}"><h3>“{e(word.word)}”</h3>']
    parts += [f'<p class="error">{e(err)}</p>' for err in word.errors]
    if word.across_prompts > 1:
        parts.append(
            f'<p class="meta">consistency across {word.across_prompts} prompts ({word.across_videos} videos): '
            f'<span class="score">{_score(word.across_consistency)}</span></p>'
        )
    elif word.across_error:
        parts.append(f'<p class="meta">not pooled across prompts: {e(word.across_error)}</p>')
    for group in word.groups:
        parts.append(_seed_panel(keys[id(group)], word.word, group))
        shown = group.trajectories[:MAX_TRAJECTORIES]
        if shown:
            more = len(group.trajectories) - len(shown)
            note = f" (first {len(shown)} of {len(group.trajectories)} seeds)" if more > 0 else ""
            paths = "".join(_trajectory(t, group, videos.get(t.video_id)) for t in shown)
            parts.append(
                f'<h4 class="sub">centroid path over the video, prompt {group.prompt_index}{e(note)}</h4>'
                f'<div class="row">{paths}</div>'
            )
    images = []
    if word.curves:
        images.append(
            f'<figure class="plot"><a href="{e(word.curves)}"><img src="{e(word.curves)}" loading="lazy" '
            f'alt="curves of {e(word.word)} over the steps"></a><figcaption>mass, entropy and spread over the '
            "steps: mean over seeds ± 1 std</figcaption></figure>"
        )
    if word.atlas:
        images.append(
            f'<figure class="plot"><a href="{e(word.atlas)}"><img src="{e(word.atlas)}" loading="lazy" '
            f'alt="block × head atlas of {e(word.word)}"></a><figcaption>block × head: entropy and peak of the '
            "step-averaged map</figcaption></figure>"
        )
    if images:
        parts.append(f'<div class="row">{"".join(images)}</div>')
    parts.append("</section>")
    return "".join(parts)


def batch_section(view: BatchView, videos: dict[str, str | None], maps: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """``(the batch view's <details>, its body's HTML)``; adds the seed grids to the page's ``maps`` data.

    The body is not in the page's markup: it travels as a string in the JSON block (``"batch_html"``)
    and the script inserts it when the section is first opened. Parsing it as markup at load (even
    inside an inert ``<template>``) cost a 50-video page ~200 ms in Chromium; as a JSON string it costs
    next to nothing until it is wanted.

    Args:
        view: The batch view.
        videos: ``{video_id: link to its generated video or None}``.
        maps: The page's sprite table (``{key: {rows, cols, step_labels, frame_labels}}``), extended here.
    """
    keys: dict[int, str] = {}
    for word in view.words:
        for group in word.groups:
            keys[id(group)] = key = f"s{len(keys)}"
            maps[key] = {
                "rows": group.info.rows,
                "cols": group.info.cols,
                "step_labels": list(group.info.step_labels),
                "frame_labels": list(group.info.labels),
            }
    words = sorted({str(row[TABLE_COLUMNS.index("word")]) for row in view.rows})
    options = "".join(f'<option value="{e(w)}">{e(w)}</option>' for w in words)
    headers = "".join(
        f'<th><button type="button" data-col="{i}">{e(HEADERS.get(c, c))}</button></th>'
        for i, c in enumerate(TABLE_COLUMNS)
    )
    if view.stats_file:
        table = (
            '<p class="meta">One row per video × word: the step-averaged map, averaged over latent frames. The full '
            f'table (video × word × step × frame): <a href="{e(view.stats_file)}">stats.parquet</a> '
            "(<code>pandas.read_parquet</code>). Click a column to sort.</p>"
            f'<p><label>word <select id="word-filter"><option value="">all words</option>{options}</select></label> '
            '<span id="stats-count" class="meta"></span></p>'
            f'<div class="table-wrap"><table id="stats-table"><thead><tr>{headers}</tr></thead><tbody></tbody>'
            "</table></div>"
        )
    else:
        table = f'<p class="error">no statistics table: {e(view.stats_error or "unknown error")}</p>'
    sections = "".join(_word_section(w, keys, videos) for w in view.words)
    body = f'<div class="batch-body"><h3>Statistics</h3>{table}{sections}</div>'
    summary = f"Batch view · {len(view.words)} words · seeds, statistics, centroid paths"
    details = (
        f'<details class="batch" id="batch"><summary>{e(summary)}</summary>'
        '<div class="batch-slot"><noscript>The batch view needs JavaScript.</noscript></div></details>'
    )
    return details, body


__all__ = ["HEADERS", "MAX_TRAJECTORIES", "batch_section"]

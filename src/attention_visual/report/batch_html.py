"""The report's batch view as the page shows it: a collapsible section and its script ``batch/view.js``.

The page holds only the section's ``<details>`` (:func:`batch_details`). Opening it loads ``batch/view.js``
(:func:`batch_scripts`): ``AV.batch({"html": ..., "stats": {"columns", "rows"}, "groups": n, "per_file":
25})``. Its ``html`` is the view's frame: the statistics table (built by the page's script from ``stats``,
100 rows a page), then per word its consistency line, its curves and atlas, and one empty ``.group`` per
prompt. Each group's own markup (the seed grid panel and its centroid paths, with the grid's sprite
layout) is in ``batch/groups/<k>.js`` (``AV.groups(k, [{"html", "maps"}, ...])``, 25 groups a file),
loaded and put in when the group nears the screen, so the view paints in the same time at 10 or 10,000
videos.

Seed grids are ``.panel`` s like the word maps: each tile is a ``.map`` pinned to its sprite column
(``data-col``) and the step slider moves every tile's row. A centroid path is an inline SVG over the
video's poster frame (no video player), in the video's pixel coordinates, with a slider that moves a dot
along the latent frames.

Every user string goes through :func:`attention_visual.report.escape.e`.
"""

from __future__ import annotations

from typing import Any

from attention_visual.report.batch_images import SeedGridInfo
from attention_visual.report.batch_view import BATCH_DIR, TABLE_COLUMNS, BatchView, SeedGroup, Trajectory, WordBatch
from attention_visual.report.escape import e, json_block

VIEW_SCRIPT = f"{BATCH_DIR}/view.js"
"""The batch view's script, relative to ``report/``."""
GROUPS_DIR = "groups"
"""The folder (in ``batch/``) of the files of word × prompt groups."""
GROUPS_PER_FILE = 25
#: Column headers of the page's table.
HEADERS = {
    "video_id": "video",
    "model": "model",
    "prompt_index": "prompt",
    "seed": "seed",
    "word": "word",
    "mass": "mass",
    "peak": "peak",
    "entropy": "entropy",
    "spread": "spread (px)",
    "mask_area": "mask area",
}
#: At most this many seeds per prompt get a centroid path.
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
        f'<div class="panel seeds" data-word="{e(word)}"><h4>{e(group.label)} · {len(info.seeds)} seeds · '
        f'consistency <span class="score">{_score(info.consistency)}</span></h4>'
        f'<div class="tiles">{_seed_tiles(key, group.grid, info)}</div>'
        '<div class="sliders"><label>step</label>'
        f'<input type="range" class="step" min="0" max="{info.rows - 1}" value="{info.rows - 1}" '
        f'aria-label="denoising step"><output>{e(info.step_labels[-1])}</output></div>'
        f'<div class="cbar" style="background:linear-gradient(to right, {e(gradient)})"></div>'
        f'<div class="cbar-labels"><span>{info.vmin:.3g}</span><span>{e(info.norm_label)} · seeds and mean</span>'
        f"<span>{info.vmax:.3g}</span></div></div>"
    )


def _trajectory(path: Trajectory, group: SeedGroup) -> str:
    w, h = group.width, group.height
    points = " ".join(f"{x:g},{y:g}" for x, y, _ in path.points)
    frames = ",".join(str(f) for _, _, f in path.points)
    first = path.points[0] if path.points else (w / 2, h / 2, 0)
    radius = max(w, h) / 60
    svg = (
        f'<svg class="path" viewBox="0 0 {w} {h}" preserveAspectRatio="none" '
        f'aria-label="centroid path of seed {path.seed}">'
        f'<polyline points="{points}" vector-effect="non-scaling-stroke"></polyline>'
        f'<circle class="now" cx="{first[0]:g}" cy="{first[1]:g}" r="{radius:g}"></circle></svg>'
    )
    poster = (
        f'<img src="{e(path.poster)}" alt="first frame of {e(path.video_id)}" loading="lazy">'
        if path.poster
        else '<div class="blank"></div>'
    )
    last = max(len(path.points) - 1, 0)
    return (
        f'<figure class="traj" data-frames="{frames}"><div class="traj-box" style="aspect-ratio:{w}/{h}">{poster}{svg}'
        f'</div><input type="range" class="pframe" min="0" max="{last}" value="0" '
        f'aria-label="latent frame of the dot"><figcaption>seed {path.seed} · {len(path.points)} latent frames · '
        f'<output>latent frame 1</output> · <a href="#{e(path.video_id)}">video</a></figcaption></figure>'
    )


def _group_html(key: str, word: str, group: SeedGroup) -> str:
    parts = [_seed_panel(key, word, group)]
    shown = group.trajectories[:MAX_TRAJECTORIES]
    if shown:
        more = len(group.trajectories) - len(shown)
        note = f" (first {len(shown)} of {len(group.trajectories)} seeds)" if more > 0 else ""
        parts.append(
            f'<h4 class="sub">centroid path over the first frame, {e(group.label)}{e(note)}</h4>'
            f'<div class="row">{"".join(_trajectory(t, group) for t in shown)}</div>'
        )
    return "".join(parts)


def _word_section(word: WordBatch, first_group: int) -> str:
    parts = [f'<section class="word-batch" data-word="{e(word.word)}"><h3>“{e(word.word)}”</h3>']
    parts += [f'<p class="error">{e(err)}</p>' for err in word.errors]
    if word.across_prompts > 1:
        parts.append(
            f'<p class="meta">consistency across {word.across_prompts} prompts ({word.across_videos} videos): '
            f'<span class="score">{_score(word.across_consistency)}</span></p>'
        )
    elif word.across_error:
        parts.append(f'<p class="meta">not pooled across prompts: {e(word.across_error)}</p>')
    images = []
    if word.curves:
        images.append(
            f'<figure class="plot wide"><a href="{e(word.curves)}"><img src="{e(word.curves)}" loading="lazy" '
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
    parts += [
        f'<div class="group" data-group="{first_group + i}" data-state="empty"></div>' for i in range(len(word.groups))
    ]
    parts.append("</section>")
    return "".join(parts)


def _table(view: BatchView) -> str:
    if not view.stats_file:
        return f'<p class="error">no statistics table: {e(view.stats_error or "unknown error")}</p>'
    words = sorted({str(row[TABLE_COLUMNS.index("word")]) for row in view.rows})
    options = "".join(f'<option value="{e(w)}">{e(w)}</option>' for w in words)
    models = sorted({str(row[TABLE_COLUMNS.index("model")]) for row in view.rows if row[TABLE_COLUMNS.index("model")]})
    model_filter = (  # a comparison batch: its models side by side, or one at a time
        '<label>model <select id="model-filter"><option value="">all models</option>'
        + "".join(f'<option value="{e(m)}">{e(m)}</option>' for m in models)
        + "</select></label> "
        if len(models) > 1
        else ""
    )
    headers = "".join(
        f'<th><button type="button" data-col="{i}">{e(HEADERS.get(c, c))}</button></th>'
        for i, c in enumerate(TABLE_COLUMNS)
    )
    return (
        '<p class="meta">One row per video × word: the step-averaged map, averaged over latent frames. The full '
        f'table (video × word × step × frame): <a href="{e(view.stats_file)}">stats.parquet</a> '
        "(<code>pandas.read_parquet</code>). Click a column to sort.</p>"
        f'<p>{model_filter}<label>word <select id="word-filter"><option value="">all words</option>{options}'
        "</select></label> "
        '<span id="stats-count" class="meta"></span></p>'
        '<div class="pager"><button type="button" id="stats-prev">previous</button>'
        '<button type="button" id="stats-next">next</button><span id="stats-page" class="meta"></span></div>'
        f'<div class="table-wrap"><table id="stats-table"><thead><tr>{headers}</tr></thead><tbody></tbody>'
        "</table></div>"
    )


def batch_data(view: BatchView) -> dict[str, Any]:
    """What ``batch/view.js`` hands to the page (see the module docstring)."""
    groups: list[dict[str, Any]] = []
    sections = []
    for word in view.words:
        sections.append(_word_section(word, len(groups)))
        for group in word.groups:
            key = f"s{len(groups)}"
            groups.append(
                {
                    "html": _group_html(key, word.word, group),
                    "maps": {
                        key: {
                            "rows": group.info.rows,
                            "cols": group.info.cols,
                            "step_labels": list(group.info.step_labels),
                            "frame_labels": list(group.info.labels),
                        }
                    },
                }
            )
    html = f'<div class="batch-body"><h3>Statistics</h3>{_table(view)}{"".join(sections)}</div>'
    return {"html": html, "stats": {"columns": list(TABLE_COLUMNS), "rows": view.rows}, "groups": groups}


def batch_scripts(view: BatchView) -> dict[str, str]:
    """``{path relative to report/: text}``: ``batch/view.js`` and its groups, :data:`GROUPS_PER_FILE` a file.

    The view's script holds its frame and table and the number of groups; the page loads a group file
    (``AV.groups(k, [...])``) when one of its groups nears the screen, so opening the view parses only
    what it first shows.
    """
    data = batch_data(view)
    groups = data.pop("groups")
    data["groups"], data["per_file"] = len(groups), GROUPS_PER_FILE
    scripts = {VIEW_SCRIPT: f"AV.batch({json_block(data)});\n"}
    for k in range(0, len(groups), GROUPS_PER_FILE):
        chunk = groups[k : k + GROUPS_PER_FILE]
        scripts[group_script(k // GROUPS_PER_FILE)] = f"AV.groups({k // GROUPS_PER_FILE},{json_block(chunk)});\n"
    return scripts


def group_script(k: int) -> str:
    """The path (relative to ``report/``) of the ``k``-th file of groups."""
    return f"{BATCH_DIR}/{GROUPS_DIR}/{k}.js"


def batch_details(view: BatchView) -> str:
    """The batch view's ``<details>`` in the page (its content comes with ``batch/view.js`` when opened)."""
    summary = f"Batch view · {len(view.words)} words · seeds, statistics, centroid paths"
    return (
        f'<details class="batch" id="batch"><summary>{e(summary)}</summary>'
        '<div class="batch-slot"><noscript>The batch view needs JavaScript.</noscript></div></details>'
    )


__all__ = [
    "GROUPS_DIR",
    "GROUPS_PER_FILE",
    "HEADERS",
    "MAX_TRAJECTORIES",
    "VIEW_SCRIPT",
    "batch_data",
    "batch_details",
    "batch_scripts",
    "group_script",
]

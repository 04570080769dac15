"""The batch view's images: seed grid sprites, curves over steps with a band across seeds, the block × head atlas.

* **Seed grid** (palette PNG, like the word sprites of :mod:`.images`): one row per stored step plus a
  last row for the step-averaged maps; one column per seed, then the mean and the standard deviation
  over the seeds. Each tile is a map averaged over the video's frames (latent frames weighted by the
  video frames they produced). Seed and mean tiles share one colour range; the std tile has its own.
* **Curves** (SVG, :mod:`.svg`): mass, entropy and spread of a word over the denoising steps, one line per
  prompt (the mean over its seeds) with a band of ± one standard deviation across the seeds. Each
  video's value at a step is the mean over its latent frames of the statistics table's rows.
* **Atlas** (matplotlib PNG): entropy and peak of a word's step-averaged map per block × head, when the
  batch stored per-block/per-head maps; each cell is the mean over latent frames and over the videos.

Example:
    >>> info = write_seed_grid(view, Path("dog.png"), "hot", "global")        # doctest: +SKIP
    >>> info.cols                                       # 3 seeds + mean + std  # doctest: +SKIP
    5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from attention_visual.analysis.seed_grid import seed_labels, seed_tiles
from attention_visual.analysis.seeds import SeedView
from attention_visual.errors import NotFoundError
from attention_visual.measures import LABELS
from attention_visual.render.colormap import colormap_lut
from attention_visual.render.seed_grid import seed_panels
from attention_visual.report.images import css_gradient, sprite_indices, step_label, tile_scale, write_palette_png
from attention_visual.report.svg import Series, chart_row, line_chart
from attention_visual.storage.durable.atomic import atomic_write_with
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

if TYPE_CHECKING:
    import pandas as pd

#: The measures drawn as curves over the steps (labelled with :data:`attention_visual.measures.LABELS`).
CURVES = ("mass", "entropy", "spread")
#: The statistics of the atlas.
ATLAS_MEASURES = ("entropy", "peak")
#: At most this many seeds get a tile (the mean and std cover every seed).
MAX_SEED_TILES = 16
#: Line colours of the prompts in the curves (cycled).
PROMPT_COLOURS = ("#2458c6", "#c62828", "#2e8540", "#b26a00", "#7a3fb0", "#00838f")


@dataclass(frozen=True)
class SeedGridInfo:
    """What the page needs to show one seed grid sprite.

    Attributes:
        rows: Stored steps + 1 (the last row is the step average).
        cols: Seed tiles + 2 (mean, std).
        tile_height: Pixels per tile in the PNG.
        tile_width: Pixels per tile in the PNG.
        labels: One caption per column (``seed 42 · r 0.91``, ``mean of 3``, ``std · max 0.012``).
        step_labels: One label per row.
        vmin: Bottom of the seed/mean colour range.
        vmax: Top of it.
        norm_label: What the colours mean.
        gradient: CSS colours of the colormap, bottom to top.
        consistency: The seeds' consistency score (None when undefined).
        seeds: Every seed of the group (tiles show the first :data:`MAX_SEED_TILES`).
    """

    rows: int
    cols: int
    tile_height: int
    tile_width: int
    labels: tuple[str, ...]
    step_labels: tuple[str, ...]
    vmin: float
    vmax: float
    norm_label: str
    gradient: tuple[str, ...]
    consistency: float | None
    seeds: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedGridInfo:
        kwargs = dict(data)
        for name in ("labels", "step_labels", "gradient", "seeds"):
            kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def write_seed_grid(view: SeedView, output: Path, colormap: str = "hot", normalization: str = "global") -> SeedGridInfo:
    """Write the seed grid sprite of ``view`` (which must hold its steps) to ``output``; return its layout.

    The tiles, their captions and the mean and std columns are the seed grid video's
    (:mod:`attention_visual.analysis.seed_grid`, :func:`attention_visual.render.seed_grid.seed_panels`).
    """
    panels = seed_panels(seed_tiles(view), normalization, shown=MAX_SEED_TILES)
    grid = panels.panels  # [row, col, y, x] in [0, 1]
    n_rows, n_cols, h, w = grid.shape
    scale = tile_scale((h, w), n_rows * n_cols)
    write_palette_png(output, sprite_indices(grid, scale), colormap_lut(colormap))
    labels = seed_labels(view, panels.std_max)
    averaged = f"mean of {len(view.steps)} steps"
    return SeedGridInfo(
        rows=n_rows,
        cols=n_cols,
        tile_height=h * scale,
        tile_width=w * scale,
        labels=(*labels[: n_cols - 2], *labels[-2:]),
        step_labels=(*(step_label(m, i) for i, m in enumerate(view.metadata)), averaged),
        vmin=panels.norm.vmin,
        vmax=panels.norm.vmax,
        norm_label=panels.norm.label,
        gradient=css_gradient(colormap),
        consistency=_finite(view.consistency),
        seeds=view.seeds,
    )


def _save_figure(fig: Figure, output: Path) -> None:
    canvas = FigureCanvasAgg(fig)

    def save(fh: IO[bytes]) -> None:
        canvas.print_png(fh)

    atomic_write_with(output, save)


def curve_table(stats: pd.DataFrame, word: str) -> pd.DataFrame:
    """Per model × prompt × step of ``word``: ``mean_<m>``, ``std_<m>`` (over seeds, ddof 0) and ``seeds``, for
    :data:`CURVES`.

    A video's value at a step is the mean over its latent frames; step-averaged rows (``step == -1``)
    are left out. A batch of one model has one ``model`` (None in tables older than the column).
    """
    names = list(CURVES)
    rows = stats[(stats["word"] == word) & (stats["step"] >= 0)]
    per_video = rows.groupby(["model", "prompt_index", "video_id", "step"], as_index=False, dropna=False)[names].mean()
    grouped = per_video.groupby(["model", "prompt_index", "step"], dropna=False)
    table = grouped[names].mean().add_prefix("mean_")
    table = table.join(grouped[names].std(ddof=0).add_prefix("std_"))
    table["seeds"] = grouped["video_id"].nunique()
    return table.reset_index()


def curves_svg(stats: pd.DataFrame, word: str) -> str:
    """The curves of ``word`` (see the module docstring) as one standalone SVG: one panel per :data:`CURVES`."""
    table = curve_table(stats, word)
    series: dict[str, list[Series]] = {name: [] for name in CURVES}
    several = table["model"].nunique(dropna=False) > 1  # a comparison: each model's prompts are their own curves
    for n, ((model, prompt), part) in enumerate(table.groupby(["model", "prompt_index"], dropna=False)):
        seeds = int(part["seeds"].max())
        colour = PROMPT_COLOURS[n % len(PROMPT_COLOURS)]
        x = (part["step"].to_numpy() + 1).tolist()
        label = f"{model} · prompt {prompt} ({seeds} seeds)" if several else f"prompt {prompt} ({seeds} seeds)"
        for name in CURVES:
            mean, std = part[f"mean_{name}"].to_numpy(), part[f"std_{name}"].to_numpy()
            series[name].append(Series(label, colour, x, mean.tolist(), (mean - std).tolist(), (mean + std).tolist()))
    panels = [line_chart(series[name], LABELS[name], "denoising step (1 = the first)") for name in CURVES]
    return chart_row(panels, f"“{word}” over the steps: mean over seeds ± 1 std", standalone=True)


def block_head_maps(analyzer: AttentionAnalyzer, video_id: str, word: str) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """``([block, head, frame, y, x] float32, block names)`` of a word's step-averaged map, or None.

    None when the video stored neither a block nor a head axis (the atlas needs at least one). A kept
    axis that was not stored is of length 1 (its mean); the ``cond`` pass is used when stored.
    """
    try:
        info = analyzer.load_aggregated(video_id, word)
    except NotFoundError:  # no step average stored
        return None
    meta = info.metadata
    axes = list(meta.axes)
    if "block" not in axes and "head" not in axes:
        return None
    arr = np.asarray(info.attention_map, dtype=np.float32)  # [*leading, frame, y, x]
    if "pass" in axes:
        passes = list(meta.passes)
        arr = np.take(arr, passes.index("cond" if "cond" in passes else passes[0]), axis=axes.index("pass"))
        axes.remove("pass")
    for name in ("block", "head"):
        if name not in axes:
            arr = arr[None] if name == "block" else np.expand_dims(arr, 1)
    if "block" not in meta.axes:
        return arr, ("mean of blocks",)
    blocks = meta.blocks if len(meta.blocks) == arr.shape[0] else tuple(f"block {b}" for b in range(arr.shape[0]))
    return arr, tuple(blocks)


def write_atlas(values: dict[str, np.ndarray], blocks: Sequence[str], word: str, videos: int, output: Path) -> Path:
    """Draw ``values`` ``{measure: [block, head]}`` (see :data:`ATLAS_MEASURES`) as heatmaps to ``output``."""
    n_blocks, n_heads = next(iter(values.values())).shape
    fig = Figure(figsize=(3.2 * len(values) + 1.2, 0.32 * n_blocks + 1.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    for ax, (name, grid) in zip(axes, values.items(), strict=True):
        image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_title(LABELS[name], fontsize=10)
        ax.set_xlabel("head")
        ax.set_xticks(range(n_heads))
        ax.set_yticks(range(n_blocks), list(blocks), fontsize=7)
        fig.colorbar(image, ax=ax, shrink=0.9)
    fig.suptitle(f"“{word}”: block × head, step average, mean over {videos} video(s)", fontsize=11)
    _save_figure(fig, output)
    return output


__all__ = [
    "ATLAS_MEASURES",
    "CURVES",
    "MAX_SEED_TILES",
    "PROMPT_COLOURS",
    "SeedGridInfo",
    "block_head_maps",
    "curve_table",
    "curves_svg",
    "write_atlas",
    "write_seed_grid",
]

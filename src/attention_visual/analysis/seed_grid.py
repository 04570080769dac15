"""The seed grid of a word: its tiles, captions and titles, and the seed grid video (``attention-visual seeds``).

One row per stored denoising step, then the step-averaged maps; one tile per seed, in reading order::

    seed 42 · r 0.91    seed 43 · r 0.88    ...    mean of 3    std · max 0.0123

Every tile is a map ``[y, x]`` of the video's frames averaged (latent frames weighted by the video
frames they produced; or one latent frame with ``frame=k``). ``r`` is the seed's mean Pearson
correlation with the other seeds' step-averaged maps; a title holds the word, the step and the group's
consistency score (:mod:`attention_visual.analysis.seeds`). The mean and std tiles and the drawing
are the render layer's (:mod:`attention_visual.render.seed_grid`), which the report's seed grid
sprite uses too; this module only chooses what the tiles and captions are.

At most :data:`SEEDS_PER_PAGE` seed tiles fit in a frame with readable labels: with more seeds, the video
is one page of them (``page``, 1-based: seeds ``8 (page − 1) + 1`` … ``8 page``), its title says which
(``seeds 1–8 of 250``), and the mean and std tiles still cover every seed.

Example:
    >>> write_seed_video("outputs/demo", "dog", Path("dog_seeds.mp4"))          # doctest: +SKIP
    PosixPath('dog_seeds.mp4')
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from attention_visual.analysis.seeds import SeedView, word_seed_views
from attention_visual.errors import RenderError
from attention_visual.render.encoder import format_of, prepare_output
from attention_visual.render.options import RenderOptions
from attention_visual.render.seed_grid import seed_grid_video, seed_panels
from attention_visual.render.sources import StepVideo, write_video
from attention_visual.storage.durable.faults import write_faults
from attention_visual.storage.schema.frames import frame_average

log = logging.getLogger(__name__)

#: What a tile of the seed grid shows of a map's latent frames: their weighted mean, or one of them.
SeedFrame = str | int
#: Seed tiles per frame (a page); more would shrink the tiles below their labels' width.
SEEDS_PER_PAGE = 8


def page_count(seeds: int) -> int:
    """How many pages of :data:`SEEDS_PER_PAGE` seed tiles ``seeds`` make (at least 1)."""
    return max(1, math.ceil(seeds / SEEDS_PER_PAGE))


def page_seeds(seeds: int, page: int) -> slice:
    """The seeds (positions) shown on ``page`` (1-based).

    Raises:
        RenderError: No such page.
    """
    pages = page_count(seeds)
    if not 1 <= page <= pages:
        raise RenderError(
            f"page {page} does not exist: {seeds} seeds make {pages} page{'s' if pages != 1 else ''} "
            f"of {SEEDS_PER_PAGE}; choose --page 1–{pages}"
        )
    return slice((page - 1) * SEEDS_PER_PAGE, min(seeds, page * SEEDS_PER_PAGE))


def reduce_frames(maps: np.ndarray, view: SeedView, frame: SeedFrame = "mean") -> np.ndarray:
    """``maps`` ``[..., frame, y, x]`` → ``[..., y, x]``: the video-frame-weighted mean, or latent frame ``frame``.

    Raises:
        RenderError: ``frame`` is neither ``"mean"`` nor an existing latent frame.
    """
    frames = maps.shape[-3]
    if frame == "mean":
        return frame_average(maps, view.metadata[0])
    if isinstance(frame, int) and not isinstance(frame, bool):
        if not 0 <= frame < frames:
            raise RenderError(f"latent frame {frame} does not exist; these maps have frames 0–{frames - 1}")
        return np.asarray(maps[..., frame, :, :], dtype=np.float32)
    raise RenderError(f"frame must be 'mean' or a latent frame index, got {frame!r}")


def seed_tiles(view: SeedView, frame: SeedFrame = "mean") -> np.ndarray:
    """``[row, seed, y, x]`` float32: row ``s`` is stored step ``s``, the last row the step-averaged maps.

    Raises:
        RenderError: ``view`` holds no steps (accumulate it with ``keep_steps=True``), or a bad ``frame``.
    """
    if view.stacks is None:
        raise RenderError("the seed grid needs every seed's steps: build the view with keep_steps=True")
    rows = np.concatenate([view.stacks, view.averaged[:, None]], axis=1)  # [seed, row, frame, y, x]
    return np.ascontiguousarray(reduce_frames(rows, view, frame).transpose(1, 0, 2, 3))  # [row, seed, y, x]


def seed_correlations(view: SeedView) -> list[float]:
    """Each seed's mean correlation with the other seeds (NaN when it has none defined)."""
    corr = view.correlations
    values = []
    for v in range(len(corr)):
        others = np.delete(corr[v], v)
        others = others[~np.isnan(others)]
        values.append(float(others.mean()) if others.size else float("nan"))
    return values


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def seed_labels(view: SeedView, std_max: float) -> list[str]:
    """Tile captions: ``seed 42 · r 0.91`` per seed (``p2 · seed 42`` across prompts), ``mean``, ``std``."""
    labels = []
    for seed, prompt, r in zip(view.seeds, view.prompt_indices, seed_correlations(view), strict=True):
        name = f"seed {seed}" if view.prompt_index is not None else f"p{prompt} · seed {seed}"
        labels.append(f"{name} · r {_number(r)}")
    return [*labels, f"mean of {len(view.seeds)}", f"std · max {std_max:.3g}"]


def seed_titles(view: SeedView, shown: slice | None = None) -> list[str]:
    """One title per row: ``“dog” · prompt 2 — step 3/50 · consistency 0.83``, then the average's.

    With ``shown`` (a page of the seeds) not all of them: ``“dog” · prompt 2 · seeds 1–8 of 250 — ...``.
    """
    where = f" · prompt {view.prompt_index}" if view.prompt_index is not None else " · all prompts"
    n = len(view.seeds)
    if shown is not None and (shown.start, shown.stop) != (0, n):
        where += f" · seeds {shown.start + 1}–{shown.stop} of {n}"
    score = f"consistency {_number(view.consistency)}"
    titles = [
        f"“{view.word}”{where} — step {(m.step_index if m.step_index is not None else i) + 1}/{m.num_steps} · {score}"
        for i, m in enumerate(view.metadata)
    ]
    return [*titles, f"“{view.word}”{where} — mean of {len(view.steps)} steps · {score}"]


def seed_video(
    view: SeedView, options: RenderOptions | None = None, frame: SeedFrame = "mean", page: int = 1
) -> StepVideo:
    """The lazy seed grid video of ``view`` (drawn by :func:`~attention_visual.render.seed_grid.seed_grid_video`).

    Encode it with :func:`~attention_visual.render.sources.write_video`.

    Raises:
        RenderError: No steps in ``view``, a bad ``frame``, no such ``page`` or bad options.
    """
    options = options or RenderOptions()
    seeds = page_seeds(len(view.seeds), page)
    panels = seed_panels(seed_tiles(view, frame), options.normalization, shown=seeds)
    dims = view.metadata[0].video_dimensions
    labels = seed_labels(view, panels.std_max)
    shown = [*labels[seeds], *labels[-2:]]  # the page's seeds, then mean and std
    return seed_grid_video(panels, shown, seed_titles(view, seeds), dims.width / dims.height, options)


def write_seed_video(
    batch_dir: Path | str,
    word: str,
    output: Path | str,
    prompt: int | None = None,
    options: RenderOptions | None = None,
    frame: SeedFrame = "mean",
    page: int = 1,
    model: str | None = None,
) -> Path:
    """Render the seed grid of ``word`` of a batch to ``output`` (``.mp4``, ``.avi`` or ``.gif``).

    Without ``prompt``, the word's only prompt; when several prompts mark it, every video of them
    (tiles labelled with their prompt). With more than :data:`SEEDS_PER_PAGE` seeds, ``page`` of them
    (1-based; a warning says how many pages there are). A batch comparing several models needs ``model``.
    Returns the written path.

    Raises:
        NotFoundError: Not a batch folder, or no stored maps of ``word`` (in ``prompt``).
        AttentionDataError: Unreadable maps, or videos with different steps or grids.
        RenderError: Bad options, frame or output path.
        StorageError: The video cannot be written (disk full, read-only folder); nothing is left behind.
    """
    with write_faults(output):
        output = prepare_output(output)
    views = word_seed_views(batch_dir, word, prompt=prompt, keep_steps=True, model=model)
    if len(views.by_prompt) == 1:
        view = next(iter(views.by_prompt.values()))
    elif views.across is not None:
        view = views.across
    else:
        prompts = ", ".join(map(str, views.by_prompt))
        raise RenderError(f"{views.across_error}; choose one prompt with --prompt ({prompts})")
    options = options or RenderOptions()
    video_format = format_of(output, None, default=options.video_format)  # the suffix decides when there is one
    grid = seed_video(view, options, frame, page)
    pages = page_count(len(view.seeds))
    if pages > 1:
        shown = page_seeds(len(view.seeds), page)
        log.warning(
            "%d seeds of %r do not fit one frame: page %d of %d shows seeds %d–%d (the mean and std tiles cover "
            "all %d); --page N shows the others",
            len(view.seeds), word, page, pages, shown.start + 1, shown.stop, len(view.seeds),
        )  # fmt: skip
    with write_faults(output):
        return write_video(grid, output, video_format)


__all__ = [
    "SEEDS_PER_PAGE",
    "SeedFrame",
    "page_count",
    "page_seeds",
    "reduce_frames",
    "seed_correlations",
    "seed_labels",
    "seed_tiles",
    "seed_titles",
    "seed_video",
    "write_seed_video",
]

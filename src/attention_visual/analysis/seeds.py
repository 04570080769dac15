"""Cross-video views of one marked word: mean and standard-deviation maps over seeds, and a consistency score.

A *group* is a set of videos that mark the same word: the seeds of one prompt (``prompt_index`` set), or
every video of every prompt that marks the word (``prompt_index`` None: "across prompts"). Over a group of
``n`` videos, with ``A_v`` the step-averaged map ``[frame, y, x]`` of video ``v`` and ``S_v[s]`` its map at
stored step ``s``:

* ``mean = (1/n) Σ_v A_v`` and ``std = sqrt((1/n) Σ_v (A_v − mean)²)`` (the population standard deviation,
  ``ddof = 0``: the spread of the seeds at hand, not an estimate), cell by cell; ``step_mean`` and
  ``step_std`` are the same per stored step ``[step, frame, y, x]``;
* ``correlations[v, w]``: the Pearson correlation of ``A_v`` and ``A_w`` over all their cells (NaN when
  either map is constant, as the correlation is undefined there);
* ``consistency``: the mean of ``correlations[v, w]`` over the distinct pairs ``v < w`` with a defined
  correlation: 1 when the seeds' maps are identical up to a positive scale and offset, about 0 when
  unrelated. NaN for a group of one video (no pairs).

The step average of a video is the one it stored (``aggregated/``) when there is one (the capture's mean
over its steps), else the mean of its stored steps. A map with a guidance-pass axis contributes its
``cond`` pass (``uncond`` when only that was stored); block and head axes are averaged.

The statistics are accumulated video by video (Welford's update, in float64), so only each video's
step-averaged map is kept, never every video's steps: :func:`batch_seed_views` reads each map file once.

Example:
    >>> views = word_seed_views("outputs/demo", "dog")                          # doctest: +SKIP
    >>> views.by_prompt[2].consistency, views.by_prompt[2].seeds                # doctest: +SKIP
    (0.83, (44, 45))
    >>> views.across.mean.shape                      # [frame, y, x]            # doctest: +SKIP
    (5, 8, 12)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_visual.analysis.batch_videos import BatchVideo, batch_videos
from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

log = logging.getLogger(__name__)


def unit_maps(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(unit [video, cell] float64, constant [video] bool)``: each map centred and scaled to norm 1.

    A constant map (no defined correlation) is all zeros with ``constant`` True. The Pearson correlation
    of two maps is the dot product of their unit maps.
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)  # [video, cell]
    centred = flat - flat.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred * centred).sum(axis=1))  # [video]
    scale = np.max(np.abs(flat), axis=1) if flat.size else np.zeros(len(flat))
    constant = norms <= 1e-12 * np.maximum(scale, np.finfo(np.float64).tiny) * np.sqrt(max(flat.shape[1], 1))
    unit = np.divide(centred, norms[:, None], out=np.zeros_like(centred), where=~constant[:, None])
    return unit, constant


def pairwise_correlation(maps: np.ndarray) -> np.ndarray:
    """``[video, video]`` float64 Pearson correlations between ``maps`` ``[video, ...]`` over all cells.

    A constant map has no defined correlation: its row and column are NaN (the diagonal too).

    Example:
        >>> np.round(pairwise_correlation(np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0], [2.0, 1.0, 0.0]])), 6)
        array([[ 1.,  1., -1.],
               [ 1.,  1., -1.],
               [-1., -1.,  1.]])
    """
    unit, constant = unit_maps(maps)
    corr: np.ndarray = np.clip(unit @ unit.T, -1.0, 1.0)  # [video, video]
    corr[constant, :] = np.nan
    corr[:, constant] = np.nan
    return corr


def consistency_of_sum(total: np.ndarray, count: int) -> float:
    """The consistency score from ``total``, the sum of ``count`` non-constant videos' :func:`unit_maps`.

    The mean of the pairs' correlations ``u_v · u_w`` over ``v < w`` is ``(|Σ u|² − n) / (n (n − 1))``: the
    score of any number of videos from one summed map, so groups can be pooled without their pairs (and
    in time linear in the videos). NaN below two videos.

    Example:
        >>> maps = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0], [2.0, 1.0, 0.0]])
        >>> unit, constant = unit_maps(maps)
        >>> round(consistency_of_sum(unit.sum(axis=0), 3), 6) == round(consistency_score(maps), 6)
        True
    """
    if count < 2:
        return float("nan")
    total = np.asarray(total, dtype=np.float64)
    return float((total @ total - count) / (count * (count - 1)))


def consistency_score(maps: np.ndarray) -> float:
    """The mean pairwise Pearson correlation of ``maps`` ``[video, ...]`` (distinct pairs, defined ones).

    NaN when there is no pair with a defined correlation (one video, or constant maps).

    Example:
        >>> a = np.array([[1.0, 0.0], [0.0, 0.0]])
        >>> consistency_score(np.stack([a, a, 2 * a]))
        1.0
    """
    return mean_of_pairs(pairwise_correlation(maps))


def mean_of_pairs(correlations: np.ndarray) -> float:
    """The mean of a ``[video, video]`` correlation matrix over its distinct pairs ``v < w`` that are not NaN."""
    upper = correlations[np.triu_indices(len(correlations), k=1)]
    upper = upper[~np.isnan(upper)]
    return float(upper.mean()) if upper.size else float("nan")


@dataclass(frozen=True)
class SeedView:
    """One word over one group of videos (see the module docstring for every definition).

    Attributes:
        word: The marked word (original text).
        prompt_index: The prompt (1-based) whose seeds these are; None across every prompt with the word.
        video_ids: The group's videos, in batch order.
        seeds: Their seeds.
        prompt_indices: Their prompts.
        steps: The stored step indices (0-based), ascending.
        mean: ``[frame, y, x]`` float32, mean over videos of the step-averaged maps.
        std: ``[frame, y, x]`` float32, their population standard deviation.
        step_mean: ``[step, frame, y, x]`` float32, per stored step.
        step_std: ``[step, frame, y, x]`` float32.
        averaged: ``[video, frame, y, x]`` float32, each video's step-averaged map.
        correlations: ``[video, video]`` float64 Pearson correlations of ``averaged``.
        consistency: Mean of the distinct pairs' correlations (NaN without any).
        metadata: The first video's step metadata (one per step: timesteps, frame mapping, video size).
        stacks: ``[video, step, frame, y, x]`` float32, every video's steps; only when accumulated with
            ``keep_steps`` (the seed grid video needs them), else None.
    """

    word: str
    prompt_index: int | None
    video_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    prompt_indices: tuple[int, ...]
    steps: tuple[int, ...]
    mean: np.ndarray
    std: np.ndarray
    step_mean: np.ndarray
    step_std: np.ndarray
    averaged: np.ndarray
    correlations: np.ndarray
    consistency: float
    metadata: tuple[MapMetadata, ...]
    stacks: np.ndarray | None = None

    @property
    def label(self) -> str:
        """``"dog · prompt 2 · 3 seeds"`` or ``"dog · 2 prompts · 6 videos"``."""
        n = len(self.video_ids)
        if self.prompt_index is not None:
            return f"{self.word} · prompt {self.prompt_index} · {n} seed{'s' if n != 1 else ''}"
        prompts = len(set(self.prompt_indices))
        return f"{self.word} · {prompts} prompt{'s' if prompts != 1 else ''} · {n} video{'s' if n != 1 else ''}"


@dataclass
class SeedAccumulator:
    """Accumulates one word's maps video by video (Welford's update in float64), then gives a :class:`SeedView`.

    Example:
        >>> acc = SeedAccumulator("dog", prompt_index=1)
        >>> acc.add("prompt_001_vid_001", 42, 1, stack, averaged, metas)   # doctest: +SKIP
        >>> acc.view().consistency                                        # doctest: +SKIP
    """

    word: str
    prompt_index: int | None = None
    keep_steps: bool = False
    count: int = 0
    video_ids: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    prompt_indices: list[int] = field(default_factory=list)
    steps: tuple[int, ...] = ()
    metadata: tuple[MapMetadata, ...] = ()
    averaged: list[np.ndarray] = field(default_factory=list)  # each [frame, y, x] float32
    stacks: list[np.ndarray] = field(default_factory=list)  # each [step, frame, y, x] float32, with keep_steps
    _mean: np.ndarray | None = None  # [frame, y, x] float64
    _m2: np.ndarray | None = None
    _step_mean: np.ndarray | None = None  # [step, frame, y, x] float64
    _step_m2: np.ndarray | None = None

    def add(
        self,
        video_id: str,
        seed: int,
        prompt_index: int,
        stack: np.ndarray,
        averaged: np.ndarray,
        metadata: Sequence[MapMetadata],
    ) -> None:
        """Add one video: ``stack`` ``[step, frame, y, x]`` at ``steps``, its step-average ``[frame, y, x]``.

        Raises:
            AttentionDataError: Its steps or grid differ from the videos added before.
        """
        steps = tuple(m.step_index if m.step_index is not None else i for i, m in enumerate(metadata))
        if stack.shape[0] != len(steps) or averaged.shape != stack.shape[1:]:
            raise AttentionDataError(
                f"{video_id}: {stack.shape[0]} steps of {stack.shape[1:]} with {len(steps)} metadata entries "
                f"and a step average of {averaged.shape}"
            )
        if self.count and (steps != self.steps or averaged.shape != self.averaged[0].shape):
            raise AttentionDataError(
                f"cannot average {self.word!r} over videos with different maps: {video_id} stored steps "
                f"{list(steps)} on a {averaged.shape} grid, {self.video_ids[0]} steps {list(self.steps)} "
                f"on a {self.averaged[0].shape} grid"
            )
        if not self.count:
            self.steps, self.metadata = steps, tuple(metadata)
            self._mean, self._m2 = np.zeros(averaged.shape), np.zeros(averaged.shape)
            self._step_mean, self._step_m2 = np.zeros(stack.shape), np.zeros(stack.shape)
        assert self._mean is not None and self._m2 is not None
        assert self._step_mean is not None and self._step_m2 is not None
        self.count += 1
        _welford(self._mean, self._m2, averaged, self.count)
        _welford(self._step_mean, self._step_m2, stack, self.count)
        self.video_ids.append(video_id)
        self.seeds.append(seed)
        self.prompt_indices.append(prompt_index)
        self.averaged.append(np.asarray(averaged, dtype=np.float32))
        if self.keep_steps:
            self.stacks.append(np.asarray(stack, dtype=np.float32))

    def merge(self, other: SeedAccumulator) -> None:
        """Add every video of ``other`` (Chan et al.'s pairwise update), e.g. to pool prompts."""
        if not other.count:
            return
        if not self.count:
            self.steps, self.metadata = other.steps, other.metadata
            self._mean, self._m2 = _copy(other._mean), _copy(other._m2)
            self._step_mean, self._step_m2 = _copy(other._step_mean), _copy(other._step_m2)
        else:
            if other.steps != self.steps or other.averaged[0].shape != self.averaged[0].shape:
                raise AttentionDataError(
                    f"cannot pool {self.word!r} over prompts with different maps: steps {list(other.steps)} on a "
                    f"{other.averaged[0].shape} grid against steps {list(self.steps)} on a "
                    f"{self.averaged[0].shape} grid"
                )
            assert self._mean is not None and self._m2 is not None and other._mean is not None
            assert self._step_mean is not None and self._step_m2 is not None and other._step_mean is not None
            assert other._m2 is not None and other._step_m2 is not None
            _chan(self._mean, self._m2, self.count, other._mean, other._m2, other.count)
            _chan(self._step_mean, self._step_m2, self.count, other._step_mean, other._step_m2, other.count)
        self.count += other.count
        self.video_ids += other.video_ids
        self.seeds += other.seeds
        self.prompt_indices += other.prompt_indices
        self.averaged += other.averaged
        if self.keep_steps:
            self.stacks += other.stacks
            self.keep_steps = len(self.stacks) == self.count

    def drop_steps(self) -> None:
        """Forget the kept steps (``keep_steps``), keeping the statistics: frees memory before pooling."""
        self.stacks.clear()
        self.keep_steps = False

    def view(self) -> SeedView:
        """The group's :class:`SeedView`.

        Raises:
            NotFoundError: No video was added.
        """
        if not self.count or self._mean is None or self._m2 is None:
            raise NotFoundError(f"no stored maps of {self.word!r} to average")
        assert self._step_mean is not None and self._step_m2 is not None
        averaged = np.stack(self.averaged)  # [video, frame, y, x]
        correlations = pairwise_correlation(averaged)
        return SeedView(
            word=self.word,
            prompt_index=self.prompt_index,
            video_ids=tuple(self.video_ids),
            seeds=tuple(self.seeds),
            prompt_indices=tuple(self.prompt_indices),
            steps=self.steps,
            mean=self._mean.astype(np.float32),
            std=np.sqrt(self._m2 / self.count).astype(np.float32),
            step_mean=self._step_mean.astype(np.float32),
            step_std=np.sqrt(self._step_m2 / self.count).astype(np.float32),
            averaged=averaged,
            correlations=correlations,
            consistency=mean_of_pairs(correlations),
            metadata=self.metadata,
            stacks=np.stack(self.stacks) if self.keep_steps and self.stacks else None,
        )


def _copy(arr: np.ndarray | None) -> np.ndarray:
    assert arr is not None
    return arr.copy()


def _welford(mean: np.ndarray, m2: np.ndarray, value: np.ndarray, count: int) -> None:
    """One step of Welford's running mean and sum of squared deviations, in place (float64)."""
    x = np.asarray(value, dtype=np.float64)
    delta = x - mean
    mean += delta / count
    m2 += delta * (x - mean)


def _chan(mean: np.ndarray, m2: np.ndarray, n: int, other_mean: np.ndarray, other_m2: np.ndarray, k: int) -> None:
    """Merge the running statistics of ``k`` more values into ``(mean, m2)`` of ``n``, in place."""
    delta = other_mean - mean
    total = n + k
    m2 += other_m2 + delta * delta * (n * k / total)
    mean += delta * (k / total)


@dataclass(frozen=True)
class WordSeedViews:
    """One word's views: per prompt (its seeds) and across every prompt that marks it.

    Attributes:
        word: The marked word.
        by_prompt: ``{prompt_index: SeedView}`` for every prompt with stored maps of the word.
        across: Every video of those prompts pooled; None when their maps cannot be pooled.
        across_error: Why ``across`` is None (steps or grids differ between prompts).
    """

    word: str
    by_prompt: dict[int, SeedView]
    across: SeedView | None
    across_error: str | None = None


def pass_name(passes: Sequence[str]) -> str:
    """The guidance pass the views use: ``cond`` when stored, else the first stored one."""
    return "cond" if "cond" in passes or not passes else passes[0]


def read_word_maps(
    analyzer: AttentionAnalyzer, video_id: str, word: str
) -> tuple[np.ndarray, np.ndarray, list[MapMetadata]]:
    """One video's maps of ``word``: ``(stack [step, frame, y, x], step-average [frame, y, x], step metadata)``.

    Raises:
        NotFoundError: The word has no stored steps.
        AttentionDataError: A map is unreadable.
    """
    steps = analyzer.get_available_steps(video_id, word)
    if not steps:
        raise NotFoundError(f"word {word!r} of video {video_id!r} has no stored steps")
    passes = analyzer.load_step(video_id, word, steps[0]).metadata.passes
    chosen = pass_name(passes)
    stack, metas = analyzer.step_stack(video_id, word, pass_name=chosen)  # [step, frame, y, x]
    try:
        averaged = analyzer.grid(analyzer.load_aggregated(video_id, word), pass_name=chosen)  # [frame, y, x]
    except NotFoundError:
        averaged = stack.mean(axis=0)
    if averaged.shape != stack.shape[1:]:
        raise AttentionDataError(
            f"{video_id}/{word}: the step average is {averaged.shape} but the steps are {stack.shape[1:]}"
        )
    return stack, np.asarray(averaged, dtype=np.float32), metas


def accumulate(
    videos: Iterable[BatchVideo], words: Iterable[str] | None = None, keep_steps: bool = False
) -> dict[str, dict[int, SeedAccumulator]]:
    """``{word: {prompt_index: SeedAccumulator}}`` over ``videos`` (of :func:`batch_videos`), each map read once.

    Only ``words`` when given; videos without stored maps, or whose capture did not finish (no completion
    mark: maps may be missing), are skipped, as in the statistics table.

    Raises:
        AttentionDataError: Unreadable maps, or seeds of one prompt with different steps or grids.
    """
    wanted = set(words) if words is not None else None
    groups: dict[str, dict[int, SeedAccumulator]] = {}
    analyzers: dict[Path, AttentionAnalyzer] = {}
    for video in videos:
        if video.maps_root is None:
            continue
        analyzer = analyzers.setdefault(video.maps_root, AttentionAnalyzer(video.maps_root))
        if not analyzer.is_complete(video.video_id):
            log.info("%s: its capture did not finish, left out of the seed views", video.video_id)
            continue
        available = set(analyzer.get_available_words(video.video_id))
        for word in video.words:
            if (wanted is not None and word not in wanted) or word not in available:
                continue
            stack, averaged, metas = read_word_maps(analyzer, video.video_id, word)
            acc = groups.setdefault(word, {}).setdefault(
                video.prompt_index, SeedAccumulator(word, prompt_index=video.prompt_index, keep_steps=keep_steps)
            )
            acc.add(video.video_id, video.seed, video.prompt_index, stack, averaged, metas)
    return groups


def pooled_views(word: str, by_prompt: dict[int, SeedAccumulator], keep_steps: bool = False) -> WordSeedViews:
    """The :class:`WordSeedViews` of ``word`` from its per-prompt accumulators (pooled across prompts)."""
    pooled = SeedAccumulator(word, prompt_index=None, keep_steps=keep_steps)
    error = None
    try:
        for p in sorted(by_prompt):
            pooled.merge(by_prompt[p])
    except AttentionDataError as exc:
        error = str(exc)
    return WordSeedViews(
        word=word,
        by_prompt={p: by_prompt[p].view() for p in sorted(by_prompt)},
        across=None if error else pooled.view(),
        across_error=error,
    )


def batch_seed_views(batch_dir: Path | str, words: Iterable[str] | None = None) -> dict[str, WordSeedViews]:
    """``{word: WordSeedViews}`` of every marked word of a batch (or of ``words``), reading each map once.

    Videos without stored maps (failed, pending) or with an unfinished capture (interrupted) are left out.

    Raises:
        NotFoundError: Not a batch folder.
        AttentionDataError: Unreadable maps, or seeds of one prompt with different steps or grids.
    """
    groups = accumulate(batch_videos(batch_dir), words)
    return {word: pooled_views(word, by_prompt) for word, by_prompt in groups.items()}


def word_seed_views(
    batch_dir: Path | str, word: str, prompt: int | None = None, keep_steps: bool = False, model: str | None = None
) -> WordSeedViews:
    """The views of one ``word`` (optionally of one ``prompt`` only; ``across`` then equals that prompt's).

    With ``keep_steps`` every view also holds each video's steps (:attr:`SeedView.stacks`). A batch that
    compares several models (``models:``) needs ``model``: the seeds of one model.

    Raises:
        NotFoundError: Not a batch folder, or no stored maps of ``word`` (the message lists the words).
        AttentionDataError: Unreadable maps, seeds with different steps or grids, several models without
            ``model``, or a ``model`` the batch does not have (the messages list its models).
    """
    every = batch_videos(batch_dir)
    models = sorted({v.model for v in every if v.model is not None})
    if model is not None and model not in models:
        raise AttentionDataError(f"no model named {model!r} in this batch; its models: {', '.join(models) or 'none'}")
    if model is None and len({v.record.model for v in every}) > 1:
        raise AttentionDataError(f"this batch compares the models {', '.join(models)}: choose one with --model")
    videos = [v for v in every if (prompt is None or v.prompt_index == prompt) and (model is None or v.model == model)]
    groups = accumulate(videos, [word], keep_steps)
    if word not in groups:
        marked = sorted({w for v in videos for w in v.words})
        where = f" in prompt {prompt}" if prompt is not None else ""
        raise NotFoundError(
            f"no stored maps of {word!r}{where}; marked words: {', '.join(repr(w) for w in marked) or '(none)'}"
        )
    return pooled_views(word, groups[word], keep_steps)


__all__ = [
    "SeedAccumulator",
    "SeedView",
    "WordSeedViews",
    "accumulate",
    "batch_seed_views",
    "consistency_of_sum",
    "consistency_score",
    "mean_of_pairs",
    "pairwise_correlation",
    "pass_name",
    "pooled_views",
    "read_word_maps",
    "unit_maps",
    "word_seed_views",
]

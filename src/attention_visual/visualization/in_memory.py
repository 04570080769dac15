"""Maps held in memory (e.g. ``capture.word_maps()``) behind the :class:`AttentionAnalyzer` interface.

:class:`InMemoryAnalyzer` answers the lookups the visualizer makes (videos, words, steps, step stacks)
from ``{word: [step, *leading, frame, y, x]}`` arrays and their per-step metadata, so
:meth:`AttentionVisualizer.from_maps` renders the same videos and plots as from a store, without
writing one. It holds one video (the metadata's ``video_id``) and no step-average (the visualizer
averages the steps, as for a store saved without step averages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from attention_visual.aliases import keyword_aliases
from attention_visual.errors import AttentionDataError, NotFoundError
from attention_visual.storage.files.store import AttentionInfo
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.visualization.attention_analyzer import AttentionAnalyzer

#: The ``path`` of an in-memory map's :class:`AttentionInfo`: it has no file.
IN_MEMORY = Path("<in memory>")


class InMemoryAnalyzer(AttentionAnalyzer):
    """An analyzer over in-memory maps of one video.

    Args:
        maps: ``{word: [step, *leading, frame, y, x]}``.
        metadata: ``{word: [metadata of each step]}`` (one per step, all of the same ``video_id``).

    Raises:
        AttentionDataError: the metadata does not describe the maps (words, step count, shape, video).
    """

    def __init__(self, maps: Mapping[str, np.ndarray], metadata: Mapping[str, Sequence[MapMetadata]]) -> None:
        self.attention_dir = IN_MEMORY
        if set(maps) != set(metadata):
            raise AttentionDataError(f"metadata words {sorted(metadata)} differ from the maps' words {sorted(maps)}")
        videos = {m.video_id for metas in metadata.values() for m in metas}
        if len(videos) > 1:
            raise AttentionDataError(f"in-memory maps hold one video, got {sorted(videos)}")
        for word, metas in metadata.items():
            stack = maps[word]
            if len(metas) != len(stack) or any(tuple(m.shape) != stack.shape[1:] for m in metas):
                raise AttentionDataError(f"{word!r}: metadata of {len(metas)} steps does not describe {stack.shape}")
        self.video_id = next(iter(videos), "captured")
        self._maps = dict(maps)
        self._metadata = {w: list(m) for w, m in metadata.items()}

    def get_available_videos(self, include_incomplete: bool = True) -> list[str]:
        return [self.video_id]

    def is_complete(self, video_id: str) -> bool:
        self._check_video(video_id)
        return True

    def get_incomplete_videos(self) -> list[str]:
        return []

    def get_available_words(self, video_id: str) -> list[str]:
        self._check_video(video_id)
        return sorted(self._maps)

    @keyword_aliases(token="word")
    def get_available_steps(self, video_id: str, word: str) -> list[int]:
        return sorted(self._step_positions(video_id, word))

    @keyword_aliases(token="word")
    def load_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        positions = self._step_positions(video_id, word)
        if step not in positions:
            raise NotFoundError(f"no step {step} for word {word!r}; available steps: {sorted(positions)}")
        i = positions[step]
        return AttentionInfo(self._maps[word][i], self._metadata[word][i], IN_MEMORY)

    @keyword_aliases(token="word")
    def load_all_steps(self, video_id: str, word: str) -> list[AttentionInfo]:
        return [self.load_step(video_id, word, s) for s in self.get_available_steps(video_id, word)]

    @keyword_aliases(token="word")
    def load_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        self._step_positions(video_id, word)
        raise NotFoundError(f"no stored step average for word {word!r} in memory (the steps are averaged instead)")

    @keyword_aliases(token="word")
    def step_stack(self, video_id: str, word: str, pass_name: str = "cond") -> tuple[np.ndarray, list[MapMetadata]]:
        infos = self.load_all_steps(video_id, word)
        if not infos:
            raise NotFoundError(f"word {word!r} has no steps")
        stack = np.stack([self.grid(i, pass_name=pass_name) for i in infos])  # [step, frame, y, x]
        return stack, [i.metadata for i in infos]

    def _check_video(self, video_id: str) -> None:
        if video_id != self.video_id:
            raise NotFoundError(f"no video {video_id!r} in memory; available videos: {self.video_id}")

    def _step_positions(self, video_id: str, word: str) -> dict[int, int]:
        """``{step index: position on the array's step axis}``."""
        self._check_video(video_id)
        if word not in self._metadata:
            raise NotFoundError(f"no word {word!r}; available words: {', '.join(sorted(self._maps)) or '(none)'}")
        return {(m.step_index if m.step_index is not None else i): i for i, m in enumerate(self._metadata[word])}


__all__ = ["IN_MEMORY", "InMemoryAnalyzer"]

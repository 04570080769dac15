"""Read stored attention maps back, on any machine, without the model.

Example:
    >>> analyzer = AttentionAnalyzer("outputs/batch/attention_maps")   # doctest: +SKIP
    >>> info = analyzer.load_step("prompt_001_vid_001", "kiss", 0)      # doctest: +SKIP
    >>> info.metadata.video_dimensions.width                            # doctest: +SKIP
    832
    >>> grid = analyzer.grid(info)           # [frame, y, x]            # doctest: +SKIP
    >>> frames = analyzer.video_frame_maps(grid, info.metadata)  # [video_frame, H, W]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_visual.errors import NotFoundError
from attention_visual.render.resize import upsample_bilinear
from attention_visual.storage.atomic import is_temporary
from attention_visual.storage.layout import (
    AGGREGATED_DIR,
    COMPLETE_MARK,
    EXTENSIONS,
    METADATA_SUFFIX,
    check_video_id,
    parse_step_index,
)
from attention_visual.storage.metadata import MapMetadata
from attention_visual.storage.store import AttentionInfo, AttentionStore, read_map, read_metadata

log = logging.getLogger(__name__)

_AGG_META_SUFFIX = f"_aggregated{METADATA_SUFFIX}"


@dataclass
class _WordFiles:
    """Where one word's maps of one video live."""

    steps: dict[int, tuple[Path, Path]] = field(default_factory=dict)  # step -> (data, metadata)
    aggregated: tuple[Path, Path] | None = None


def _data_file(meta_path: Path, stem: str) -> Path | None:
    for ext in EXTENSIONS.values():
        candidate = meta_path.with_name(f"{stem}{ext}")
        if candidate.is_file():
            return candidate
    return None


def _listing(items: list[str] | list[int]) -> str:
    return ", ".join(str(i) for i in items) if items else "(none)"


class AttentionAnalyzer:
    """Looks up and loads the maps of an ``attention_maps/`` folder.

    Words are looked up by their original text (``"red car"``), whatever folder name the
    store gave them. Asking for a video, word or step that does not exist raises
    :class:`NotFoundError` listing what is available.

    Args:
        attention_dir: the ``attention_maps/`` folder of a batch (or any store root).
    """

    def __init__(self, attention_dir: Path | str) -> None:
        self.attention_dir = Path(attention_dir)
        if not self.attention_dir.is_dir():
            raise NotFoundError(f"attention directory {self.attention_dir} does not exist")
        self._words: dict[str, dict[str, _WordFiles]] = {}

    # -- discovery --------------------------------------------------------------------------
    def get_available_videos(self, include_incomplete: bool = True) -> list[str]:
        """Video ids with stored maps, sorted; incomplete ones only with ``include_incomplete``."""
        videos = []
        for child in sorted(self.attention_dir.iterdir()):
            if not child.is_dir() or child.name.startswith((".", "_")):
                continue
            if include_incomplete or self.is_complete(child.name):
                videos.append(child.name)
        return videos

    def is_complete(self, video_id: str) -> bool:
        """True once every map of the video was written (its completion mark exists)."""
        return (self.attention_dir / check_video_id(video_id) / COMPLETE_MARK).is_file()

    def damaged_files(self, video_id: str, *, checksums: bool = False) -> dict[str, str]:
        """Files of a complete video that do not match its completion mark: ``{path: problem}``.

        Paths are relative to the video's folder (``kiss/step_001.npz``). Sizes only by default (a
        ``stat`` per file: finds truncated and missing files); ``checksums=True`` reads every byte.
        """
        if not self.is_complete(video_id):
            return {}
        return dict(AttentionStore(self.attention_dir).check_video(video_id, checksums=checksums))

    def get_incomplete_videos(self) -> list[str]:
        """Videos whose capture was interrupted: maps may be missing."""
        return [v for v in self.get_available_videos() if not self.is_complete(v)]

    def get_available_tokens(self, video_id: str) -> list[str]:
        """The marked words of a video (original text), sorted."""
        return sorted(self._word_index(video_id))

    def get_available_steps(self, video_id: str, token: str) -> list[int]:
        """Stored step indices of a word, ascending."""
        return sorted(self._word_files(video_id, token).steps)

    # -- loading ------------------------------------------------------------------------------
    def load_step(self, video_id: str, token: str, step: int) -> AttentionInfo:
        """One step's map (array ``[*leading, frame, y, x]`` and metadata)."""
        files = self._word_files(video_id, token)
        if step not in files.steps:
            raise NotFoundError(
                f"no step {step} for word {token!r} of video {video_id!r}; "
                f"available steps: {_listing(sorted(files.steps))}"
            )
        return read_map(*files.steps[step])

    def load_all_steps(self, video_id: str, token: str) -> list[AttentionInfo]:
        """Every stored step of a word, in step order."""
        return [self.load_step(video_id, token, s) for s in self.get_available_steps(video_id, token)]

    def load_aggregated(self, video_id: str, token: str) -> AttentionInfo:
        """The step-averaged map of a word."""
        files = self._word_files(video_id, token)
        if files.aggregated is None:
            raise NotFoundError(
                f"no aggregated map for word {token!r} of video {video_id!r} "
                "(store_aggregated_attention was off, or the capture was interrupted)"
            )
        return read_map(*files.aggregated)

    def step_stack(self, video_id: str, token: str, pass_name: str = "cond") -> tuple[np.ndarray, list[MapMetadata]]:
        """All steps reduced to the token grid: ``([step, frame, y, x] float32, metadata per step)``."""
        infos = self.load_all_steps(video_id, token)
        if not infos:
            raise NotFoundError(f"word {token!r} of video {video_id!r} has no stored steps")
        stack = np.stack([self.grid(i, pass_name=pass_name) for i in infos])  # [step, frame, y, x]
        return stack, [i.metadata for i in infos]

    # -- reductions ------------------------------------------------------------------------------
    @staticmethod
    def grid(info: AttentionInfo, pass_name: str = "cond") -> np.ndarray:
        """Reduce a stored array to ``[frame, y, x]`` float32.

        A ``pass`` axis (``guidance_pass: both``) is indexed by ``pass_name``; ``block`` and
        ``head`` axes are averaged (the default capture already averaged them).
        """
        arr = np.asarray(info.attention_map, dtype=np.float32)  # [*leading, frame, y, x]
        axes = list(info.metadata.axes)
        if "pass" in axes:
            passes = list(info.metadata.passes)
            if pass_name not in passes:
                raise NotFoundError(f"pass {pass_name!r} not stored; available passes: {_listing(passes)}")
            arr = np.take(arr, passes.index(pass_name), axis=axes.index("pass"))
            axes.remove("pass")
        elif pass_name not in info.metadata.passes:
            raise NotFoundError(
                f"pass {pass_name!r} not stored; available passes: {_listing(list(info.metadata.passes))}"
            )
        leading = tuple(range(len(axes) - 3))
        return arr.mean(axis=leading) if leading else arr

    @staticmethod
    def frame_weights(metadata: MapMetadata) -> np.ndarray:
        """``[frame]`` float32: how many video frames each latent frame produced (Wan: 1, 4, 4, …)."""
        counts = [last - first + 1 for first, last in metadata.latent_to_video_frames]
        return np.asarray(counts, dtype=np.float32)

    @classmethod
    def frame_averaged(cls, grid: np.ndarray, metadata: MapMetadata) -> np.ndarray:
        """``[y, x]``: the map averaged over the *video's* frames (latent frames weighted by frames owned)."""
        weights = cls.frame_weights(metadata)
        if weights.shape[0] != grid.shape[-3]:
            return np.asarray(grid.mean(axis=-3), dtype=np.float32)
        return np.tensordot(weights / weights.sum(), grid, axes=([0], [-3])).astype(np.float32)

    @staticmethod
    def video_frame_index(metadata: MapMetadata) -> np.ndarray:
        """``[video_frame]`` int: the latent frame that produced each video frame."""
        index = np.zeros(metadata.video_dimensions.frames, dtype=np.int64)
        for k, (first, last) in enumerate(metadata.latent_to_video_frames):
            index[first : last + 1] = k
        return index

    @classmethod
    def video_frame_maps(
        cls, grid: np.ndarray, metadata: MapMetadata, height: int | None = None, width: int | None = None
    ) -> np.ndarray:
        """``[video_frame, H, W]`` float32: each video frame's map, upsampled bilinearly.

        ``height``/``width`` default to the video's resolution; pass the grid size to skip upsampling.
        """
        dims = metadata.video_dimensions
        per_frame = grid[cls.video_frame_index(metadata)]  # [video_frame, y, x]
        return upsample_bilinear(per_frame, height or dims.height, width or dims.width)

    # -- index ------------------------------------------------------------------------------------
    def _video_dir(self, video_id: str) -> Path:
        folder = self.attention_dir / check_video_id(video_id)
        if not folder.is_dir():
            raise NotFoundError(
                f"no video {video_id!r} in {self.attention_dir}; available videos: "
                f"{_listing(self.get_available_videos())}"
            )
        return folder

    def _word_files(self, video_id: str, token: str) -> _WordFiles:
        index = self._word_index(video_id)
        if token not in index:
            raise NotFoundError(f"no word {token!r} in video {video_id!r}; available words: {_listing(sorted(index))}")
        return index[token]

    def _word_index(self, video_id: str) -> dict[str, _WordFiles]:
        if video_id in self._words:
            return self._words[video_id]
        folder = self._video_dir(video_id)
        index: dict[str, _WordFiles] = {}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != AGGREGATED_DIR):
            word: str | None = None
            for meta in sorted(sub.glob(f"*{METADATA_SUFFIX}")):
                step = parse_step_index(meta)
                data = _data_file(meta, meta.name[: -len(METADATA_SUFFIX)])
                if step is None or data is None or is_temporary(meta):
                    continue
                word = word if word is not None else read_metadata(meta).token_word
                index.setdefault(word, _WordFiles()).steps[step] = (data, meta)
        agg = folder / AGGREGATED_DIR
        if agg.is_dir():
            for meta in sorted(agg.glob(f"*{_AGG_META_SUFFIX}")):
                data = _data_file(meta, meta.name[: -len(METADATA_SUFFIX)])
                if data is None or is_temporary(meta):
                    continue
                word = read_metadata(meta).token_word
                index.setdefault(word, _WordFiles()).aggregated = (data, meta)
        if self.is_complete(video_id):
            self._words[video_id] = index  # cache only finished videos: an unfinished one may still be written to
        else:
            log.warning("video %s is incomplete: its capture did not finish, maps may be missing", video_id)
        return index


__all__ = ["AttentionAnalyzer", "AttentionInfo"]

"""Read stored attention maps back, on any machine, without the model.

Example:
    >>> analyzer = AttentionAnalyzer("outputs/batch/attention_maps")
    >>> analyzer.get_available_words("prompt_001_vid_001")
    ['flowers', 'kiss']
    >>> info = analyzer.load_step("prompt_001_vid_001", "kiss", 0)
    >>> info.metadata.video_dimensions.width
    48
    >>> grid = analyzer.grid(info)           # [frame, y, x]
    >>> grid.shape
    (3, 2, 3)
    >>> analyzer.video_frame_maps(grid, info.metadata).shape  # [video_frame, H, W]
    (9, 32, 48)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attention_visual.aliases import keyword_aliases
from attention_visual.errors import NotFoundError
from attention_visual.render.resize import upsample_bilinear
from attention_visual.storage.backend import BulkMapReader, MapBackend, MapReader, open_maps
from attention_visual.storage.files.store import AttentionInfo
from attention_visual.storage.packed.reader import PackedReader
from attention_visual.storage.schema.frames import frame_average, frame_weights, video_frame_index
from attention_visual.storage.schema.metadata import MapMetadata
from attention_visual.storage.schema.reduce import to_grid


class AttentionAnalyzer:
    """Looks up and loads the maps of an ``attention_maps/`` folder.

    Words are looked up by their original text (``"red car"``), whatever folder name the
    store gave them; the methods take the word as ``word`` (``token=``: the first version's name).
    Asking for a video, word or step that does not exist raises :class:`NotFoundError` listing what is
    available. The index and the reading are the store's
    (:class:`~attention_visual.storage.files.reader.AttentionStoreReader`); this class adds the reductions
    (grid, frame average, per-video-frame maps).

    A packed batch (``attention_maps.zarr``, :mod:`attention_visual.storage.packed.reader`) reads the same:
    the batch's maps are found by :func:`~attention_visual.storage.backend.open_maps` (one rule for every
    command), so the batch folder, its ``attention_maps`` path and its ``attention_maps.zarr`` path all read
    the layout that holds the batch's maps.

    Args:
        attention_dir: A batch folder, its ``attention_maps/`` folder (or any store root), its packed store,
            or the :class:`~attention_visual.storage.backend.MapBackend` already opened.
        reader: Another :class:`~attention_visual.storage.backend.MapReader` to ask instead of the
            reader of ``attention_dir``.
    """

    def __init__(self, attention_dir: Path | str | MapBackend, reader: MapReader | None = None) -> None:
        self.maps = attention_dir if isinstance(attention_dir, MapBackend) else open_maps(attention_dir)
        self.attention_dir = self.maps.root
        self.reader: MapReader = reader if reader is not None else self.maps.reader()

    # -- discovery --------------------------------------------------------------------------
    def get_available_videos(self, include_incomplete: bool = True) -> list[str]:
        """Video ids with stored maps, sorted; incomplete ones only with ``include_incomplete``."""
        return self.reader.list_videos(include_incomplete)

    def is_complete(self, video_id: str) -> bool:
        """True once every map of the video was written (its completion mark exists)."""
        return self.reader.is_complete(video_id)

    def damaged_files(self, video_id: str, *, checksums: bool = False) -> dict[str, str]:
        """Files of a complete video that do not match its completion mark: ``{path: problem}``.

        Paths are relative to the video's folder (``kiss/step_001.npz``). Sizes only by default (a
        ``stat`` per file: finds truncated and missing files); ``checksums=True`` reads every byte.
        """
        if not self.is_complete(video_id):
            return {}
        return dict(self.maps.check_video(video_id, checksums=checksums))

    def video_folder(self, video_id: str) -> Path:
        """The folder of a video's maps (files layout or packed store); its files' mtimes date the maps."""
        if isinstance(self.reader, BulkMapReader):
            return self.reader.video_folder(video_id)
        return self.attention_dir / video_id

    def release(self, video_id: str) -> None:
        """Forget the cached index of a video: a single pass over a large batch then keeps memory flat."""
        if isinstance(self.reader, BulkMapReader):
            self.reader.release(video_id)

    def get_incomplete_videos(self) -> list[str]:
        """Videos whose capture was interrupted: maps may be missing."""
        return [v for v in self.get_available_videos() if not self.is_complete(v)]

    def get_available_words(self, video_id: str) -> list[str]:
        """The marked words of a video (original text), sorted."""
        return self.reader.list_words(video_id)

    def get_available_tokens(self, video_id: str) -> list[str]:
        """The seed's name of :meth:`get_available_words` (it returns words, not tokenizer pieces)."""
        return self.get_available_words(video_id)

    @keyword_aliases(token="word")
    def get_available_steps(self, video_id: str, word: str) -> list[int]:
        """Stored step indices of a word, ascending."""
        return self.reader.list_steps(video_id, word)

    # -- loading ------------------------------------------------------------------------------
    @keyword_aliases(token="word")
    def load_step(self, video_id: str, word: str, step: int) -> AttentionInfo:
        """One step's map (array ``[*leading, frame, y, x]`` and metadata)."""
        return self.reader.read_step(video_id, word, step)

    @keyword_aliases(token="word")
    def load_all_steps(self, video_id: str, word: str) -> list[AttentionInfo]:
        """Every stored step of a word, in step order."""
        return [self.load_step(video_id, word, s) for s in self.get_available_steps(video_id, word)]

    @keyword_aliases(token="word")
    def load_aggregated(self, video_id: str, word: str) -> AttentionInfo:
        """The step-averaged map of a word."""
        return self.reader.read_aggregated(video_id, word)

    @keyword_aliases(token="word")
    def step_metadata(self, video_id: str, word: str) -> list[MapMetadata]:
        """The metadata of every stored step of a word, in step order, without reading the arrays."""
        if isinstance(self.reader, BulkMapReader):
            return self.reader.list_step_metadata(video_id, word)
        return [i.metadata for i in self.load_all_steps(video_id, word)]

    @keyword_aliases(token="word")
    def raw_step_stack(self, video_id: str, word: str) -> tuple[np.ndarray, list[MapMetadata]]:
        """Every stored step as stored: ``([step, *leading, frame, y, x], metadata per step)``; one read if packed."""
        if isinstance(self.reader, BulkMapReader):
            return self.reader.read_steps(video_id, word)
        infos = self.load_all_steps(video_id, word)
        if not infos:
            raise NotFoundError(f"word {word!r} of video {video_id!r} has no stored steps")
        return np.stack([i.attention_map for i in infos]), [i.metadata for i in infos]

    @keyword_aliases(token="word")
    def step_stack(self, video_id: str, word: str, pass_name: str = "cond") -> tuple[np.ndarray, list[MapMetadata]]:
        """All steps reduced to the latent grid: ``([step, frame, y, x] float32, metadata per step)``."""
        if isinstance(self.reader, PackedReader) and not self.reader.word(video_id, word).leading_axes:
            raw, metas = self.reader.read_steps(video_id, word)  # [step, frame, y, x]: one read of one shard
            return to_grid(raw, metas[0], pass_name), metas
        steps = self.get_available_steps(video_id, word)
        if not steps:
            raise NotFoundError(f"word {word!r} of video {video_id!r} has no stored steps")
        stack: np.ndarray | None = None  # [step, frame, y, x], filled step by step: one conversion per map
        metas = []
        for i, step in enumerate(steps):
            info = self.load_step(video_id, word, step)
            grid = self.grid(info, pass_name=pass_name) if len(info.metadata.axes) > 3 else info.attention_map
            if len(info.metadata.axes) == 3 and pass_name not in info.metadata.passes:
                self.grid(info, pass_name=pass_name)  # raises: that pass was not stored
            if stack is None:
                stack = np.empty((len(steps), *grid.shape), dtype=np.float32)
            stack[i] = grid
            metas.append(info.metadata)
        assert stack is not None
        return stack, metas

    # -- reductions ------------------------------------------------------------------------------
    @staticmethod
    def grid(info: AttentionInfo, pass_name: str = "cond") -> np.ndarray:
        """Reduce a stored array to ``[frame, y, x]`` float32.

        A ``pass`` axis (``guidance_pass: both``) is indexed by ``pass_name``; ``block`` and
        ``head`` axes are averaged (the default capture already averaged them).
        """
        return to_grid(info.attention_map, info.metadata, pass_name)

    @staticmethod
    def frame_weights(metadata: MapMetadata) -> np.ndarray:
        """``[frame]`` float32: how many video frames each latent frame produced (Wan: 1, 4, 4, …).

        See :func:`attention_visual.storage.schema.frames.frame_weights`.
        """
        return frame_weights(metadata)

    @staticmethod
    def frame_averaged(grid: np.ndarray, metadata: MapMetadata) -> np.ndarray:
        """``[..., y, x]``: ``grid`` ``[..., frame, y, x]`` averaged over the *video's* frames.

        Latent frames are weighted by the video frames they produced; a mapping that contradicts the
        grid raises :class:`AttentionDataError` (see :func:`attention_visual.storage.schema.frames.frame_average`).
        """
        return frame_average(grid, metadata)

    @staticmethod
    def video_frame_index(metadata: MapMetadata) -> np.ndarray:
        """``[video_frame]`` int: the latent frame that produced each video frame."""
        return video_frame_index(metadata)

    @staticmethod
    def video_frame_maps(
        grid: np.ndarray, metadata: MapMetadata, height: int | None = None, width: int | None = None
    ) -> np.ndarray:
        """``[video_frame, H, W]`` float32: each video frame's map, upsampled bilinearly.

        ``height``/``width`` default to the video's resolution; pass the grid size to skip upsampling.
        """
        dims = metadata.video_dimensions
        per_frame = grid[video_frame_index(metadata, grid.shape[-3])]  # [video_frame, y, x]
        return upsample_bilinear(per_frame, height or dims.height, width or dims.width)


__all__ = ["AttentionAnalyzer", "AttentionInfo"]

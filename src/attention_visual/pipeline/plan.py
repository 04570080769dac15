"""From a config to the list of video jobs of a batch: ids, seeds and where each file goes.

Everything here is pure (no model, no disk): the plan depends on the config alone, so every rank of
a multi-process run computes the same plan and a rerun recognises the videos of an earlier one.

* Prompts are numbered from 1 in the order given; each prompt has ``generation.videos_per_prompt``
  videos, numbered from 1. Batch order is prompt-major: ``p1v1, p1v2, p2v1, ...``.
* The video id is the store's: ``prompt_001_vid_001``.
* The seed of a video is ``generation.seed + its 0-based index in batch order``.
* A comparison (``models:``) repeats that plan for each model in turn (model-major, so one pipeline is
  loaded at a time): the model's name prefixes its video ids (``tiny-ltx_prompt_001_vid_001``) and folders
  (``videos/tiny-ltx/prompt_001/``), and video *i* of a prompt has the same seed in every model.

Example:
    >>> from attention_visual.config import Config, GenerationConfig
    >>> cfg = Config(prompts=("a (cat)", "a (dog) and a (ball)"), generation=GenerationConfig(videos_per_prompt=2))
    >>> [(j.video_id, j.seed, j.words) for j in plan_batch(cfg)][1:3]
    [('prompt_001_vid_002', 43, ('cat',)), ('prompt_002_vid_001', 44, ('dog', 'ball'))]
    >>> plan_batch(cfg)[0].video_path
    'videos/prompt_001/video_001.mp4'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from attention_visual.config import Config
from attention_visual.config.inputs import PromptInputs
from attention_visual.config.limits import pseudo_words
from attention_visual.prompts import MarkedPrompt, parse_prompt
from attention_visual.storage import word_dir_name

# A name imported as itself is re-exported: batch, resume and generation import it from here (home: batch_layout).
from attention_visual.storage.batch.layout import ATTENTION_MAPS_DIR as ATTENTION_MAPS_DIR
from attention_visual.storage.batch.layout import (
    ATTENTION_VIDEOS_DIR,
    INPUTS_DIR,
    make_video_id,
    prompt_dir,
    status_file,
    video_dir,
)
from attention_visual.storage.batch.layout import CONFIG_FILE as CONFIG_FILE
from attention_visual.storage.batch.layout import MANIFEST_FILE as MANIFEST_FILE

#: The two attention videos made for every marked word: the step video and the overlay on the video.
RENDER_KINDS = ("attention", "overlay")


@dataclass(frozen=True)
class VideoJob:
    """One video of the batch: what to generate and where its files go (paths relative to the batch dir).

    Attributes:
        index: 0-based position in batch order (prompt-major); decides the seed and the rank.
        prompt_index: 1-based prompt number, as in ``prompt_001``.
        video_index: 1-based number of the video among its prompt's videos.
        prompt: The parsed marked prompt.
        seed: ``generation.seed + index``.
        inputs: The prompt's input files and options (image, video, ...; empty for text-to-video).
        pseudo_words: The pseudo-words the batch stores after the marked words (``<text>`` with
            ``attention_analysis.text_share_map``, ``<image>`` with ``image_map``).
        model: The name of its model in a comparison (``models:``), else None.
        model_id: The model that makes it (its ``generation.model_id``).
    """

    index: int
    prompt_index: int
    video_index: int
    prompt: MarkedPrompt
    seed: int
    inputs: PromptInputs = field(default_factory=PromptInputs)
    pseudo_words: tuple[str, ...] = ()
    model: str | None = None
    model_id: str = ""

    @property
    def video_id(self) -> str:
        """The store's id, e.g. ``prompt_001_vid_001`` (``tiny-ltx_prompt_001_vid_001`` in a comparison)."""
        return make_video_id(self.prompt_index, self.video_index, self.model)

    @property
    def words(self) -> tuple[str, ...]:
        """The words whose maps the video stores: the marked words in order of first appearance (may be
        empty), then the pseudo-words (``<text>``, ``<image>``) when the prompt marks a word."""
        if self.prompt.words:
            return (*self.prompt.words, *self.pseudo_words)
        return self.prompt.words

    @property
    def video_path(self) -> str:
        """``videos/prompt_001/video_001.mp4``."""
        return f"{video_dir(self.prompt_index, self.model)}/video_{self.video_index:03d}.mp4"

    @property
    def attention_maps_path(self) -> str:
        """``attention_maps/prompt_001_vid_001``: the store's folder of this video."""
        return f"{ATTENTION_MAPS_DIR}/{self.video_id}"

    def input_copies(self) -> list[tuple[str, Path, str]]:
        """``(name, source file, copy path relative to the batch dir)`` of each input file of the prompt.

        E.g. ``("image", Path("/data/dog.png"), "inputs/prompt_001/image.png")``.
        """
        folder = f"{INPUTS_DIR}/{prompt_dir(self.prompt_index)}"
        return [
            (name, path, f"{folder}/{name.replace('[', '_').replace(']', '')}{path.suffix.lower()}")
            for name, path in self.inputs.files()
        ]

    @property
    def status_path(self) -> str:
        """``status/prompt_001_vid_001.json``: the completion mark, written last."""
        return status_file(self.video_id)

    def attention_video_path(self, word: str, kind: str, video_format: str, stage: str = "per_video") -> str:
        """Where an attention video of ``word`` goes.

        Args:
            word: A marked word of the prompt (any text; the file name uses :func:`word_dir_name`).
            kind: ``"attention"`` (the step video) or ``"overlay"`` (over the generated video).
            video_format: The file suffix (``mp4``, ``avi``, ``gif``).
            stage: ``"per_video"`` (``videos/prompt_001/attention_videos/``) or ``"batch_end"``
                (``attention_videos/``).

        Returns:
            E.g. ``videos/prompt_001/attention_videos/prompt_001_vid_001_kiss_attention.mp4``.
        """
        if kind not in RENDER_KINDS:
            raise ValueError(f"kind must be one of {RENDER_KINDS}, got {kind!r}")
        name = f"{self.video_id}_{word_dir_name(word)}_{kind}.{video_format}"
        if stage == "per_video":
            return f"{video_dir(self.prompt_index, self.model)}/{ATTENTION_VIDEOS_DIR}/{name}"
        if stage == "batch_end":
            return f"{ATTENTION_VIDEOS_DIR}/{name}"
        raise ValueError(f"stage must be 'per_video' or 'batch_end', got {stage!r}")


def plan_batch(config: Config) -> list[VideoJob]:
    """Return every video of the batch in batch order (prompt-major; model-major first in a comparison).

    Raises:
        PromptError: A prompt is malformed (``load_config`` has already checked this).
    """
    jobs: list[VideoJob] = []
    per_prompt = config.generation.videos_per_prompt
    a = config.attention_analysis
    pseudo = pseudo_words(text_share_map=a.text_share_map, image_map=a.image_map, glyph_map=a.glyph_map)
    for model in config.model_names:  # (None,) without models:
        generation = config.for_model(model).generation
        family = generation.family  # its prompt cleaning (None: not known offline, the default family's)
        cleaning = family.text.cleaning if family is not None else None
        first = len(jobs)
        for p, text in enumerate(config.prompts, start=1):
            prompt = parse_prompt(text, cleaning)
            inputs = config.inputs_of(p - 1)
            for v in range(1, per_prompt + 1):
                index = len(jobs)
                seed = generation.seed + index - first  # the same seeds in every model
                job = VideoJob(index, p, v, prompt, seed, inputs, pseudo, model=model, model_id=generation.model_id)
                jobs.append(job)
    return jobs


def jobs_for_rank(jobs: list[VideoJob], rank: int, world_size: int) -> list[VideoJob]:
    """The jobs a rank runs: video ``i`` goes to rank ``i % world_size``."""
    return [job for job in jobs if job.index % world_size == rank]


__all__ = ["RENDER_KINDS", "VideoJob", "jobs_for_rank", "plan_batch"]

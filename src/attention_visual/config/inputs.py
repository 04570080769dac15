"""A prompt's input files (image, last image, video, reference images) and ``strength``, as given in a config.

A prompt entry in ``prompts:`` is either a marked prompt string or a mapping with the prompt and its
inputs, paths relative to the config file::

    prompts:
      - "a (cat) on a sofa"                        # text only
      - prompt: "the (dog) runs to the (ball)"     # image-to-video
        image: inputs/dog.png
      - prompt: "a (bird) flies"                   # video-to-video
        video: inputs/clip.mp4
        strength: 0.7

:func:`split_prompt_entries` checks the keys and types and that the files exist (at config load);
:func:`check_inputs` measures every file from its header against the limits (at most 4096 × 4096
pixels per image or frame, 1024 frames per video: :mod:`attention_visual.config.media`), decodes it
and checks the inputs against the task and the video size (before any model loads). Every problem is one
:class:`~attention_visual.errors.ConfigError` naming the dotted key, e.g.
``prompts[1].image: file not found: /data/dog.png``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attention_visual.config import validation as v
from attention_visual.config.media import decode_image, decode_video, read_video_frames
from attention_visual.errors import ConfigError

log = logging.getLogger(__name__)

#: Keys a prompt mapping may have besides ``prompt``.
INPUT_KEYS = ("image", "last_image", "video", "reference_images", "strength")
#: Which inputs each task needs (``required``) and accepts (``allowed``).
TASK_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "t2v": ((), ()),
    "i2v": (("image",), ("image",)),
    "flf2v": (("image", "last_image"), ("image", "last_image")),
    "vace": ((), ("video", "reference_images")),
    "v2v": (("video",), ("video", "strength")),
    "condition": ((), ("image", "video")),  # conditioning items at frame 0 (none: text to video)
    "image_edit": (("image",), ("image",)),  # the image to edit (its edit is the last frames)
    "video_edit": (("video",), ("video",)),  # the video to edit (its length is the video's)
}
#: Inputs of which a task takes one at most (the condition pipelines take one item at frame 0).
ONE_OF: dict[str, tuple[str, ...]] = {"condition": ("image", "video")}
_ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class PromptInputs:
    """The input files and options of one prompt (absolute paths once loaded from a file).

    Attributes:
        image: The first frame (image-to-video, first-last-frame).
        last_image: The last frame (first-last-frame).
        video: The input video (video-to-video, VACE control video).
        reference_images: VACE reference images.
        strength: Video-to-video: how far from the input video (0, 1]; None: the pipeline's 0.8.
    """

    image: Path | None = None
    last_image: Path | None = None
    video: Path | None = None
    reference_images: tuple[Path, ...] = ()
    strength: float | None = None

    @property
    def given(self) -> tuple[str, ...]:
        """The keys that are set, in :data:`INPUT_KEYS` order."""
        return tuple(k for k in INPUT_KEYS if getattr(self, k) not in (None, ()))

    def files(self) -> list[tuple[str, Path]]:
        """``(name, path)`` of every input file: ``image``, ``last_image``, ``video``, ``reference_images[i]``."""
        out = [(k, getattr(self, k)) for k in ("image", "last_image", "video") if getattr(self, k) is not None]
        out += [(f"reference_images[{i}]", p) for i, p in enumerate(self.reference_images)]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The set keys as plain data (paths as strings)."""
        data: dict[str, Any] = {}
        for key in self.given:
            value = getattr(self, key)
            data[key] = [str(p) for p in value] if key == "reference_images" else value
            if isinstance(value, Path):
                data[key] = str(value)
        return data


def _input_path(key: str, value: Any, base_dir: Path) -> Path:
    path: Path = v.path()(key, value).expanduser()
    path = (path if path.is_absolute() else base_dir / path).resolve()
    if not path.is_file():
        raise ConfigError(f"{key}: file not found: {path}")
    return path


def parse_prompt_inputs(key: str, entry: dict[Any, Any], base_dir: Path) -> PromptInputs:
    """Check one prompt mapping's input keys and build its :class:`PromptInputs` (files must exist).

    Args:
        key: The entry's dotted key, e.g. ``"prompts[1]"``.
        entry: The mapping (``prompt`` included).
        base_dir: Folder relative paths resolve against (the config file's).

    Raises:
        ConfigError: Unknown key, wrong type, missing file or ``strength`` outside (0, 1].
    """
    for name in entry:
        if name != "prompt" and name not in INPUT_KEYS:
            near = v.closest(str(name), ("prompt", *INPUT_KEYS))
            hint = f"did you mean {near[0]}?" if near else f"valid keys: prompt, {', '.join(INPUT_KEYS)}"
            raise ConfigError(f"unknown key {key}.{name} ({hint})")
    files = {
        name: _input_path(f"{key}.{name}", entry[name], base_dir)
        for name in ("image", "last_image", "video")
        if entry.get(name) is not None
    }
    refs = entry.get("reference_images")
    if refs is not None and not isinstance(refs, list | tuple):
        v.fail(f"{key}.reference_images", "a list of image files", refs, with_kind=True)
    strength = entry.get("strength")
    return PromptInputs(
        image=files.get("image"),
        last_image=files.get("last_image"),
        video=files.get("video"),
        reference_images=tuple(
            _input_path(f"{key}.reference_images[{i}]", p, base_dir) for i, p in enumerate(refs or ())
        ),
        strength=None
        if strength is None
        else v.number(min_value=0, max_value=1, min_open=True)(f"{key}.strength", strength),
    )


def split_prompt_entries(key: str, entries: Any, base_dir: Path) -> tuple[Any, tuple[PromptInputs, ...]]:
    """Split ``prompts:`` into the prompt texts and each prompt's inputs.

    Args:
        key: ``"prompts"``.
        entries: The raw list: strings, or mappings with ``prompt`` and input keys.
        base_dir: Folder relative input paths resolve against.

    Returns:
        ``(texts, inputs)``: ``entries`` unchanged when no entry is a mapping (with ``()``), else the
        prompt texts (checked later by the schema) and one :class:`PromptInputs` per prompt.

    Raises:
        ConfigError: See :func:`parse_prompt_inputs`; a mapping without ``prompt``.
    """
    if not isinstance(entries, list | tuple) or not any(isinstance(e, dict) for e in entries):
        return entries, ()
    texts: list[Any] = []
    inputs: list[PromptInputs] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, dict):
            if "prompt" not in entry:
                raise ConfigError(f'{key}[{i}] is a mapping without a prompt (add prompt: "a (cat) ...")')
            texts.append(entry["prompt"])
            inputs.append(parse_prompt_inputs(f"{key}[{i}]", entry, base_dir))
        else:
            texts.append(entry)
            inputs.append(PromptInputs())
    return texts, tuple(inputs)


def check_inputs(
    inputs: Sequence[PromptInputs], task: str, *, height: int, width: int, num_frames: int, source: str
) -> None:
    """Check every prompt's inputs against the task and the video size, decoding each file once.

    Args:
        inputs: One entry per prompt (or empty: no prompt has inputs).
        task: The task that will run (``t2v``, ``i2v``, ``flf2v``, ``vace``, ``v2v``).
        height, width, num_frames: The video to generate (``generation.*``).
        source: How the message names where the task comes from, e.g. ``"generation.pipeline 'auto' (tiny-i2v)"``.

    Raises:
        ConfigError: A required input is missing or one the task does not take is given; a file does
            not decode; a video's frame count is not ``num_frames``. One line naming ``prompts[i].key``.
    """
    required, allowed = TASK_INPUTS[task]
    count = max(len(inputs), 1)
    for i in range(count):
        given = inputs[i] if inputs else PromptInputs()
        key = f"prompts[{i}]"
        for name in required:
            if name not in given.given:
                raise ConfigError(f"{key}.{name} is required by {source} (task {task}); give it in the prompt mapping")
        for name in given.given:
            if name not in allowed:
                raise ConfigError(f"{key}.{name} is not used by {source} (task {task}); remove it or change the task")
        both = [name for name in ONE_OF.get(task, ()) if name in given.given]
        if len(both) > 1:
            raise ConfigError(
                f"{key} gives {' and '.join(both)}, but {source} (task {task}) takes one of them; remove the other"
            )
        for name, path in given.files():
            if name == "video":
                frames, size = decode_video(f"{key}.video", path)
                if frames != num_frames:
                    raise ConfigError(
                        f"{key}.video has {frames} frames, but generation.num_frames is {num_frames}; "
                        "set num_frames to the video's length or trim the video"
                    )
            else:
                size = decode_image(f"{key}.{name}", path)
            if abs(size[0] / size[1] - width / height) > _ASPECT_TOLERANCE * (width / height):
                log.warning(
                    "%s.%s is %dx%d, the video %dx%d: the pipeline resizes it and changes its aspect ratio",
                    key, name, size[0], size[1], width, height,
                )  # fmt: skip


__all__ = [
    "INPUT_KEYS",
    "ONE_OF",
    "TASK_INPUTS",
    "PromptInputs",
    "check_inputs",
    "parse_prompt_inputs",
    "read_video_frames",
    "split_prompt_entries",
]

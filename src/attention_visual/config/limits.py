"""Every limit of a capture or rendering option, defined once.

The config schema (:mod:`attention_visual.config.schema`), :class:`~attention_visual.capture.CaptureSettings`
and :class:`~attention_visual.render.options.RenderOptions` attach these very check objects to their
fields, so a value the config accepts is never refused later by the capture or the renderer, and
``RenderOptions``/``CaptureSettings`` built directly by an API user are held to the same limits.
This module needs neither torch nor matplotlib at import time.

Example:
    >>> RENDER_FPS("fps", 500)
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: fps must be in (0, 240], got 500
    >>> RENDER_WORKERS("render_workers", -1)
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: render_workers must be 'auto' or an integer in [0, 64], got -1 (an integer)
    >>> captured_steps((1, 3, 5), 2)
    (1, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attention_visual.config import validation as v
from attention_visual.families import FAMILIES
from attention_visual.storage.schema.metadata import JOINT_ATTENTION_MODES

# -- capture ----------------------------------------------------------------------------------------
#: Which guidance pass is captured (``both``: a leading ``pass`` axis).
GUIDANCE_PASSES = ("cond", "uncond", "both")
#: Whether the padding text keys stay in the softmax.
PADDING_MODES = ("include", "exclude")
#: How a word's tokens are combined.
TOKEN_REDUCTIONS = ("sum", "mean", "max")
#: Floating dtypes of stored maps.
STORAGE_DTYPES = ("float32", "float16")
#: Which module lists' attention is captured (``block_list``): every list some model family can capture
#: (a family's main stream first; e.g. a control stream too). ``None`` picks the model's main stream.
BLOCK_LISTS = tuple(dict.fromkeys(point for f in FAMILIES for point in f.block_lists))
#: The lists a model captures when ``block_list`` is not set (each family variant's main stream).
MAIN_BLOCK_LISTS = tuple(dict.fromkeys(v.capture_points[0] for f in FAMILIES for v in f.variants.values()))
#: The last part of a block name (``<list>.<index>.<module>``): the attention attributes of the families.
ATTENTION_MODULES = tuple(dict.fromkeys(name for f in FAMILIES for name in f.attention_modules))
#: The pseudo-word of the image-branch share map (``image_map``; see ``capture.image_share``).
IMAGE_WORD = "<image>"
#: The pseudo-word of the text share under joint attention (``text_share_map``): per video query, the
#: fraction of its attention that goes to the prompt's text keys at all.
TEXT_WORD = "<text>"
#: The pseudo-word of the glyph keys' share under joint attention (``glyph_map``; HunyuanVideo-1.5's byT5
#: tokens of the prompt's quoted text): per video query, the fraction of its attention that goes to them.
GLYPH_WORD = "<glyph>"

#: Under joint attention (text and video keys in one softmax), what a word map is
#: (:data:`~attention_visual.storage.schema.metadata.JOINT_ATTENTION_MODES`): ``text`` (default), the word's
#: share of the attention that goes to the text keys (renormalised over them: comparable with a
#: cross-attention map); ``full``, the word's share of the whole softmax over text and video keys.

GUIDANCE_PASS = v.choice(*GUIDANCE_PASSES)
PADDING = v.choice(*PADDING_MODES)
TOKEN_REDUCTION = v.choice(*TOKEN_REDUCTIONS)
STORAGE_DTYPE = v.choice(*STORAGE_DTYPES)
BLOCKS = v.block_list(BLOCK_LISTS, ATTENTION_MODULES)
STEPS = v.step_list()
JOINT_ATTENTION = v.choice(*JOINT_ATTENTION_MODES)


def pseudo_words(*, text_share_map: bool, image_map: bool, glyph_map: bool = False) -> tuple[str, ...]:
    """The pseudo-words a video's maps hold after its marked words, in map order: ``<text>``, ``<image>``, ``<glyph>``.

    Example:
        >>> pseudo_words(text_share_map=True, image_map=False)
        ('<text>',)
    """
    flags = ((TEXT_WORD, text_share_map), (IMAGE_WORD, image_map), (GLYPH_WORD, glyph_map))
    return tuple(word for word, on in flags if on)


def check_block_names(prefix: str, blocks: Any, block_list: Any) -> None:
    """Names in ``blocks`` (``"vace_blocks.3.attn2"``) must belong to ``block_list``; run before the field checks.

    Example:
        >>> check_block_names("attention_analysis", ["blocks.1.attn2", 0], "blocks")
        >>> check_block_names("", ["vace_blocks.1.attn2"], "blocks")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        attention_visual.errors.ConfigError: blocks[0] 'vace_blocks.1.attn2' names a block of 'vace_blocks', ...
    """
    if block_list is None or block_list in BLOCK_LISTS:  # else the block_list field's own check reports it
        v.block_names_in(
            v.join_key(prefix, "blocks"), blocks, block_list, BLOCK_LISTS, ATTENTION_MODULES, MAIN_BLOCK_LISTS
        )


#: Keep every n-th of the steps selected by ``steps`` (see :func:`captured_steps`).
STORAGE_INTERVAL = v.integer(min_value=1)
SPATIAL_DOWNSAMPLE_FACTOR = v.integer(min_value=1)
FLAG = v.boolean()
BLOCK_LIST = v.optional(v.choice(*BLOCK_LISTS))

#: Largest seed + 1 a torch generator takes here: every video's ``seed + index`` is in [0, 2**63).
SEED_LIMIT = 2**63

# -- inputs ----------------------------------------------------------------------------------------
# Input images and videos (image-to-video, first-last-frame, VACE, video-to-video) are checked against
# these from the file's header, before a pixel is decoded (:mod:`attention_visual.config.inputs`).
#: Most pixels of an input image, or of one frame of an input video: 4096 × 4096.
MAX_INPUT_PIXELS = 4096 * 4096
#: Most frames of an input video (counted without decoding).
MAX_INPUT_FRAMES = 1024
#: Most pixels of an input video in all (frames × pixels per frame): 1024 frames of 1280 × 720.
MAX_INPUT_VIDEO_PIXELS = 1024 * 1280 * 720

# -- rendering --------------------------------------------------------------------------------------
#: How maps are scaled to the colormap (see :mod:`attention_visual.render.normalize`).
NORMALIZATIONS: tuple[str, ...] = ("global", "per_step", "per_frame", "percentile")
#: Output containers: H.264 in MP4, Motion-JPEG in AVI, animated GIF.
VIDEO_FORMATS: tuple[str, ...] = ("mp4", "avi", "gif")
#: Pixels per inch of the rendered figures when nothing else is asked (the config has no ``dpi``).
DEFAULT_DPI = 100
#: Smallest and largest side of a step-video frame, in pixels (8K is plenty).
FIGURE_PIXELS = (64, 7680)
#: Highest frame rate of the step and step-average attention videos.
MAX_RENDER_FPS = 240

NORMALIZATION = v.choice(*NORMALIZATIONS)
VIDEO_FORMAT = v.choice(*VIDEO_FORMATS)
OVERLAY_ALPHA = v.number(min_value=0, max_value=1)
STATIC_DURATION = v.number(min_value=0, min_open=True, max_value=3600)
RENDER_FPS = v.number(min_value=0, min_open=True, max_value=MAX_RENDER_FPS)
INTERPOLATION_STEPS = v.integer(min_value=0, max_value=120)
DPI = v.integer(min_value=10, max_value=1200)

# -- the batch's background work --------------------------------------------------------------------
#: Most worker processes ``attention_analysis.render_workers`` may ask for.
MAX_RENDER_WORKERS = 64
#: Most worker processes ``render_workers: auto`` picks (each renders one video's attention videos at a time).
MAX_AUTO_RENDER_WORKERS = 4


def _render_workers(key: str, value: Any) -> int | str:
    """``"auto"`` or a number of worker processes in ``[0, MAX_RENDER_WORKERS]`` (0: in the batch's own process)."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RENDER_WORKERS:
        v.fail(key, f"'auto' or an integer in [0, {MAX_RENDER_WORKERS}]", value, with_kind=True)
    return value


RENDER_WORKERS: v.Check = _render_workers


def figure_size(dpi: int = DEFAULT_DPI) -> v.Check:
    """Two positive numbers ``[width, height]`` in inches whose pixels at ``dpi`` are within :data:`FIGURE_PIXELS`.

    Example:
        >>> figure_size(200)("figsize", [12, 8])
        (12.0, 8.0)
        >>> figure_size(100)("figsize", [0.5, 8])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        attention_visual.errors.ConfigError: figsize[0] (width) must be in [0.64, 76.8] inches (64-7680 px ...
    """
    pair = v.positive_pair()
    low, high = FIGURE_PIXELS
    inches = f"in [{low / dpi:g}, {high / dpi:g}] inches ({low}-{high} px at dpi {dpi})"

    def check(key: str, value: Any) -> tuple[float, float]:
        size: tuple[float, float] = pair(key, value)
        for i, side in enumerate(("width", "height")):
            if not low <= size[i] * dpi <= high:
                v.fail(f"{key}[{i}] ({side})", inches, size[i])
        return size

    return check


FIGSIZE = figure_size(DEFAULT_DPI)


def captured_steps(steps: Sequence[int] | None, storage_interval: int, num_steps: int | None = None) -> tuple[int, ...]:
    """The denoising steps recorded: every ``storage_interval``-th of the steps ``steps`` selects.

    Args:
        steps: Sorted step indices, or None for every step (then ``num_steps`` is needed).
        storage_interval: Keep every n-th selected step, starting with the first.
        num_steps: Steps the run has; selected steps at or past it never run and are dropped.

    Example:
        >>> captured_steps((1, 3, 5), 2), captured_steps(None, 3, 8), captured_steps((1, 3, 5), 1, 4)
        ((1, 5), (0, 3, 6), (1, 3))
    """
    if steps is None:
        if num_steps is None:
            raise ValueError("captured_steps: num_steps is needed when steps is None (all steps)")
        return tuple(range(0, num_steps, storage_interval))
    kept = tuple(steps)[::storage_interval]
    return kept if num_steps is None else tuple(s for s in kept if s < num_steps)


def is_captured(step_index: int, steps: Sequence[int] | None, storage_interval: int) -> bool:
    """Whether step ``step_index`` is recorded (the same rule as :func:`captured_steps`, one step at a time)."""
    if steps is None:
        return step_index % storage_interval == 0
    return step_index in tuple(steps)[::storage_interval]


__all__ = [
    "DEFAULT_DPI",
    "FIGURE_PIXELS",
    "GLYPH_WORD",
    "GUIDANCE_PASSES",
    "JOINT_ATTENTION_MODES",
    "MAX_AUTO_RENDER_WORKERS",
    "MAX_INPUT_FRAMES",
    "MAX_INPUT_PIXELS",
    "MAX_INPUT_VIDEO_PIXELS",
    "MAX_RENDER_FPS",
    "MAX_RENDER_WORKERS",
    "NORMALIZATIONS",
    "PADDING_MODES",
    "SEED_LIMIT",
    "STORAGE_DTYPES",
    "TEXT_WORD",
    "TOKEN_REDUCTIONS",
    "VIDEO_FORMATS",
    "captured_steps",
    "figure_size",
    "is_captured",
    "pseudo_words",
]

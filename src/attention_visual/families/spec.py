"""What a model family is, as data: :class:`ModelFamily`, its :class:`Variant` s and its text side.

A *family* (Wan, CogVideoX, LTX-Video, ...) is a set of diffusers pipelines that share how their
text→video attention is computed and laid out. Everything that differs between families and that a
config check, the light install or the report needs is a frozen value here, importable without torch:
frame-count and size rules, fps and text-length defaults, pixels per token, the temporal rule, the
pipeline classes it recognises, its tasks, experts and checkpoints. The few functions that need torch
(recognising a loaded pipeline, finding and hooking its attention, reading a transformer call) live in
the family's ``runtime`` module, imported lazily (see :mod:`attention_visual.families.runtime`).

Nothing here names a family: :mod:`attention_visual.families.registry` lists them.

Example:
    >>> from attention_visual.families import family_named
    >>> wan = family_named("wan")
    >>> wan.frame_count_rule, wan.size_multiple, wan.default_fps, wan.text.max_sequence_length
    ('4k+1', 16, 16, 512)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from attention_visual.storage.schema.frames import FrameRule
from attention_visual.storage.schema.metadata import ATTENTION_KINDS

#: ``generation.pipeline``: the checkpoint's own pipeline class (any other value is a family's task).
AUTO_TASK = "auto"
#: How classifier-free guidance runs: ``separate`` (a prompt pass, then a negative-prompt pass: Wan),
#: ``batched`` (one transformer call on ``[uncond, cond]``: CogVideoX, LTX) or ``distilled`` (guidance is an
#: input of the model: the prompt pass only, and a separate negative-prompt pass only where the pipeline call
#: asks for true classifier-free guidance, e.g. HunyuanVideo's ``true_cfg_scale``; the batch runs the prompt
#: pass only).
GUIDANCE_MODES = ("separate", "batched", "distilled")
#: Where the step index comes from: the pipeline's ``cache_context(..., step_index=i)``, or counted.
STEP_SOURCES = ("cache_context", "counted")
#: How a pass is named: by the pipeline's ``cache_context`` name, or by call order (no context).
PASS_SOURCES = ("cache_context", "call_order")
#: Latent frames that are inputs rather than generated video: none, the first one (an image latent),
#: or VACE-style reference frames at the front (dropped before decoding).
CONDITIONING_KINDS = ("none", "first_frame", "reference")
#: How the text keys after the prompt's real tokens behave in the model's softmax: ``identical_rows``
#: (Wan: the padded embedding is zeroed, so all padding keys are one repeated row, attended to);
#: ``masked`` (a mask or bias removes them: LTX's -10000); ``attended`` (real, distinct keys: CogVideoX).
PADDING_KINDS = ("identical_rows", "masked", "attended")
#: The side the pipeline's tokenizer pads the prompt on (T5: ``right``; Gemma: ``left``).
PADDING_SIDES = ("right", "left")
#: Where the prompt's real tokens lie among the model's text keys: ``tokenized`` (where the tokenizer put
#: them: first, with right padding) or ``real_first`` (the model moves them to the front, in order, whatever
#: the padding side: LTX-2's text connector, whose learned registers fill the keys behind them).
KEY_ORDERS = ("tokenized", "real_first")


@dataclass(frozen=True)
class Cleaning:
    """How a family's pipeline cleans a prompt before tokenizing it.

    ``fix`` (character repairs such as ftfy and HTML unescaping, then strip; ``None``: none) runs first,
    then, with ``collapse_whitespace``, every whitespace run becomes one space and the ends are stripped.
    The prompt parser carries the marked words' spans through both stages, so ``fix`` must leave
    private-use characters alone (ftfy and ``html.unescape`` do).

    Example:
        >>> Cleaning()("  a  b ") == "  a  b "
        True
        >>> Cleaning(collapse_whitespace=True)("  a \\t b ")
        'a b'
    """

    fix: Callable[[str], str] | None = None
    collapse_whitespace: bool = False

    def __call__(self, text: str) -> str:
        if self.fix is not None:
            text = self.fix(text)
        return collapse_whitespace(text) if self.collapse_whitespace else text


def collapse_whitespace(text: str) -> str:
    """Every whitespace run (``regex``'s ``\\s``) becomes one space; stripped."""
    import regex  # deferred: reading the families' facts cleans no text (regex caches the pattern)

    return str(regex.sub(r"\s+", " ", text)).strip()


@dataclass(frozen=True)
class PromptTemplate:
    """A chat template the pipeline wraps the prompt in, and the template tokens it cuts off the text keys.

    The pipeline renders ``[{"role": "system", "content": system_message}, {"role": "user", "content":
    prompt}]`` with its tokenizer's own chat template (``add_generation_prompt``), tokenizes the text without
    special tokens (the template writes them), padded to ``max_sequence_length + cut`` tokens, encodes it and
    cuts the first ``cut`` tokens (the template before the prompt) off the encoder's output: the text keys
    are the prompt's tokens, the template's tail and the padding (HunyuanVideo-1.5: 108 tokens cut).

    Attributes:
        system_message: The system message, exactly as the pipeline writes it (whitespace included: the
            cut counts its tokens).
        cut: Template tokens cut off the front of the encoder's output.
        add_generation_prompt: The template ends with the assistant's turn header.
        empty_prompt: What the pipeline puts in the user message for an empty prompt.
    """

    system_message: str
    cut: int
    add_generation_prompt: bool = True
    empty_prompt: str = " "

    #: The chat template writes the special tokens itself: the tokenizer adds none.
    add_special_tokens: ClassVar[bool] = False

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat the pipeline renders for ``prompt``."""
        return [
            {"role": "system", "content": self.system_message},
            {"role": "user", "content": prompt or self.empty_prompt},
        ]


@dataclass(frozen=True)
class FormatTemplate:
    """A template string the pipeline fills with the prompt, and the template tokens it cuts off the text keys.

    The pipeline tokenizes ``text.format(prompt)`` with the tokenizer's own special tokens (a leading BOS),
    padded to ``max_sequence_length + cut`` tokens, encodes it and cuts the first ``cut`` tokens (BOS and the
    template before the prompt) off the encoder's output and mask: the text keys are the prompt's tokens, the
    template's tail and the padding (HunyuanVideo: 95 tokens cut).

    Attributes:
        text: The template, with one ``{}`` where the prompt goes.
        cut: Tokens cut off the front of the encoder's output (``crop_start``).

    Example:
        >>> FormatTemplate("<s>{}</s>", 1).parts()
        ('<s>', '</s>')
    """

    text: str
    cut: int

    #: The tokenizer adds its special tokens (the BOS the cut counts), unlike a chat template.
    add_special_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.text.count("{}") != 1 or self.text.replace("{}", "").count("{") or self.cut < 0:
            raise ValueError("FormatTemplate.text must hold exactly one {} and no other brace; cut must be >= 0")

    def parts(self) -> tuple[str, str]:
        """``(prefix, suffix)``: the text before and after the prompt."""
        prefix, suffix = self.text.split("{}")
        return prefix, suffix


Template = PromptTemplate | FormatTemplate
"""How a family's pipeline wraps the prompt before encoding it (a chat, or a template string)."""


@dataclass(frozen=True)
class TextSide:
    """How a family's pipelines turn the prompt into text keys.

    Attributes:
        cleaning: What the pipeline does to the prompt before tokenizing it.
        max_sequence_length: The pipelines' default ``max_sequence_length`` (the text keys of one prompt).
        max_sequence_limit: The largest ``max_sequence_length`` the text encoder takes (None: no limit).
        sequence_multiple: ``max_sequence_length`` must be a multiple of it (LTX-2's text connector repeats
            its 128 learned registers over the text keys).
        padding: How the keys after the real tokens behave (one of :data:`PADDING_KINDS`).
        padding_side: The side the pipeline's tokenizer pads on (one of :data:`PADDING_SIDES`).
        key_order: Where the real tokens lie among the text keys (one of :data:`KEY_ORDERS`). The capture
            reads the real keys first, so a left-padded prompt needs a model that moves them there.
        encoder: The pipeline component whose call shows the token ids (a forward pre-hook checks them).
        template: The chat template or template string the prompt is wrapped in, with the template tokens cut off
            the text keys (None: the prompt is tokenized alone, special tokens added).
    """

    cleaning: Cleaning = Cleaning()
    max_sequence_length: int = 226
    max_sequence_limit: int | None = None
    sequence_multiple: int = 1
    padding: str = "attended"
    encoder: str = "text_encoder"
    template: Template | None = None
    padding_side: str = "right"
    key_order: str = "tokenized"

    def __post_init__(self) -> None:
        _choose("TextSide.padding", self.padding, PADDING_KINDS)
        _choose("TextSide.padding_side", self.padding_side, PADDING_SIDES)
        _choose("TextSide.key_order", self.key_order, KEY_ORDERS)
        if self.padding_side == "left" and self.key_order == "tokenized":
            raise ValueError(
                "TextSide: left-padded text keys in tokenized order put the padding first; the capture "
                "reads the real keys first (key_order='real_first' where the model moves them there)"
            )


@dataclass(frozen=True)
class Variant:
    """The facts of one pipeline variant of a family that the capture, the batch and the renderers need.

    Attributes:
        name: Stable identifier stored in map metadata (``"wan2.2-t2v-a14b"``).
        family: The :attr:`ModelFamily.name` it belongs to (``"wan"``).
        pipeline_class: The diffusers pipeline class name.
        task: ``generation.pipeline`` value that runs it (``"t2v"``, ``"i2v"``, ...).
        capture_points: Module lists whose attention can be captured (``block_list``), default first.
        attention_module: The attribute of a block that holds its text→video attention; a captured
            block is named ``<capture point>.<index>.<attention_module>`` (``"blocks.7.attn2"``).
        experts: Transformers that take turns over the steps (1, or 2: high- then low-noise expert).
        boundary_ratio: With two experts, steps with ``t >= boundary_ratio × num_train_timesteps`` run
            the first one; None with one.
        pixels_per_cell: Video pixels per grid cell side (VAE spatial factor × transformer patch size).
        temporal_factor: Video frames per latent frame.
        first_frame_alone: Latent frame 0 decodes to video frame 0 alone (a causal VAE).
        latent_frames_per_cell: Latent frames one grid cell covers along time (the temporal patch).
        conditioning: Which latent frames are inputs, not generated video (:data:`CONDITIONING_KINDS`).
        image_branch: The attention has a separate image-key branch (the ``<image>`` map can be recorded).
        text_length: The number of text keys the model requires (None: any ``max_sequence_length``).
        attention_kind: One of :data:`ATTENTION_KINDS`.
        guidance: One of :data:`GUIDANCE_MODES`.
        step_source: One of :data:`STEP_SOURCES`.
        pass_source: One of :data:`PASS_SOURCES`.
        batch_passes: With ``batched`` guidance, the guidance pass of each batch item (when guidance is
            off, the one item is ``cond``).
        expand_timesteps: ``timestep`` is given per video token (its largest entry is the step's).
        frames_from_video: The pipeline call takes no ``num_frames`` (video-to-video: the input's length).
        default_fps: Frames per second of its videos when the config gives none (None: the family's
            :attr:`ModelFamily.default_fps`; e.g. SkyReels-V2 makes 24 fps videos, Wan 16; CogVideoX 1.5 16,
            1.0 8).
        fps_argument: The pipeline call's frame-rate argument where only this variant takes one (SkyReels-V2
            diffusion forcing: ``fps``, embedded by the model); None: the family's
            :attr:`ModelFamily.fps_argument`.
        frame_timesteps: ``timestep`` is given per latent frame (``[batch, frame]``: diffusion forcing
            denoises each frame at its own noise level); each step records its map frames' timesteps.
        fixed_num_frames: The only frame count the pipeline makes (ChronoEdit: 5, the input image and its
            edit), or None.
        grid_shrink_keeps: Where the pipeline drops latent frames during the run (ChronoEdit drops its
            temporal-reasoning frames after some steps), the map frames the earlier steps keep, as indices
            into their frames (negative: from the end), so every step has the later steps' grid; empty: the
            grid never changes within a run (a change is an error).
        fixed_size: ``(height, width)``: the only frame size the model makes (a learned position embedding:
            CogVideoX-5b-I2V, 480 × 720), or None.
        checkpoints: Public diffusers checkpoints of this variant.
        pass_names: ``(cache-context name, pass)`` pairs: how the pipeline's ``cache_context`` names the
            guidance passes, where it does not call them ``cond``/``uncond`` (HunyuanVideo-1.5's guider:
            ``pred_cond``/``pred_uncond``); other names are taken as they are.
        key_groups: Joint attention: named groups of keys besides the prompt's text keys whose share of the
            softmax a pseudo-word can hold (``"image"``: ``<image>``, ``"glyph"``: ``<glyph>``); the family's
            measure says where they lie in each call.
        frame_sizes: ``(height, width)`` pairs: the only frame sizes the model makes (empty: any multiple of
            ``pixels_per_cell``; HunyuanVideo-1.5 image-to-video makes the sizes of its resolution buckets).
        stream_kinds: ``(capture point, attention kind)`` pairs for module lists whose attention is of another
            kind than ``attention_kind`` (HunyuanVideo: ``single_transformer_blocks`` are ``joint_single``);
            :meth:`for_block_list` gives the variant as one module list's capture sees it.
        ignored_passes: Cache-context names of extra transformer calls of a step that are neither a guidance
            pass nor a step (LTX-2's ``uncond_stg`` and ``uncond_modality``): not recorded, not counted.
        requires: Python packages (import names, as ``pip`` installs them) the pipeline's call needs beyond
            this package's install (LTX-2 image-to-video: ``av``, which re-compresses the image as in training).
        requires_for: The prompt inputs (``image``...) whose presence makes the call need ``requires``; empty:
            every call does (LTX-2's condition pipeline re-compresses an ``image`` condition, not a ``video``).
    """

    name: str
    family: str
    pipeline_class: str
    task: str
    capture_points: tuple[str, ...]
    attention_module: str
    experts: int = 1
    boundary_ratio: float | None = None
    pixels_per_cell: int = 16
    temporal_factor: int = 4
    first_frame_alone: bool = True
    latent_frames_per_cell: int = 1
    conditioning: str = "none"
    image_branch: bool = False
    text_length: int | None = None
    attention_kind: str = "cross"
    guidance: str = "separate"
    step_source: str = "counted"
    pass_source: str = "cache_context"
    batch_passes: tuple[str, ...] = ("uncond", "cond")
    expand_timesteps: bool = False
    frames_from_video: bool = False
    default_fps: int | None = None
    fps_argument: str | None = None
    frame_timesteps: bool = False
    fixed_num_frames: int | None = None
    grid_shrink_keeps: tuple[int, ...] = ()
    fixed_size: tuple[int, int] | None = None
    checkpoints: tuple[str, ...] = ()
    pass_names: tuple[tuple[str, str], ...] = ()
    key_groups: tuple[str, ...] = ()
    frame_sizes: tuple[tuple[int, int], ...] = ()
    stream_kinds: tuple[tuple[str, str], ...] = ()
    ignored_passes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    requires_for: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for point, kind in self.stream_kinds:
            _choose(f"Variant.stream_kinds[{point!r}]", kind, ATTENTION_KINDS)
            if point not in self.capture_points:
                raise ValueError(f"Variant.stream_kinds names {point!r}, not one of {self.capture_points}")
        for label, value, choices in (
            ("conditioning", self.conditioning, CONDITIONING_KINDS),
            ("attention_kind", self.attention_kind, ATTENTION_KINDS),
            ("guidance", self.guidance, GUIDANCE_MODES),
            ("step_source", self.step_source, STEP_SOURCES),
            ("pass_source", self.pass_source, PASS_SOURCES),
        ):
            _choose(f"Variant.{label}", value, choices)
        if self.experts not in (1, 2):
            raise ValueError(f"Variant.experts must be 1 or 2, got {self.experts}")
        if not self.capture_points:
            raise ValueError("Variant.capture_points must name at least one module list")

    @property
    def joint(self) -> bool:
        """Whether text and video keys share one softmax (``joint_dual`` or ``joint_single``)."""
        return self.attention_kind != "cross"

    @property
    def has_image_map(self) -> bool:
        """Whether ``<image>`` can be recorded: an image branch (Wan) or image keys in the joint softmax."""
        return self.image_branch or "image" in self.key_groups

    def for_block_list(self, block_list: str) -> Variant:
        """The variant as a capture of ``block_list`` sees it: that module list's attention kind.

        Example:
            >>> v = Variant("v", "f", "P", "t2v", ("dual", "single"), "attn", attention_kind="joint_dual",
            ...             stream_kinds=(("single", "joint_single"),))
            >>> v.for_block_list("single").attention_kind, v.for_block_list("dual").attention_kind
            ('joint_single', 'joint_dual')
        """
        kind = dict(self.stream_kinds).get(block_list, self.attention_kind)
        return self if kind == self.attention_kind else self.replace(attention_kind=kind)

    def block_name(self, index: int, block_list: str | None = None) -> str:
        """The name of block ``index``'s captured attention (``blocks.7.attn2``), used in metadata and filters."""
        return f"{block_list or self.capture_points[0]}.{index}.{self.attention_module}"

    @property
    def frame_rule(self) -> FrameRule:
        """How this variant's map frames map to video frames (see :mod:`attention_visual.storage.schema.frames`)."""
        return FrameRule(self.temporal_factor, self.first_frame_alone, self.latent_frames_per_cell)

    def conditioning_frames(self, num_reference_frames: int = 0) -> tuple[int, ...]:
        """Latent frame indices that are conditioning inputs (``num_reference_frames``: VACE's reference images)."""
        if self.conditioning == "first_frame":
            return (0,)
        if self.conditioning == "reference":
            return tuple(range(num_reference_frames))
        return ()

    def replace(self, **changes: Any) -> Variant:
        """A copy with ``changes`` (the facts of one loaded pipeline object)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ModelFamily:
    """One model family: its facts as data, and where its torch side lives.

    Attributes:
        name: Stable identifier stored in map metadata (``"wan"``).
        title: How messages and docs name it (``"Wan"``).
        variants: Every supported variant, by name.
        text: The text side (cleaning, default text length, padding semantics).
        size_multiple: Frame height and width must be multiples of this (the smallest pixels per cell).
        default_fps: Frames per second of its videos when the config gives none.
        takes_flow_shift: Whether ``generation.flow_shift`` means something for its scheduler (Wan's UniPC
            shift); where not (LTX-Video shifts by the video's length itself, CogVideoX's DDIM/DPM has no
            shift) the config refuses it.
        fps_argument: The pipeline call's argument that says the video's frame rate, which the batch sets to
            the fps it saves the video at (LTX-Video: ``frame_rate``, which scales its RoPE over time); None:
            the pipelines take none.
        default_checkpoint: The checkpoint a config names when it names none (the default family's only).
        unsupported: Pipeline classes of the family that are refused: ``{class: (what, why)}``.
        tiny_models: ``{tiny model id: variant name}`` of its offline random-weight models.
        expert_names: The label of each expert in turn (``experts == 2``).
        block_counts: For each module list (``block_list``), the entry of the transformer's ``config.json``
            that counts its blocks (an integer, or a list whose length counts them).
        runtime: The module of its torch side (:class:`~attention_visual.families.runtime.FamilyRuntime`).
        checkpoints: The module that reads its checkpoints' ``model_index.json`` (no torch; see
            :class:`~attention_visual.families.registry.CheckpointRules`), or ``module:name``, an object in it
            that does (a :class:`~attention_visual.families.common.checkpoints.ClassOnlyCheckpoints`).
    """

    name: str
    title: str
    variants: Mapping[str, Variant]
    text: TextSide
    size_multiple: int
    default_fps: int
    default_checkpoint: str
    runtime: str
    checkpoints: str
    unsupported: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    tiny_models: Mapping[str, str] = field(default_factory=dict)
    expert_names: tuple[str, ...] = ("high_noise", "low_noise")
    block_counts: Mapping[str, str] = field(default_factory=dict)
    takes_flow_shift: bool = True
    fps_argument: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))
        object.__setattr__(self, "block_counts", MappingProxyType(dict(self.block_counts)))
        object.__setattr__(self, "unsupported", MappingProxyType(dict(self.unsupported)))
        object.__setattr__(self, "tiny_models", MappingProxyType(dict(self.tiny_models)))
        for name, variant in self.variants.items():
            if variant.name != name or variant.family != self.name:
                raise ValueError(f"variant {name!r} is filed under the wrong name or family")
        for model_id, variant_name in self.tiny_models.items():
            if variant_name not in self.variants:
                raise ValueError(f"tiny model {model_id!r} names an unknown variant {variant_name!r}")
        uncounted = set(self.block_lists) - set(self.block_counts)
        if uncounted:
            raise ValueError(f"{self.name}: block_counts must say how to count {sorted(uncounted)}")
        rules = {(v.temporal_factor, v.first_frame_alone) for v in self.variants.values()}
        if len(rules) != 1:
            raise ValueError(f"{self.name}: every variant must share one frame-count rule, got {sorted(rules)}")

    def fps_of(self, variant: Variant | None = None) -> int:
        """Frames per second of a variant's videos when the config gives none (the family's without a variant)."""
        own = variant.default_fps if variant is not None else None
        return own if own is not None else self.default_fps

    def fps_argument_of(self, variant: Variant) -> str | None:
        """The pipeline call's frame-rate argument for ``variant`` (the variant's own, else the family's)."""
        return variant.fps_argument or self.fps_argument

    @property
    def pipeline_classes(self) -> tuple[str, ...]:
        """The pipeline classes it recognises, in the order of its variants."""
        return tuple(dict.fromkeys(v.pipeline_class for v in self.variants.values()))

    @property
    def tasks(self) -> tuple[str, ...]:
        """The ``generation.pipeline`` tasks its variants run, in order."""
        return tuple(dict.fromkeys(v.task for v in self.variants.values()))

    @property
    def temporal_factor(self) -> int:
        """Video frames per latent frame (the same for every variant)."""
        return next(iter(self.variants.values())).temporal_factor

    @property
    def first_frame_alone(self) -> bool:
        return next(iter(self.variants.values())).first_frame_alone

    @property
    def frame_count_rule(self) -> str:
        """The frame counts its pipelines make, in words: ``"4k+1"`` (Wan), ``"8k+1"`` (LTX)."""
        return f"{self.temporal_factor}k+1" if self.first_frame_alone else f"{self.temporal_factor}k"

    def accepts_frame_count(self, num_frames: int) -> bool:
        """Whether a video of ``num_frames`` frames is one its VAE makes exactly.

        Example:
            >>> from attention_visual.families import family_named
            >>> family_named("wan").accepts_frame_count(81), family_named("wan").accepts_frame_count(80)
            (True, False)
        """
        offset = 1 if self.first_frame_alone else 0
        return num_frames >= max(offset, 1) and (num_frames - offset) % self.temporal_factor == 0

    @property
    def block_lists(self) -> tuple[str, ...]:
        """Every module list some variant can capture (``block_list`` values)."""
        return tuple(dict.fromkeys(p for v in self.variants.values() for p in v.capture_points))

    @property
    def attention_modules(self) -> tuple[str, ...]:
        """The attention attribute names of its variants (the last part of a block name)."""
        return tuple(dict.fromkeys(v.attention_module for v in self.variants.values()))

    @property
    def joint(self) -> bool:
        """Whether any of its variants has joint attention (``joint_attention: full`` is meaningful)."""
        return any(v.joint for v in self.variants.values())


def _choose(label: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{label} must be one of {choices}, got {value!r}")


__all__ = [
    "ATTENTION_KINDS",
    "AUTO_TASK",
    "CONDITIONING_KINDS",
    "GUIDANCE_MODES",
    "KEY_ORDERS",
    "PADDING_KINDS",
    "PADDING_SIDES",
    "PASS_SOURCES",
    "STEP_SOURCES",
    "Cleaning",
    "FormatTemplate",
    "ModelFamily",
    "PromptTemplate",
    "Template",
    "TextSide",
    "Variant",
    "collapse_whitespace",
]

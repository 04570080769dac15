"""Typed metadata stored next to every attention map, and its JSON schema version.

One :class:`MapMetadata` per stored array (one step, or the step-average). It carries the
fields the seed documentation shows (``shape``, ``dtype``, ``num_steps``, ``steps_used``,
``aggregation_method``, ``token_word``, ``video_dimensions``, ``storage_timestamp``,
``attention_storage_version``) and everything needed to interpret the array without the
model: axes names, the latent grid (key ``token_grid``), latent→video frame mapping, prompt and token
provenance,
which guidance pass and how heads/blocks/tokens were reduced.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from attention_visual.errors import AttentionDataError
from attention_visual.storage.schema.limits import check_map_shape, check_video_size

ATTENTION_STORAGE_VERSION = 3
READABLE_STORAGE_VERSIONS = (1, 2, 3)
"""Version 2 added the variant fields (variant, experts, conditioning frames, ...); version 3 what the map
means across model families (family, attention kind, joint_attention, the frame rule). Older files load with
the defaults (every file before version 3 came from one family, named in the docs)."""
#: What a map holds: ``text_attention`` (a word's attention), ``image_share`` (the ``<image>`` pseudo-word:
#: the image branch's share of the output), ``text_share`` (the ``<text>`` pseudo-word: the share of the
#: attention that goes to text keys at all, under joint attention), ``image_token_share`` (``<image>`` where
#: the image tokens are keys of the joint softmax: their share of it), ``glyph_share`` (``<glyph>``: the share
#: of the glyph tokens, HunyuanVideo-1.5's byT5 encoding of the quoted text).
QUANTITIES = ("text_attention", "image_share", "text_share", "image_token_share", "glyph_share")
#: ``attention_kind`` values, where a model family's text→video attention is: ``cross`` (video queries, text
#: keys only: Wan, LTX ``attn2``), ``joint_dual`` (one softmax over ``[text, video]`` keys, separate text and
#: video weights: CogVideoX, HunyuanVideo's double-stream blocks), ``joint_single`` (one softmax, shared
#: weights: HunyuanVideo's single-stream blocks).
ATTENTION_KINDS = ("cross", "joint_dual", "joint_single")
#: ``joint_attention`` values: the share of the attention to text (``text``) or of the whole softmax (``full``).
JOINT_ATTENTION_MODES = ("text", "full")

#: Axis names a stored array may have, outermost first. ``frame, y, x`` always come last.
LEADING_AXES = ("pass", "block", "head")
GRID_AXES = ("frame", "y", "x")
PASS_NAMES = ("cond", "uncond")


@dataclass(frozen=True)
class VideoDimensions:
    """Size of the generated video the map belongs to."""

    width: int
    height: int
    fps: float
    frames: int


@dataclass(frozen=True)
class LatentGrid:
    """The model's latent grid of video tokens (grid cells): map frames × height/px × width/px, px being the
    pixels per grid cell (Wan: 16).

    Before ``spatial_downsample_factor``. Stored in the metadata under the key ``token_grid``.
    """

    frames: int
    height: int
    width: int


#: The first version's name of :class:`LatentGrid` (docs/glossary.md: a grid cell is not a token piece).
TokenGrid = LatentGrid


@dataclass(frozen=True)
class Reduction:
    """How the model's attention was reduced to the stored array."""

    heads: str = "mean"  # "mean" or "kept" (a "head" axis)
    blocks: str = "mean"  # "mean" or "kept" (a "block" axis)
    tokens: str = "sum"  # "sum" | "mean" | "max" over the word's tokens
    padding: str = "include"  # "include": softmax over all text keys; "exclude": renormalised over real tokens


@dataclass(frozen=True)
class MapMetadata:
    """Everything known about one stored attention array. Arrays are ``[*leading, frame, y, x]``."""

    video_id: str
    token_word: str
    shape: tuple[int, ...]
    dtype: str
    axes: tuple[str, ...]
    num_steps: int
    steps_used: tuple[int, ...]
    step_index: int | None
    aggregation_method: str  # "per_step" | "mean_over_steps"
    video_dimensions: VideoDimensions
    token_grid: LatentGrid  # stored key (docs/glossary.md)
    latent_to_video_frames: tuple[tuple[int, int], ...]
    timestep: float | None = None
    sigma: float | None = None
    spatial_downsample_factor: int = 1
    marked_prompt: str = ""
    clean_prompt: str = ""
    token_indices: tuple[int, ...] = ()
    token_ids: tuple[int, ...] = ()
    token_pieces: tuple[str, ...] = ()
    char_spans: tuple[tuple[int, int], ...] = ()
    guidance_pass: str = "cond"
    passes: tuple[str, ...] = ("cond",)
    reduction: Reduction = field(default_factory=Reduction)
    blocks: tuple[str, ...] = ()
    num_heads: int | None = None
    model_id: str | None = None
    seed: int | None = None
    storage_format: str = "numpy"
    # variant facts (version 2; absent in version-1 files, which load with these defaults)
    variant: str | None = None  # the family's variant name (attention_visual.families), e.g. "wan2.2-t2v-a14b"
    expert: str | None = None  # per step: "high_noise" | "low_noise" (two experts), else None
    step_experts: tuple[str | None, ...] = ()  # the expert of each of steps_used (empty: one transformer)
    boundary_timestep: float | None = None  # steps with t >= this run the high-noise expert
    conditioning_frames: tuple[int, ...] = ()  # latent frames that are inputs (I2V-5B image, VACE references)
    pixels_per_token: int | None = None  # video pixels per grid cell side (None in version-1 files); stored key
    quantity: str = "text_attention"  # "image_share": the I2V <image> map ||o_img|| / (||o_img|| + ||o_txt||)
    # what the map means across families (version 3; None in older files)
    family: str | None = None  # the model family (attention_visual.families), e.g. "wan"
    attention_kind: str | None = None  # "cross" | "joint_dual" | "joint_single" (ATTENTION_KINDS)
    joint_attention: str | None = None  # joint attention only: "text" | "full" (JOINT_ATTENTION_MODES)
    temporal_factor: int | None = None  # video frames per latent frame
    latent_frames_per_cell: int = 1  # latent frames one map frame covers (a temporal patch)
    # per step, where the model denoises each latent frame at its own noise level (diffusion forcing): the
    # timestep of each map frame ([frame]); empty: every frame at ``timestep``
    frame_timesteps: tuple[float, ...] = ()
    storage_timestamp: str = ""
    attention_storage_version: int = ATTENTION_STORAGE_VERSION

    def __post_init__(self) -> None:
        if tuple(self.axes[-3:]) != GRID_AXES or any(a not in LEADING_AXES for a in self.axes[:-3]):
            raise AttentionDataError(f"axes must be [*{LEADING_AXES} subset, frame, y, x], got {self.axes}")
        if len(self.axes) != len(self.shape):
            raise AttentionDataError(f"axes {self.axes} do not match shape {self.shape}")
        if self.quantity not in QUANTITIES:
            raise AttentionDataError(f"quantity must be one of {QUANTITIES}, got {self.quantity!r}")
        if self.attention_kind is not None and self.attention_kind not in ATTENTION_KINDS:
            raise AttentionDataError(f"attention_kind must be one of {ATTENTION_KINDS}, got {self.attention_kind!r}")
        if self.joint_attention is not None and self.joint_attention not in JOINT_ATTENTION_MODES:
            raise AttentionDataError(
                f"joint_attention must be one of {JOINT_ATTENTION_MODES}, got {self.joint_attention!r}"
            )

    @property
    def word(self) -> str:
        """The marked word this map belongs to (stored under the seed's key ``token_word``)."""
        return self.token_word

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """``(frame, y, x)`` of the stored array."""
        f, y, x = self.shape[-3:]
        return (f, y, x)

    def with_array(self, shape: tuple[int, ...], dtype: str) -> MapMetadata:
        """A copy describing an array of another shape/dtype (same axes)."""
        return dataclasses.replace(self, shape=tuple(shape), dtype=dtype)

    def stamped(self) -> MapMetadata:
        """A copy with ``storage_timestamp`` set to now (UTC, ISO 8601)."""
        return dataclasses.replace(self, storage_timestamp=datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapMetadata:
        """Build from a decoded JSON object; raises :class:`AttentionDataError` when invalid."""
        version = data.get("attention_storage_version")
        if version not in READABLE_STORAGE_VERSIONS:
            raise AttentionDataError(
                f"unsupported attention_storage_version {version!r} (this version reads "
                f"{', '.join(map(str, READABLE_STORAGE_VERSIONS))})"
            )
        try:
            metadata = cls(**_typed({"reduction": {}, **data}, full=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise AttentionDataError(f"malformed metadata: {exc}") from exc
        metadata.check_limits()
        return metadata

    def check_limits(self) -> None:
        """Raise :class:`AttentionDataError` when the shape, dtype or video size break the readers' limits.

        Read metadata is checked (:meth:`from_dict`, :meth:`updated`) before any array it describes is
        allocated; limits: :mod:`attention_visual.storage.schema.limits`.
        """
        check_map_shape(self.shape, self.dtype)
        dims = self.video_dimensions
        check_video_size(dims.width, dims.height, dims.frames)

    def updated(self, changes: dict[str, Any]) -> MapMetadata:
        """``MapMetadata.from_dict({**self.to_dict(), **changes})``, several times faster.

        For reading many maps whose metadata differ in a few fields (the steps of one word): the
        changed fields are decoded as :meth:`from_dict` decodes them and validated the same way.
        """
        if "attention_storage_version" in changes:
            return MapMetadata.from_dict({**self.to_dict(), **changes})
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise AttentionDataError(f"malformed metadata: unexpected fields {sorted(unknown)}")
        try:
            typed = _typed(changes, full=False)
        except (KeyError, TypeError, ValueError) as exc:
            raise AttentionDataError(f"malformed metadata: {exc}") from exc
        # dataclasses.replace() without re-running __init__ over ~40 fields: a copy, the changed fields
        # set, then the same validation (__post_init__). Faster by an order of magnitude.
        new = copy.copy(self)
        for name, value in typed.items():
            object.__setattr__(new, name, value)
        new.__post_init__()
        if not _LIMITED_FIELDS.isdisjoint(typed):
            new.check_limits()
        return new

    @classmethod
    def from_json(cls, text: str) -> MapMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AttentionDataError(f"metadata is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise AttentionDataError("metadata is not a JSON object")
        return cls.from_dict(data)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(MapMetadata))
_LIMITED_FIELDS = frozenset({"shape", "dtype", "video_dimensions"})
_TUPLES = ("shape", "axes", "steps_used", "token_indices", "token_ids", "token_pieces")
_OPTIONAL_TUPLES = ("passes", "blocks", "step_experts", "conditioning_frames", "frame_timesteps")
_PAIRS = ("latent_to_video_frames", "char_spans")


def _typed(data: dict[str, Any], full: bool) -> dict[str, Any]:
    """The keyword arguments of :class:`MapMetadata` from decoded JSON (``full``: absent sequences empty)."""
    kwargs = dict(data)
    if "shape" in data and not isinstance(data["shape"], list | tuple):
        raise AttentionDataError(f"malformed metadata: shape {data['shape']!r} is not a list of lengths")
    if "video_dimensions" in data or full:
        kwargs["video_dimensions"] = VideoDimensions(**data["video_dimensions"])
    if "token_grid" in data or full:
        kwargs["token_grid"] = LatentGrid(**data["token_grid"])
    if "reduction" in data:
        kwargs["reduction"] = Reduction(**data["reduction"])
    for name in _TUPLES:
        if name in data or full:
            kwargs[name] = tuple(data.get(name, ()))
    for name in _OPTIONAL_TUPLES:
        if name in data:
            kwargs[name] = tuple(data[name])
    for name in _PAIRS:
        if name in data or full:
            kwargs[name] = tuple((int(a), int(b)) for a, b in data.get(name, ()))
    return kwargs


__all__ = [
    "ATTENTION_KINDS",
    "ATTENTION_STORAGE_VERSION",
    "GRID_AXES",
    "JOINT_ATTENTION_MODES",
    "LEADING_AXES",
    "PASS_NAMES",
    "QUANTITIES",
    "READABLE_STORAGE_VERSIONS",
    "LatentGrid",
    "MapMetadata",
    "Reduction",
    "TokenGrid",
    "VideoDimensions",
]

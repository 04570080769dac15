"""The torch side of a model family, as types: what the capture core asks of a family's ``runtime`` module.

A family's ``runtime`` module implements :class:`FamilyRuntime` with these values; nothing here imports
torch at run time (the tensors are typed only), so the family data stays importable without it. How the
capture drives it is told in :mod:`attention_visual.families.runtime`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from attention_visual.errors import CaptureError
from attention_visual.families.spec import Variant

if TYPE_CHECKING:  # the runtime modules import torch; this module does not
    import torch
    from torch import nn

#: :attr:`HookPoint.when`: a forward hook (the submodule's output) or a forward pre-hook with kwargs
#: (a :class:`CallArgs` of the call's inputs).
HOOK_MOMENTS = ("output", "call")
#: :attr:`Measure.kind`: the marked words' maps, or the ``<image>`` share.
MEASURE_KINDS = ("words", "image_share")
#: :attr:`AttentionInputs.kind`: which word math runs (``cross``: softmax over the text keys;
#: ``joint``: one softmax over text and video keys, of which ``text_keys`` are the prompt's).
MATH_KINDS = ("cross", "joint")
#: The slot under which a site's measures find :attr:`TransformerCall.facts` of the call in flight.
CALL_FACTS_SLOT = "transformer_call"


@dataclass(frozen=True)
class AttentionSite:
    """One captured attention module: its block index, its name (``blocks.7.attn2``), the module, its heads."""

    index: int
    name: str
    module: nn.Module
    heads: int


@dataclass(frozen=True)
class HookPoint:
    """Where one input of the exact recomputation is read, relative to an :class:`AttentionSite`'s module.

    Attributes:
        slot: The name the value is kept under until the measures that need it have run.
        path: A submodule path (``"norm_q"``); ``""`` is the attention module itself.
        when: ``"output"``: a forward hook, the value is the submodule's output; ``"call"``: a forward
            pre-hook with kwargs, the value is a :class:`CallArgs` (e.g. ``image_rotary_emb``, masks).
    """

    slot: str
    path: str = ""
    when: str = "output"

    def __post_init__(self) -> None:
        if self.when not in HOOK_MOMENTS:
            raise ValueError(f"HookPoint.when must be one of {HOOK_MOMENTS}, got {self.when!r}")


@dataclass(frozen=True)
class CallArgs:
    """The positional and keyword arguments of a module call, as a ``"call"`` hook point saw them."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class Measure:
    """What to compute once the slot ``trigger`` has arrived: ``build(slots)`` gives its inputs.

    ``kind`` ``"words"``: ``build`` returns an :class:`AttentionInputs`; ``"image_share"``: an
    :class:`ImageShareInputs`. A slot missing when ``trigger`` arrives is a :class:`KeyError` that the
    capture reports as a :class:`~attention_visual.errors.CaptureError` naming the block.
    """

    kind: str
    trigger: str
    build: Callable[[Mapping[str, Any]], Any]

    def __post_init__(self) -> None:
        if self.kind not in MEASURE_KINDS:
            raise ValueError(f"Measure.kind must be one of {MEASURE_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Probe:
    """The hook points of every captured site and the measures built from them, in firing order.

    The slots of a site are cleared after the last measure has run (so tensors are not held longer).
    """

    points: tuple[HookPoint, ...]
    measures: tuple[Measure, ...]

    def __post_init__(self) -> None:
        slots = {p.slot for p in self.points}
        missing = [m.trigger for m in self.measures if m.trigger not in slots]
        if missing or not self.measures:
            raise ValueError(f"Probe: measures must be triggered by a hook point's slot, got {missing}")


@dataclass(frozen=True)
class AttentionInputs:
    """One attention call's tensors for the word maps, every batch item (the capture picks the items).

    Layouts, by ``kind``:

    * ``"cross"``: ``query`` ``[batch, video_token, heads * head_dim]`` and ``key``
      ``[batch, text_token, heads * head_dim]``, as the model's q/k projections (after their norms) give
      them; the softmax runs over the text keys.
    * ``"joint"``: ``query`` ``[batch, heads, video_token, head_dim]`` (the video rows only) and ``key``
      ``[batch, heads, key, head_dim]`` (every key of the joint softmax), both after RoPE as the model
      applies it; ``text_keys`` says which keys are the prompt's text tokens.

    Attributes:
        kind: One of :data:`MATH_KINDS`.
        query: The video queries (see above).
        key: The keys (see above).
        text_keys: ``joint``: the prompt's text keys among ``key``'s (a slice; None: all keys are text).
        key_bias: ``[batch, key]`` float added to every query's logits as the model adds it (a mask as
            0 / -10000 or 0 / -inf), or None.
        extras: Anything else a family's math needs (documented by the family).
        key_groups: ``joint``: named groups of keys besides the text keys (``"image"``, ``"glyph"``: slices of
            ``key``), whose share of the whole softmax the pseudo-words ``<image>`` and ``<glyph>`` hold.
    """

    kind: str
    query: torch.Tensor
    key: torch.Tensor
    text_keys: slice | None = None
    key_bias: torch.Tensor | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    key_groups: Mapping[str, slice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in MATH_KINDS:
            raise ValueError(f"AttentionInputs.kind must be one of {MATH_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class ImageShareInputs:
    """The ``<image>`` share's inputs, each ``[batch, token, heads * head_dim]`` (see ``capture.image_share``)."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    key_img: torch.Tensor
    value_img: torch.Tensor


@dataclass(frozen=True)
class TransformerCall:
    """What one transformer call says about the maps it will give.

    Attributes:
        batch: Batch items of the call (one per guidance pass it runs).
        grid: ``(frame, y, x)`` of the video tokens, in the order the measures' queries hold them.
        timestep: The ``timestep`` argument (``[batch]`` or per token), or None.
        drop_leading_frames: Map frames at the front that are no video position (padding latent frames):
            cut off every map of this call.
        conditioning_frames: Map frames (counted after the dropped ones) that this call holds at a lower
            noise level than the step's, i.e. conditioning inputs, as its per-token timesteps say; None: the
            call does not tell (the variant's ``conditioning`` says).
        facts: What the family's measures need to know about the call (e.g. where the prompt's keys lie
            in the joint sequence); handed to them in each site's slots under :data:`CALL_FACTS_SLOT`.
        frame_timesteps: ``[batch, frame]``: the timestep of each map frame (before the dropped ones are
            cut), where the model denoises each latent frame at its own noise level (diffusion forcing);
            None: one timestep for the call.
    """

    batch: int
    grid: tuple[int, int, int]
    timestep: torch.Tensor | None
    drop_leading_frames: int = 0
    conditioning_frames: tuple[int, ...] | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    frame_timesteps: torch.Tensor | None = None

    @classmethod
    def of_patches(
        cls, batch: int, latents: tuple[int, int, int], patch: tuple[int, int], timestep: torch.Tensor | None
    ) -> TransformerCall:
        """A call on ``latents`` ``(frame, height, width)`` cut into patches ``(patch_t, patch)`` (``p_t × p × p``).

        Raises:
            CaptureError: The latent frames do not fill whole temporal patches.
        """
        (frames, height, width), (p_t, p) = latents, patch
        if frames % p_t:
            raise CaptureError(f"{frames} latent frames do not fill temporal patches of {p_t}")
        return cls(batch=int(batch), grid=(frames // p_t, height // p, width // p), timestep=timestep)


class FamilyRuntime(Protocol):
    """The torch side of a family (its ``runtime`` module): the functions the capture core calls."""

    def describe_pipeline(self, pipe: Any) -> Variant:
        """The variant of a loaded pipeline of this family, with that object's facts."""
        ...

    def experts(self, pipe: Any, variant: Variant) -> list[tuple[str | None, nn.Module]]:
        """``(expert label, transformer)`` of each transformer the pipeline may run (label None with one)."""
        ...

    def locate(self, transformer: nn.Module, variant: Variant, block_list: str) -> list[AttentionSite]:
        """Every captured attention of ``transformer.<block_list>``, in block order."""
        ...

    def probe(self, variant: Variant, *, image_map: bool) -> Probe:
        """The hook points and measures of every site."""
        ...

    def read_call(
        self, variant: Variant, transformer: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TransformerCall:
        """Read one transformer call (raise :class:`CaptureError` when it cannot be captured)."""
        ...

    # loading (models.loading.load_pipeline)
    def pipeline_class(self, class_name: str) -> Any:
        """The diffusers class of one of its pipeline class names."""
        ...

    def from_pretrained(
        self, class_name: str, location: str, spec: Any, *, dtype: torch.dtype, local_files_only: bool
    ) -> Any:
        """Load a checkpoint (a local folder or Hub id) as ``class_name``, as the family advises."""
        ...

    def set_flow_shift(self, pipe: Any, flow_shift: float) -> None:
        """Apply ``generation.flow_shift`` (raise :class:`~attention_visual.errors.ConfigError` if meaningless)."""
        ...

    def cast(self, pipe: Any, dtype: torch.dtype) -> None:
        """Put the components in ``dtype`` (or the dtype the family advises for each)."""
        ...

    # optional: ``adapt_call(pipe, variant, kwargs) -> kwargs`` (see runtime.call_arguments): the batch's
    # pipeline-call arguments in the form this family's pipelines take them (where they differ).


__all__ = [
    "CALL_FACTS_SLOT",
    "HOOK_MOMENTS",
    "MATH_KINDS",
    "MEASURE_KINDS",
    "AttentionInputs",
    "AttentionSite",
    "CallArgs",
    "FamilyRuntime",
    "HookPoint",
    "ImageShareInputs",
    "Measure",
    "Probe",
    "TransformerCall",
]

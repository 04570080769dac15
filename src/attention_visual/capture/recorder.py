"""Per-pass accumulation of word maps during a generation, copied to the host once per step.

:class:`CaptureRecorder` is driven by the hooks of :mod:`.hooks`: ``begin`` when the transformer
starts a call (the pass clock says which guidance passes, as batch items, and which step it is; the
family says the video-token grid), ``on_slot`` for every tensor a hook point of a captured attention
module delivers (the family's measures turn them into the word math's inputs), ``end`` when the call
finishes. A call may carry several guidance passes (batched guidance): each captured pass reads its
own batch item and has its own accumulator. All reductions over heads and blocks happen on the
model's device; one small array per captured pass and step reaches the host.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from attention_visual.capture.attention_math import WordColumns, padding_rows_identical, trailing_run_start
from attention_visual.capture.image_share import image_share
from attention_visual.capture.settings import CaptureSettings
from attention_visual.capture.steps import PassInfo
from attention_visual.capture.word_math import WORD_MATH, WordQuery
from attention_visual.errors import CaptureError
from attention_visual.families.interface import (
    CALL_FACTS_SLOT,
    AttentionInputs,
    ImageShareInputs,
    Probe,
    TransformerCall,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepRecord:
    """The maps of one guidance pass of one denoising step."""

    pass_name: str
    step_index: int
    num_steps: int | None
    timestep: float | None
    sigma: float | None
    array: np.ndarray  # [map, block_or_1, head_or_1, frame, y, x]: the words, then <text>, then <image>
    expert: str | None = None  # the expert's label with two experts ("high_noise" | "low_noise")
    frame_timesteps: tuple[float, ...] = ()  # [frame]: each map frame's timestep (diffusion forcing), else ()


@dataclass
class _Pass:
    """One captured guidance pass of the call in flight: its batch item and accumulator."""

    name: str
    item: int  # batch item of the call
    num_real_keys: int | None
    acc: torch.Tensor | None = None  # [map, block_or_1, head_or_1, video_token] float32
    padding_ok: torch.Tensor | None = None  # 0-d bool on the device: every block's padding rows were identical


@dataclass
class _Call:
    """State of the transformer call in flight."""

    info: PassInfo
    expert: str | None
    grid: tuple[int, int, int]  # (frame, y, x) of the video tokens
    drop_frames: int  # leading map frames that are no video position
    passes: list[_Pass]
    frame_timesteps: torch.Tensor | None  # [batch, frame] per map frame (diffusion forcing), else None
    facts: Any = None  # the family's facts about the call (TransformerCall.facts), in every site's slots
    slots: dict[int, dict[str, Any]] = field(default_factory=dict)  # block -> hook point slot -> value
    blocks_seen: int = 0


class CaptureRecorder:
    """Turns hook events into :class:`StepRecord` s.

    Args:
        settings: what to record.
        words: the marked words' text-token columns.
        heads: attention heads per block.
        block_positions: ``{block index: position}`` of the captured blocks.
        probe: the family's hook points and measures (which slot completes which measure).
        text_padding: how the model's padding text keys behave (the family's ``text.padding``):
            ``identical_rows`` are checked and folded exactly; the words' columns in the padding (the
            uncond pass) stand for the one padding key.
    """

    def __init__(
        self,
        settings: CaptureSettings,
        words: WordColumns,
        heads: int,
        block_positions: dict[int, int],
        probe: Probe,
        *,
        text_padding: str,
    ) -> None:
        self.settings = settings
        self.words = words
        self.heads = heads
        self.block_positions = block_positions
        self.text_padding = text_padding
        self.identical_padding = text_padding == "identical_rows"
        self.records: list[StepRecord] = []
        #: real (non-pad) text tokens of each pass, learnt from the text encoder's inputs
        self.num_real_keys: dict[str, int] = {}
        self._call: _Call | None = None
        #: map frames the calls' per-token timesteps showed as conditioning inputs (None: no call told)
        self.conditioning_frames: set[int] | None = None
        #: map frames (after the dropped ones) of the last transformer call, captured or not: the run's final grid
        self.last_frames: int | None = None
        self._done: set[tuple[str, int]] = set()
        self._columns: dict[tuple[torch.device, tuple[int, ...]], torch.Tensor] = {}  # [T] word columns
        self._triggers = {m.trigger: m for m in probe.measures}
        self._last_trigger = probe.measures[-1].trigger
        self._text_row = len(words.bounds)  # <text> (text_share_map), <image> (image_map), <glyph> (glyph_map)
        self._image_row = self._text_row + int(settings.text_share_map)
        self._glyph_row = self._image_row + int(settings.image_map)

    @property
    def num_maps(self) -> int:
        """Maps per record: the words, then ``<text>``, ``<image>``, ``<glyph>`` as the settings ask."""
        return len(self.words.bounds) + len(self.settings.pseudo_words)

    # -- transformer call -------------------------------------------------------------------------
    def begin(self, info: PassInfo, expert: str | None, call: TransformerCall) -> None:
        """A transformer call starts: ``info`` from the pass clock, ``call`` read by the family."""
        self._call = None
        if call.batch != len(info.items):
            raise CaptureError(
                f"AttentionCapture records one video per pipeline call, got a batch of {call.batch} for "
                f"{len(info.items)} guidance pass(es) (a list of prompts or num_videos_per_prompt > 1); "
                "call the pipeline once per video"
            )
        if call.conditioning_frames is not None:
            self.conditioning_frames = (self.conditioning_frames or set()) | set(call.conditioning_frames)
        self.last_frames = call.grid[0] - call.drop_leading_frames
        step_index = info.step_index
        if not self.settings.captures_step(step_index):
            return
        wanted = [(name, item) for name, item in info.items if name in self.settings.passes]
        if not wanted:
            return
        for name, _ in wanted:
            if (name, step_index) in self._done:
                raise CaptureError(
                    f"step {step_index} ({name} pass) was already captured: use a new AttentionCapture "
                    "for every pipeline call"
                )
        s = self.settings.spatial_downsample_factor
        _, y, x = call.grid
        if y % s or x % s:
            raise CaptureError(f"spatial_downsample_factor {s} does not divide the token grid {y}x{x} (y x x)")
        passes = [_Pass(name, item, self.num_real_keys.get(name)) for name, item in wanted]
        self._call = _Call(info, expert, call.grid, call.drop_leading_frames, passes, call.frame_timesteps, call.facts)

    def end(self) -> None:
        """The transformer call finished: reduce, copy to the host once per pass, and record."""
        current, self._call = self._call, None
        if current is None:
            return
        if current.blocks_seen and current.blocks_seen != len(self.block_positions):
            log.warning(
                "step %d: %d of %d captured blocks ran",
                current.info.step_index,
                current.blocks_seen,
                len(self.block_positions),
            )
        for p in current.passes:
            if p.acc is not None:
                self._record(current, p)

    def _record(self, current: _Call, p: _Pass) -> None:
        info = current.info
        if p.padding_ok is not None and not bool(p.padding_ok.item()):
            raise CaptureError(
                f"step {info.step_index}: the text keys after the {p.num_real_keys} real tokens are not "
                "identical padding rows (custom prompt_embeds?); the padding fold would not be exact"
            )
        acc = p.acc  # [map, block_or_1, head_or_1, video_token]
        assert acc is not None
        if not self.settings.store_per_block:
            acc = acc / current.blocks_seen
        f, y, x = current.grid
        maps = acc.reshape(*acc.shape[:3], f, y, x)  # [map, block, head, frame, y, x]
        if current.drop_frames:
            maps = maps[:, :, :, current.drop_frames :]
        s = self.settings.spatial_downsample_factor
        if s > 1:
            lead = maps.shape[:4]
            maps = F.avg_pool2d(maps.reshape(-1, y, x), kernel_size=s).reshape(*lead, y // s, x // s)
        dtype = torch.float16 if self.settings.storage_dtype == "float16" else torch.float32
        host = maps.to(device="cpu", dtype=dtype).numpy()
        per_frame = current.frame_timesteps
        frame_timesteps = () if per_frame is None else tuple(per_frame[p.item, current.drop_frames :].tolist())
        self.records.append(
            StepRecord(
                p.name, info.step_index, info.num_steps, info.timestep, info.sigma, host, current.expert,
                tuple(float(t) for t in frame_timesteps),
            )
        )  # fmt: skip
        self._done.add((p.name, info.step_index))

    # -- attention calls ----------------------------------------------------------------------------
    def wants(self, block_index: int) -> bool:
        return self._call is not None and block_index in self.block_positions

    def on_slot(self, block_index: int, slot: str, value: Any) -> None:
        """A hook point of block ``block_index`` delivered ``value``; run the measure it completes."""
        current = self._call
        if current is None:
            return
        slots = current.slots.get(block_index)
        if slots is None:
            slots = current.slots[block_index] = {CALL_FACTS_SLOT: current.facts}
        slots[slot] = value
        measure = self._triggers.get(slot)
        if measure is None:
            return
        if slot == self._last_trigger:
            del current.slots[block_index]  # the tensors are not held past the block's last measure
        try:
            inputs = measure.build(slots)
        except KeyError as missing:
            raise CaptureError(
                f"block {block_index}: the {measure.kind} measure ran without its input {missing} (a fused or "
                "custom attention processor?)"
            ) from None
        with torch.no_grad():
            if measure.kind == "words":
                self._words(current, block_index, inputs)
            else:
                self._image_share(current, block_index, inputs)

    def _key_shares(self, inputs: AttentionInputs) -> tuple[tuple[tuple[int, int], ...], list[int]]:
        """The key groups whose shares the word math appends (``<image>`` from image keys, ``<glyph>``), and
        the accumulator row of every map the math returns (the words, ``<text>``, then those shares)."""
        n_keys = inputs.key.shape[-2]
        st = self.settings
        rows = list(range(len(self.words.bounds))) + ([self._text_row] if st.text_share_map else [])
        shares: list[tuple[int, int]] = []
        for group, wanted, row in (("image", st.image_map, self._image_row), ("glyph", st.glyph_map, self._glyph_row)):
            where = inputs.key_groups.get(group)
            if wanted and where is not None:
                start, stop, _ = where.indices(n_keys)
                shares.append((start, stop))
                rows.append(row)
            elif wanted and group == "glyph":
                raise CaptureError("glyph_map: this model's attention has no glyph keys")
        return tuple(shares), rows

    def _words(self, current: _Call, block_index: int, inputs: AttentionInputs) -> None:
        math = WORD_MATH.get(inputs.kind)
        if math is None:
            raise CaptureError(f"no word math for attention of kind {inputs.kind!r}")
        shares, map_rows = self._key_shares(inputs)
        for p in current.passes:
            key = inputs.key[p.item]
            text = key if inputs.kind == "cross" or inputs.text_keys is None else key[..., inputs.text_keys, :]
            n_keys = text.shape[-2]
            real = p.num_real_keys
            if self.identical_padding:
                rows = text if inputs.kind == "cross" else text.transpose(0, 1).flatten(1)  # [text_token, C]
                if real is None:  # prompt_embeds were given: find the padding on the data (synchronises)
                    run = trailing_run_start(rows)
                    real = run if n_keys - run > 1 else n_keys
                elif self.settings.padding != "exclude":
                    ok = padding_rows_identical(rows, real)
                    p.padding_ok = ok if p.padding_ok is None else p.padding_ok & ok
            real = n_keys if real is None else min(real, n_keys)
            if p.name == "cond" and self.words.columns and max(self.words.columns) >= real:
                raise CaptureError(
                    f"the marked words' tokens reach position {max(self.words.columns)} but the text has only "
                    f"{real} real tokens: was the pipeline called with capture.prompt and the same "
                    "max_sequence_length?"
                )
            if not map_rows:
                continue
            bias = inputs.key_bias[p.item] if inputs.key_bias is not None else None
            query = WordQuery(
                inputs.query[p.item], key, self.heads,
                self._word_columns(key.device, real if self.identical_padding else None), self.words.bounds,
                real, self.settings, inputs.text_keys, bias, inputs.extras,
                text_padding=self.text_padding, key_shares=shares,
            )  # fmt: skip
            probs = math(query)  # [head, map, video_token]
            if not self.settings.store_per_head:
                probs = probs.mean(dim=0, keepdim=True)
            self._accumulate(current, p, block_index, _rows(map_rows), probs.transpose(0, 1))
        current.blocks_seen += 1

    def _word_columns(self, device: torch.device, real: int | None) -> torch.Tensor:
        """``[T]`` the words' columns on ``device``. In the uncond pass they may fall in the negative
        prompt's padding: identical padding rows are one key (column ``real``); otherwise (``real`` None)
        each padding key is a key of its own and the columns stay as they are."""
        clamped = self.words.columns if real is None else tuple(min(c, real) for c in self.words.columns)
        columns = self._columns.get((device, clamped))
        if columns is None:
            columns = torch.tensor(clamped, dtype=torch.long, device=device)
            self._columns[(device, clamped)] = columns
        return columns

    def _image_share(self, current: _Call, block_index: int, inputs: ImageShareInputs) -> None:
        for p in current.passes:
            i = p.item
            share = image_share(
                inputs.query[i], inputs.key[i], inputs.value[i], inputs.key_img[i], inputs.value_img[i], self.heads,
                per_head=self.settings.store_per_head, chunk_size=self.settings.query_chunk_size,
            )  # fmt: skip  # [head_or_1, video_token]
            self._accumulate(current, p, block_index, slice(self._image_row, self._image_row + 1), share[None])

    def _accumulate(
        self, current: _Call, p: _Pass, block_index: int, rows: slice | list[int], maps: torch.Tensor
    ) -> None:
        """Add ``maps`` (``[map, head_or_1, video_token]``) to rows ``rows`` of the pass's accumulator."""
        if p.acc is None:
            n_blocks = len(self.block_positions) if self.settings.store_per_block else 1
            p.acc = torch.zeros(
                self.num_maps, n_blocks, *maps.shape[1:], dtype=torch.float32, device=maps.device
            )  # [map, block_or_1, head_or_1, video_token]
        if self.settings.store_per_block:
            p.acc[rows, self.block_positions[block_index]] = maps
        else:
            p.acc[rows, 0] += maps


def _rows(rows: list[int]) -> slice | list[int]:
    """Accumulator rows as a slice when they are consecutive (a view), else the list (an index)."""
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return slice(rows[0], rows[0] + len(rows))
    return rows


def reconcile_grids(records: list[StepRecord], keeps: tuple[int, ...], final_frames: int | None) -> list[StepRecord]:
    """The records on the run's final grid, where the pipeline dropped latent frames during the run.

    A pipeline that drops latent frames after some steps (e.g. temporal-reasoning frames) ends on
    ``final_frames`` map frames; each earlier record keeps the frames ``keeps`` names (indices into its own
    frames, negative from the end: ``(0, -1)`` keeps the first and the last), so every step has the same
    ``[frame, y, x]`` grid and each kept frame is the same latent frame the later steps hold.

    Raises:
        CaptureError: The grid changed and the variant names no frames to keep (``keeps`` empty), or it
            grew, or ``keeps`` does not give the final grid's frame count.
    """
    frames = sorted({r.array.shape[-3] for r in records})
    if final_frames is None or frames in ([], [final_frames]):
        return records
    if not keeps or len(keeps) != final_frames or frames[0] < final_frames:
        raise CaptureError(
            f"the latent grid changed during the run (map frames {frames}, last {final_frames}): this pipeline's "
            "steps cannot be stacked; use a new AttentionCapture for every pipeline call"
        )
    out = []
    for r in records:
        n = r.array.shape[-3]
        if n == final_frames:
            out.append(r)
            continue
        kept = [k % n for k in keeps]
        timesteps = tuple(r.frame_timesteps[i] for i in kept) if r.frame_timesteps else ()
        out.append(dataclasses.replace(r, array=r.array[..., kept, :, :], frame_timesteps=timesteps))
    return out


__all__ = ["CaptureRecorder", "StepRecord", "reconcile_grids"]

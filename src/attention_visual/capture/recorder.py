"""Per-pass accumulation of word maps during a generation, copied to the host once per step.

:class:`CaptureRecorder` is driven by the hooks of :mod:`.hooks`: ``begin`` when the transformer
starts a pass (the pipeline's cache context says which pass and step), ``on_query``/``on_key``
for every captured ``attn2`` call, ``end`` when the pass finishes. All reductions over heads and
blocks happen on the model's device; one small array per captured pass and step reaches the host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from attention_visual.capture.attention_math import (
    WordColumns,
    padding_rows_identical,
    trailing_run_start,
    word_attention,
)
from attention_visual.capture.image_share import image_share
from attention_visual.capture.settings import CaptureSettings
from attention_visual.capture.steps import PassInfo
from attention_visual.errors import CaptureError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepRecord:
    """The maps of one guidance pass of one denoising step."""

    pass_name: str
    step_index: int
    num_steps: int | None
    timestep: float | None
    sigma: float | None
    array: np.ndarray  # [word, block_or_1, head_or_1, frame, y, x]; with image_map the last "word" is <image>
    expert: str | None = None  # "high_noise" | "low_noise" with two experts


@dataclass
class _Pass:
    """State of the transformer pass in flight."""

    name: str
    step_index: int
    num_steps: int | None
    timestep: float | None
    sigma: float | None
    expert: str | None
    grid: tuple[int, int, int]  # (frame, y, x) of the video tokens
    num_real_keys: int | None
    query: dict[int, torch.Tensor] = field(default_factory=dict)  # block -> [video_token, width]
    # image branch (image_map): block -> [text_token, width] / [image_token, width]
    key: dict[int, torch.Tensor] = field(default_factory=dict)
    value: dict[int, torch.Tensor] = field(default_factory=dict)
    value_img: dict[int, torch.Tensor] = field(default_factory=dict)
    acc: torch.Tensor | None = None  # [word(+image), block_or_1, head_or_1, video_token] float32
    padding_ok: torch.Tensor | None = None  # 0-d bool on the device: every block's padding rows were identical
    blocks_seen: int = 0


class CaptureRecorder:
    """Turns hook events into :class:`StepRecord` s.

    Args:
        settings: what to record.
        words: the marked words' text-token columns.
        heads: attention heads per block.
        block_positions: ``{block index: position}`` of the captured blocks.
        patch_size: the transformer's ``(t, h, w)`` patch size.
    """

    def __init__(
        self,
        settings: CaptureSettings,
        words: WordColumns,
        heads: int,
        block_positions: dict[int, int],
        patch_size: tuple[int, int, int],
    ) -> None:
        self.settings = settings
        self.words = words
        self.heads = heads
        self.block_positions = block_positions
        self.patch_size = patch_size
        self.records: list[StepRecord] = []
        #: real (non-pad) text tokens of each pass, learnt from the text encoder's inputs
        self.num_real_keys: dict[str, int] = {}
        self._pass: _Pass | None = None
        self._done: set[tuple[str, int]] = set()
        self._columns: dict[tuple[torch.device, tuple[int, ...]], torch.Tensor] = {}  # [T] word columns

    @property
    def num_maps(self) -> int:
        """Maps per record: the words, plus ``<image>`` with ``image_map``."""
        return len(self.words.bounds) + int(self.settings.image_map)

    # -- transformer pass -------------------------------------------------------------------------
    def begin(self, info: PassInfo, expert: str | None, hidden_states: torch.Tensor) -> None:
        """A transformer pass starts. ``hidden_states``: ``[batch, channel, frame, height, width]`` latents."""
        self._pass = None
        pass_name, step_index = info.name, info.step_index
        if hidden_states.shape[0] != 1:
            raise CaptureError(
                f"AttentionCapture records one video per pipeline call, got a batch of {hidden_states.shape[0]} "
                "(a list of prompts or num_videos_per_prompt > 1); call the pipeline once per video"
            )
        if pass_name not in self.settings.passes or not self.settings.captures_step(step_index):
            return
        if (pass_name, step_index) in self._done:
            raise CaptureError(
                f"step {step_index} ({pass_name} pass) was already captured: use a new AttentionCapture "
                "for every pipeline call"
            )
        pt, ph, pw = self.patch_size
        _, _, frames, height, width = hidden_states.shape
        grid = (frames // pt, height // ph, width // pw)
        s = self.settings.spatial_downsample_factor
        if grid[1] % s or grid[2] % s:
            raise CaptureError(
                f"spatial_downsample_factor {s} does not divide the token grid {grid[1]}x{grid[2]} (y x x)"
            )
        self._pass = _Pass(
            pass_name, step_index, info.num_steps, info.timestep, info.sigma, expert, grid,
            self.num_real_keys.get(pass_name),
        )  # fmt: skip

    def end(self) -> None:
        """The transformer pass finished: reduce, copy to the host once, and record."""
        current, self._pass = self._pass, None
        if current is None or current.acc is None:
            return
        if current.blocks_seen != len(self.block_positions):
            log.warning(
                "step %d: %d of %d captured blocks ran",
                current.step_index,
                current.blocks_seen,
                len(self.block_positions),
            )
        if current.padding_ok is not None and not bool(current.padding_ok.item()):
            raise CaptureError(
                f"step {current.step_index}: the text keys after the {current.num_real_keys} real tokens are not "
                "identical padding rows (custom prompt_embeds?); the padding fold would not be exact"
            )
        acc = current.acc  # [word, block_or_1, head_or_1, video_token]
        if not self.settings.store_per_block:
            acc = acc / current.blocks_seen
        f, y, x = current.grid
        maps = acc.reshape(*acc.shape[:3], f, y, x)  # [word, block, head, frame, y, x]
        s = self.settings.spatial_downsample_factor
        if s > 1:
            lead = maps.shape[:4]
            maps = F.avg_pool2d(maps.reshape(-1, y, x), kernel_size=s).reshape(*lead, y // s, x // s)
        dtype = torch.float16 if self.settings.storage_dtype == "float16" else torch.float32
        host = maps.to(device="cpu", dtype=dtype).numpy()
        self.records.append(
            StepRecord(
                current.name, current.step_index, current.num_steps, current.timestep, current.sigma, host,
                current.expert,
            )
        )  # fmt: skip
        self._done.add((current.name, current.step_index))

    # -- attn2 calls --------------------------------------------------------------------------------
    def wants(self, block_index: int) -> bool:
        return self._pass is not None and block_index in self.block_positions

    def on_query(self, block_index: int, query: torch.Tensor) -> None:
        """``query``: ``[batch, video_token, heads * head_dim]``, the output of ``attn2.norm_q``."""
        if self._pass is not None:
            self._pass.query[block_index] = query

    def on_key(self, block_index: int, key: torch.Tensor) -> None:
        """``key``: ``[batch, text_token, heads * head_dim]``, the output of ``attn2.norm_k``."""
        current = self._pass
        if current is None or block_index not in current.query:
            return
        query = current.query[block_index] if self.settings.image_map else current.query.pop(block_index)
        if self.settings.image_map:
            current.key[block_index] = key
        n_keys = key.shape[1]
        real = current.num_real_keys
        if real is None:  # prompt_embeds were given: find the padding on the data (synchronises)
            run = trailing_run_start(key[0])
            real = run if n_keys - run > 1 else n_keys
        elif self.settings.padding != "exclude":
            ok = padding_rows_identical(key[0], real)
            current.padding_ok = ok if current.padding_ok is None else current.padding_ok & ok
        real = min(real, n_keys)
        if current.name == "cond" and self.words.columns and max(self.words.columns) >= real:
            raise CaptureError(
                f"the marked words' tokens reach position {max(self.words.columns)} but the text has only "
                f"{real} real tokens: was the pipeline called with capture.prompt and the same "
                "max_sequence_length?"
            )
        # In the uncond pass the words' positions may fall in the negative prompt's padding.
        clamped = tuple(min(c, real) for c in self.words.columns)
        columns = self._columns.get((key.device, clamped))
        if columns is None:
            columns = torch.tensor(clamped, dtype=torch.long, device=key.device)
            self._columns[(key.device, clamped)] = columns
        if self.words.bounds:
            with torch.no_grad():
                probs = word_attention(
                    query[0],
                    key[0],
                    self.heads,
                    columns,
                    self.words.bounds,
                    num_real_keys=real,
                    token_reduction=self.settings.token_reduction,
                    renormalise=self.settings.padding == "exclude",
                    chunk_size=self.settings.query_chunk_size,
                )  # [head, word, video_token]
                if not self.settings.store_per_head:
                    probs = probs.mean(dim=0, keepdim=True)
                self._accumulate(current, block_index, slice(0, len(self.words.bounds)), probs.transpose(0, 1))
        current.blocks_seen += 1

    def on_value(self, block_index: int, value: torch.Tensor) -> None:
        """``value``: ``[batch, text_token, width]``, the output of ``attn2.to_v`` (image_map only)."""
        if self._pass is not None:
            self._pass.value[block_index] = value

    def on_image_value(self, block_index: int, value: torch.Tensor) -> None:
        """``value``: ``[batch, image_token, width]``, the output of ``attn2.add_v_proj`` (image_map only)."""
        if self._pass is not None:
            self._pass.value_img[block_index] = value

    def on_image_key(self, block_index: int, key_img: torch.Tensor) -> None:
        """``key_img``: ``[batch, image_token, width]``, of ``attn2.norm_added_k``: the last input of the share."""
        current = self._pass
        if current is None:
            return
        try:
            query, key = current.query.pop(block_index), current.key.pop(block_index)
            value, value_img = current.value.pop(block_index), current.value_img.pop(block_index)
        except KeyError:
            raise CaptureError(
                f"block {block_index}: the image branch ran without the text branch's q, k, v "
                "(fused projections are not supported with image_map)"
            ) from None
        with torch.no_grad():
            share = image_share(
                query[0], key[0], value[0], key_img[0], value_img[0], self.heads,
                per_head=self.settings.store_per_head, chunk_size=self.settings.query_chunk_size,
            )  # fmt: skip  # [head_or_1, video_token]
            n = len(self.words.bounds)
            self._accumulate(current, block_index, slice(n, n + 1), share[None])

    def _accumulate(self, current: _Pass, block_index: int, rows: slice, maps: torch.Tensor) -> None:
        """Add ``maps`` (``[map, head_or_1, video_token]``) to rows ``rows`` of the pass's accumulator."""
        if current.acc is None:
            n_blocks = len(self.block_positions) if self.settings.store_per_block else 1
            current.acc = torch.zeros(
                self.num_maps, n_blocks, *maps.shape[1:], dtype=torch.float32, device=maps.device
            )  # [map, block_or_1, head_or_1, video_token]
        if self.settings.store_per_block:
            current.acc[rows, self.block_positions[block_index]] = maps
        else:
            current.acc[rows, 0] += maps


__all__ = ["CaptureRecorder", "StepRecord"]

"""The word math of each attention kind: from one batch item's q and k to the marked words' maps.

The recorder (:mod:`.recorder`) picks the batch item of each captured guidance pass, works out the real
text keys and the words' columns, and hands a :class:`WordQuery` to ``WORD_MATH[kind]``, where ``kind``
is what the family's measure says (:class:`~attention_visual.families.interface.AttentionInputs`):

* ``"cross"`` (:func:`cross_word_maps`): a softmax over the text keys only
  (:func:`~.attention_math.word_attention`; padding keys that are identical rows folded exactly).

* ``"joint"`` (:func:`joint_word_maps`): one softmax over text and video keys
  (:func:`~.joint_math.joint_word_attention`): ``settings.joint_attention`` says whether a map is
  renormalised over the text keys (``text``) or the share of the whole softmax (``full``);
  ``settings.text_share_map`` adds ``<text>``, ``key_shares`` the shares of further key groups (``<image>``,
  ``<glyph>``); ``text_keys``, the groups and ``key_bias`` come from the family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from attention_visual.capture.attention_math import word_attention
from attention_visual.capture.joint_math import joint_word_attention
from attention_visual.capture.settings import CaptureSettings
from attention_visual.errors import CaptureError


@dataclass(frozen=True)
class WordQuery:
    """One batch item of one attention call, as the word math needs it.

    Attributes:
        query: The video queries of the item; layout by kind (``cross``: ``[video_token, heads * head_dim]``;
            ``joint``: ``[heads, video_token, head_dim]``).
        key: The keys of the item (``cross``: ``[text_token, heads * head_dim]``; ``joint``:
            ``[heads, key, head_dim]``).
        heads: Attention heads.
        columns: ``[T]`` long, on the key's device: the marked words' text-key columns (positions among the
            text keys), concatenated. Where the padding keys are identical rows a column in the padding
            (the uncond pass) is clamped to ``num_real_keys``, the one padding key; otherwise it is the
            key's own position (the math decides what an excluded key counts: 0).
        bounds: ``(start, end)`` into ``columns`` for each word.
        num_real_keys: The prompt's real text keys (the rest is padding).
        settings: The capture's settings (token reduction, padding, joint attention, chunk size).
        text_keys: ``joint``: the prompt's text keys among ``key``'s (None: all keys are text).
        key_bias: ``[key]`` float the model adds to the logits (a mask), or None.
        extras: What a family's math needs besides (documented by the family).
        text_padding: How the model's padding keys behave (the family's ``text.padding``:
            ``identical_rows`` | ``masked`` | ``attended``).
        key_shares: ``joint``: ``(start, stop)`` of further key groups whose share of the whole softmax is
            appended after the words (and ``<text>``), one map each.
    """

    query: torch.Tensor
    key: torch.Tensor
    heads: int
    columns: torch.Tensor
    bounds: tuple[tuple[int, int], ...]
    num_real_keys: int
    settings: CaptureSettings
    text_keys: slice | None = None
    key_bias: torch.Tensor | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    text_padding: str = "attended"
    key_shares: tuple[tuple[int, int], ...] = ()


WordMath = Callable[[WordQuery], torch.Tensor]
"""``[head, map, video_token]`` float32: the words' maps, then ``<text>`` with ``text_share_map``, then the
``key_shares``."""


def cross_word_maps(q: WordQuery) -> torch.Tensor:
    """Cross-attention: the softmax over the text keys, padding as the model computes it (or excluded).

    ``identical_rows`` padding is folded into one key (exact); ``attended`` padding keys are distinct keys
    of the softmax (``padding: include``) or left out (``exclude``: renormalised over the real ones);
    ``masked`` padding keys (a ``key_bias`` from the family's measure, e.g. LTX-Video's 0 / -10000) are keys
    whose logits get the model's bias, so they get what the model gives them (exactly 0 for -10000).
    """
    if q.key_shares:
        raise CaptureError("the cross-attention math takes no key groups; this model's measure gave some")
    exclude = q.settings.padding == "exclude"
    n_keys = q.key.shape[0]
    real = q.num_real_keys if exclude or q.text_padding == "identical_rows" else n_keys
    # excluded: a column in the padding is the one extra column word_attention gives the left-out keys (0)
    columns = q.columns.clamp(max=real) if exclude and q.text_padding != "identical_rows" else q.columns
    return word_attention(
        q.query,
        q.key,
        q.heads,
        columns,
        q.bounds,
        num_real_keys=real,
        token_reduction=q.settings.token_reduction,
        renormalise=exclude,
        chunk_size=q.settings.query_chunk_size,
        key_bias=q.key_bias,
    )  # [head, word, video_token]


def joint_word_maps(q: WordQuery) -> torch.Tensor:
    """Joint attention: the words' share of the text keys (or of all keys), then ``<text>`` when asked.

    The text keys are ``q.text_keys`` (all keys when None); with ``padding: exclude`` only their first
    ``num_real_keys`` (the prompt's real tokens, end-of-sequence included) count as text: ``text``
    renormalises over those and ``<text>`` sums over those, ``full`` stays the model's softmax over every
    key, and a word's tokens that lie in the left-out padding (the uncond pass) count 0 in every mode.
    Where the model masks its padding keys (``text_padding`` ``masked``), those get probability 0 anyway:
    they are left out too, which gives the same numbers for less work.
    """
    n_keys = q.key.shape[-2]
    start, stop, _ = (q.text_keys or slice(0, n_keys)).indices(n_keys)
    if q.settings.padding == "exclude" or q.text_padding == "masked":
        # masked: the model's mask gives the keys after the real tokens probability exactly 0, in every
        # mode, so leaving them out changes no number and saves their logits (HunyuanVideo: ~20 of 256)
        stop = min(stop, start + q.num_real_keys)
    return joint_word_attention(
        q.query,
        q.key,
        (start, stop),
        q.columns,
        q.bounds,
        key_bias=q.key_bias,
        mode=q.settings.joint_attention,
        text_share=q.settings.text_share_map,
        key_shares=q.key_shares,
        token_reduction=q.settings.token_reduction,
        chunk_size=q.settings.query_chunk_size,
    )  # [head, word (+ <text>) (+ key shares), video_token]


WORD_MATH: dict[str, WordMath] = {"cross": cross_word_maps, "joint": joint_word_maps}
"""The word math of each :class:`~attention_visual.families.interface.AttentionInputs` kind."""

__all__ = ["WORD_MATH", "WordMath", "WordQuery", "cross_word_maps", "joint_word_maps"]

"""A tiny Gemma tokenizer, built in memory from a small vocabulary (no files, no network).

:func:`build_tiny_gemma_tokenizer` makes a ``transformers.GemmaTokenizer`` (the tokenizers-backed BPE
tokenizer of Gemma-3, with byte fallback) laid out like Gemma's: ``<pad>`` = 0, ``<eos>`` = 1, ``<bos>`` = 2,
``<unk>`` = 3, ``<mask>`` = 4, the 256 byte pieces ``<0x00>`` … ``<0xFF>``, then

* every ASCII letter and digit, common punctuation and the bare ``▁`` (Gemma writes a space as ``▁`` and
  splits nothing before the BPE, so a piece's ``▁`` is the space in front of it);
* the words and word pieces of the tiny T5 tokenizer (:mod:`.tiny_tokenizer`): ``▁``-prefixed whole words,
  word starts (``▁flow``, ``▁walk``) and continuations (``ers``, ``ing``), each reached by a chain of merges
  that makes every prefix a piece (whole words first, then word starts, then continuations), so some words
  become several pieces (``flowers`` → ``▁flow`` + ``ers``), which the word → token mapping must handle; any
  other text falls back to letters or bytes, never ``<unk>``.

As Gemma's, it adds ``<bos>`` in front of every text and no ``<eos>``, and pads on the **left** (the LTX-2
pipelines set that too). ``return_offsets_mapping=True`` gives character spans of the original text.
It needs ``transformers`` only.

Example:
    >>> tok = build_tiny_gemma_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("a kiss with flowers").input_ids)
    ['<bos>', 'a', '▁kiss', '▁with', '▁flow', 'ers']
    >>> tok.padding_side, tok.pad_token_id, tok.bos_token_id
    ('left', 0, 2)
"""

from __future__ import annotations

import string

from transformers import SPIECE_UNDERLINE
from transformers.models.gemma.tokenization_gemma import GemmaTokenizer

from attention_visual.errors import ConfigError
from attention_visual.models.tiny_tokenizer import CONTINUATIONS, PUNCTUATION, WHOLE_WORDS, WORD_STARTS

_SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")


def tiny_gemma_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The tiny Gemma tokenizer's ``(vocabulary, merges)``: pieces in id order, merges in priority order."""
    vocab: dict[str, int] = {}
    merges: list[tuple[str, str]] = []

    def add(piece: str) -> None:
        vocab.setdefault(piece, len(vocab))

    def chain(piece: str) -> None:
        """Merges that build ``piece`` left to right, one character at a time (every prefix a piece)."""
        built = piece[0]
        for char in piece[1:]:
            if built + char not in vocab:
                merges.append((built, char))
                add(built + char)
            built += char

    for piece in _SPECIALS:
        add(piece)
    for byte in range(256):
        add(f"<0x{byte:02X}>")
    for char in (SPIECE_UNDERLINE, *string.ascii_letters, *string.digits, *PUNCTUATION):
        add(char)
    for word in WHOLE_WORDS:
        chain(SPIECE_UNDERLINE + word)
    for start in WORD_STARTS:
        chain(SPIECE_UNDERLINE + start)
    for continuation in CONTINUATIONS:
        chain(continuation)
    return vocab, merges


def build_tiny_gemma_tokenizer(model_max_length: int = 4096) -> GemmaTokenizer:
    """Build the tiny Gemma tokenizer (see the module docstring).

    Args:
        model_max_length: The tokenizer's ``model_max_length`` (the pipelines pad to ``max_sequence_length``).

    Returns:
        A fast ``GemmaTokenizer`` with ``<pad>`` = 0, ``<eos>`` = 1, ``<bos>`` = 2, ``<unk>`` = 3 that adds
        ``<bos>`` to every text and pads on the left.
    """
    vocab, merges = tiny_gemma_vocab()
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]  # tokenizers' BPE takes pairs; transformers annotates strings
        add_bos_token=True,
        add_eos_token=False,
        model_max_length=model_max_length,
    )
    ids = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id)
    if ids != (0, 1, 2, 3) or tokenizer.padding_side != "left":  # pragma: no cover - guards a transformers change
        raise ConfigError(f"tiny Gemma tokenizer: expected <pad>, <eos>, <bos>, <unk> = 0..3 padded left, got {ids}")
    return tokenizer


__all__ = ["build_tiny_gemma_tokenizer", "tiny_gemma_vocab"]

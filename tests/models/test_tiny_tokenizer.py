"""Tests of the hand-made Unigram T5 tokenizer of the tiny pipeline."""

from __future__ import annotations

import string

import pytest
from transformers import T5Tokenizer

from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer, tiny_vocab

PROMPT = "A romantic kiss between a man and woman with flowers"


def test_special_ids_like_t5(tiny_tokenizer: T5Tokenizer) -> None:
    assert tiny_tokenizer.is_fast
    assert (tiny_tokenizer.pad_token, tiny_tokenizer.pad_token_id) == ("<pad>", 0)
    assert (tiny_tokenizer.eos_token, tiny_tokenizer.eos_token_id) == ("</s>", 1)
    assert (tiny_tokenizer.unk_token, tiny_tokenizer.unk_token_id) == ("<unk>", 2)
    assert len(tiny_tokenizer) == len(tiny_vocab())
    assert 200 <= len(tiny_tokenizer) <= 1000


def test_vocab_has_no_duplicates_and_is_deterministic() -> None:
    pieces = [piece for piece, _ in tiny_vocab()]
    assert len(pieces) == len(set(pieces))
    assert tiny_vocab() == tiny_vocab()
    assert build_tiny_tokenizer().get_vocab() == build_tiny_tokenizer().get_vocab()


def test_demo_prompt_pieces_and_offsets(tiny_tokenizer: T5Tokenizer) -> None:
    enc = tiny_tokenizer(PROMPT, padding="max_length", max_length=32, truncation=True, return_offsets_mapping=True)
    tokens = tiny_tokenizer.convert_ids_to_tokens(enc.input_ids)
    expected = ["▁A", "▁romantic", "▁ki", "ss", "▁between", "▁a", "▁man", "▁and", "▁woman", "▁with"]
    expected += ["▁flow", "ers", "</s>"]
    assert tokens[: len(expected)] == expected
    assert tokens[len(expected) :] == ["<pad>"] * (32 - len(expected))
    assert enc.attention_mask == [1] * len(expected) + [0] * (32 - len(expected))
    spans = [PROMPT[start:end] for start, end in enc.offset_mapping[: len(expected) - 1]]
    assert spans == [
        "A",
        "romantic",
        "ki",
        "ss",
        "between",
        "a",
        "man",
        "and",
        "woman",
        "with",
        "flow",
        "ers",
    ]
    assert enc.offset_mapping[len(expected) - 1 :] == [(0, 0)] * (32 - len(expected) + 1)


def test_decode_round_trips(tiny_tokenizer: T5Tokenizer) -> None:
    ids = tiny_tokenizer(PROMPT).input_ids
    assert tiny_tokenizer.decode(ids, skip_special_tokens=True) == PROMPT
    text = tiny_tokenizer.decode(ids)
    assert isinstance(text, str)
    assert text.endswith("</s>")


@pytest.mark.parametrize(
    "text",
    [
        string.ascii_letters,
        string.digits,
        "Hello, World! (2 cats) & 3 dogs: 100% cute; x_y=z?",
        "".join(ch for ch in string.printable if not ch.isspace()),
    ],
)
def test_printable_ascii_has_no_unk(tiny_tokenizer: T5Tokenizer, text: str) -> None:
    ids = tiny_tokenizer(text).input_ids
    assert tiny_tokenizer.unk_token_id not in ids
    assert tiny_tokenizer.decode(ids, skip_special_tokens=True) == text


def test_truncation_keeps_eos(tiny_tokenizer: T5Tokenizer) -> None:
    ids = tiny_tokenizer(PROMPT, max_length=5, truncation=True).input_ids
    assert len(ids) == 5
    assert ids[-1] == tiny_tokenizer.eos_token_id

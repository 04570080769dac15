"""Marked words of a prompt wrapped in a chat template whose leading tokens the pipeline cuts off."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from attention_visual.errors import PromptError
from attention_visual.families import PromptTemplate
from attention_visual.models.tiny_qwen_tokenizer import build_tiny_qwen_tokenizer
from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer
from attention_visual.prompts import tokenize_marked

SYSTEM = PromptTemplate("You are a helpful assistant.", cut=0)


def template_of(tok: Any) -> PromptTemplate:
    """:data:`SYSTEM` with the cut where the prompt starts (after ``<|im_start|>user`` and its newline)."""
    chat = tok.apply_chat_template(SYSTEM.messages("x"), add_generation_prompt=True, tokenize=True, return_dict=True)
    pieces = tok.convert_ids_to_tokens(chat["input_ids"])
    return dataclasses.replace(SYSTEM, cut=pieces.index("user") + 2)


def test_positions_are_counted_after_the_cut_and_the_ids_are_the_encoders() -> None:
    tok = build_tiny_qwen_tokenizer()
    template = template_of(tok)
    got = tokenize_marked(tok, "the (dog) and the (red car)", 16, template)
    assert got.cut == template.cut and len(got.input_ids) == 16 + template.cut
    assert [(t.word, t.token_indices, t.token_pieces) for t in got.targets] == [
        ("dog", (1,), ("Ġdog",)), ("red car", (4, 5), ("Ġred", "Ġcar")),
    ]  # fmt: skip
    assert got.pieces[:2] == ("the", "Ġdog") and got.pieces[-2:] == ("assistant", "Ċ")
    assert got.num_real_tokens == sum(got.attention_mask) - template.cut


def test_a_cut_into_the_prompt_and_a_word_cut_off_are_refused() -> None:
    tok = build_tiny_qwen_tokenizer()
    template = template_of(tok)
    with pytest.raises(PromptError, match="template tokens off the text, but the prompt starts at token"):
        tokenize_marked(tok, "the (dog)", 16, dataclasses.replace(template, cut=template.cut + 1))
    with pytest.raises(PromptError, match="word 'car' is cut off"):
        tokenize_marked(tok, "the dog and the red (car)", 4, template)


def test_a_tokenizer_without_a_chat_template_is_refused() -> None:
    with pytest.raises(PromptError, match="cannot render the pipeline's chat template"):
        tokenize_marked(build_tiny_tokenizer(), "the (dog)", 16, SYSTEM)

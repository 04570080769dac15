"""Examples for :func:`tokenize_marked` / :func:`map_targets_to_tokens` with the tiny T5 tokenizer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from transformers import T5Tokenizer

from attention_visual.errors import ConfigError, PromptError
from attention_visual.prompts import (
    Target,
    TargetTokens,
    TokenizedPrompt,
    map_targets_to_tokens,
    parse_prompt,
    tokenize_marked,
)

KISS_PROMPT = "A romantic (kiss) between a man and woman with (flowers)"


def test_kiss_and_flowers_map_to_their_sub_word_tokens(tiny_tokenizer: T5Tokenizer) -> None:
    targets = map_targets_to_tokens(tiny_tokenizer, parse_prompt(KISS_PROMPT))
    kiss, flowers = targets
    assert kiss == TargetTokens(
        word="kiss",
        token_indices=(2, 3),
        token_ids=tuple(tiny_tokenizer.encode("kiss", add_special_tokens=False)),
        token_pieces=("▁ki", "ss"),
        spans=((11, 15),),
    )
    assert flowers.word == "flowers"
    assert flowers.token_indices == (10, 11)
    assert flowers.token_pieces == ("▁flow", "ers")


def test_target_tokens_are_the_parsed_targets_with_their_tokens(tiny_tokenizer: T5Tokenizer) -> None:
    prompt = parse_prompt("A romantic (kiss) with (flowers), a (kiss)")
    tokenized = tokenize_marked(tiny_tokenizer, prompt, max_sequence_length=32)
    assert all(isinstance(t, Target) for t in tokenized.targets)
    assert tuple(t.target for t in tokenized.targets) == prompt.targets
    assert tokenized.target("kiss").spans == prompt.target("kiss").spans and len(prompt.target("kiss").spans) == 2


def test_tokenized_prompt_matches_what_wan_pipeline_feeds_the_encoder(tiny_tokenizer: T5Tokenizer) -> None:
    prompt = parse_prompt(KISS_PROMPT)
    tokenized = tokenize_marked(tiny_tokenizer, prompt, max_sequence_length=32)
    # The call of WanPipeline._get_t5_prompt_embeds, on the text it cleans itself.
    reference = tiny_tokenizer(
        [prompt.clean],
        padding="max_length",
        max_length=32,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    assert list(tokenized.input_ids) == reference.input_ids[0].tolist()
    assert list(tokenized.attention_mask) == reference.attention_mask[0].tolist()
    assert tokenized.num_real_tokens == int(reference.attention_mask.sum()) == 13
    assert tokenized.pieces[-1] == "</s>"
    assert len(tokenized.pieces) == 13
    assert tokenized.prompt is prompt
    assert tokenized.max_sequence_length == 32
    assert tokenized.words == ("kiss", "flowers")
    assert tokenized.target("kiss").token_indices == (2, 3)
    with pytest.raises(PromptError, match=r"marked words: \['kiss', 'flowers'\]"):
        tokenized.target("man")


def test_a_string_is_parsed_first(tiny_tokenizer: T5Tokenizer) -> None:
    assert map_targets_to_tokens(tiny_tokenizer, KISS_PROMPT) == map_targets_to_tokens(
        tiny_tokenizer, parse_prompt(KISS_PROMPT)
    )


def test_multi_word_and_repeated_targets(tiny_tokenizer: T5Tokenizer) -> None:
    tokenized = tokenize_marked(tiny_tokenizer, "a (red car) and a (red car) near (kiss) (kiss)", 64)
    red_car, kiss = tokenized.targets
    assert red_car.token_pieces == ("▁red", "▁car", "▁red", "▁car")
    assert red_car.token_indices == (1, 2, 5, 6)
    assert red_car.spans == ((2, 9), (16, 23))
    assert kiss.token_pieces == ("▁ki", "ss", "▁ki", "ss")
    assert kiss.token_indices == (8, 9, 10, 11)


def test_tokens_covering_more_than_the_word_are_included(tiny_tokenizer: T5Tokenizer) -> None:
    # "(kiss)es" marks part of "kisses", a single token: the token carries the word.
    (target,) = map_targets_to_tokens(tiny_tokenizer, "a cat (kiss)es")
    assert target.token_pieces == ("▁kisses",)


def test_escaped_parentheses_do_not_leak_into_the_word(tiny_tokenizer: T5Tokenizer) -> None:
    tokenized = tokenize_marked(tiny_tokenizer, r"a \((cat)\) sits", 32)
    assert tokenized.pieces[:4] == ("▁a", "▁(", "c", "a")
    (cat,) = tokenized.targets
    assert cat.token_pieces == ("c", "a", "t")


def test_bare_underline_pieces_are_left_out(tiny_tokenizer: T5Tokenizer, caplog: pytest.LogCaptureFixture) -> None:
    # "é" is not in the vocabulary: the tokenizer gives "▁" and "<unk>", both with the offsets of "é".
    with caplog.at_level(logging.WARNING, logger="attention_visual.prompts.tokens"):
        tokenized = tokenize_marked(tiny_tokenizer, "a (é) cat", 16)
    assert tokenized.pieces == ("▁a", "▁", "<unk>", "▁cat", "</s>")
    (target,) = tokenized.targets
    assert target.token_pieces == ("<unk>",)
    assert target.token_indices == (2,)
    assert "does not know" in caplog.text


def test_prompt_without_markers_has_no_targets(tiny_tokenizer: T5Tokenizer) -> None:
    tokenized = tokenize_marked(tiny_tokenizer, "a cat", 8)
    assert tokenized.targets == ()
    assert tokenized.num_real_tokens == 3


def test_word_cut_off_by_truncation_is_an_error(tiny_tokenizer: T5Tokenizer) -> None:
    text = "a cat " * 300 + "with (flowers)"
    with pytest.raises(
        PromptError,
        match=r"^word 'flowers' is cut off: the prompt has 604 tokens, max_sequence_length is 512; ",
    ):
        map_targets_to_tokens(tiny_tokenizer, text)


def test_word_partly_cut_off_is_an_error(tiny_tokenizer: T5Tokenizer) -> None:
    # "a cat (kiss)": ▁a ▁cat ▁ki ss </s>; with 4 tokens only "▁ki" is kept.
    with pytest.raises(PromptError, match=r"word 'kiss' is cut off: the prompt has 5 tokens, max_sequence_length is 4"):
        map_targets_to_tokens(tiny_tokenizer, "a cat (kiss)", max_sequence_length=4)
    targets = map_targets_to_tokens(tiny_tokenizer, "a cat (kiss)", max_sequence_length=5)
    assert targets[0].token_indices == (2, 3)


def test_words_before_the_cut_are_fine(tiny_tokenizer: T5Tokenizer) -> None:
    tokenized = tokenize_marked(tiny_tokenizer, "(kiss) " + "a cat " * 20, 8)
    assert tokenized.num_real_tokens == 8
    assert tokenized.targets[0].token_indices == (0, 1)
    assert tokenized.pieces[-1] == "</s>"


@pytest.mark.parametrize("length", [1, 0, -5, 2.5, True, "512"])
def test_bad_max_sequence_length(tiny_tokenizer: T5Tokenizer, length: Any) -> None:
    with pytest.raises(ConfigError, match="max_sequence_length"):
        tokenize_marked(tiny_tokenizer, "(cat)", length)


class _SlowTokenizer:
    """Stands in for a Python (slow) tokenizer, which cannot return offsets."""

    is_fast = False


def test_slow_tokenizer_is_rejected() -> None:
    with pytest.raises(PromptError, match=r"_SlowTokenizer is not a fast \(tokenizers-backed\) tokenizer"):
        tokenize_marked(_SlowTokenizer(), "(cat)")  # type: ignore[arg-type]


def test_word_with_no_token_is_an_error() -> None:
    # A tokenizer whose normalizer deletes "~": the marked "~" maps to nothing.
    from tokenizers import normalizers

    tokenizer = T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁a", -1.0), ("▁", -2.0)])
    tokenizer.backend_tokenizer.normalizer = normalizers.Replace("~", "")
    with pytest.raises(PromptError, match=r"word '~' maps to no token"):
        map_targets_to_tokens(tokenizer, "a (~) a", 16)


def test_tokenized_prompt_is_frozen(tiny_tokenizer: T5Tokenizer) -> None:
    tokenized: TokenizedPrompt = tokenize_marked(tiny_tokenizer, "(cat)", 8)
    with pytest.raises(AttributeError):
        tokenized.num_real_tokens = 3  # type: ignore[misc]


def test_a_left_padded_prompt_reads_its_words_among_the_real_tokens() -> None:
    """Gemma pads on the left; where the model puts the real tokens first, a word's column is its rank among them."""
    from attention_visual.models.tiny_gemma_tokenizer import build_tiny_gemma_tokenizer

    tokenizer = build_tiny_gemma_tokenizer()
    prompt = "A romantic (kiss) with (flowers)"
    left = tokenize_marked(tokenizer, prompt, 16, padding_side="left", real_first=True)
    assert left.input_ids[:9] == (0,) * 9 and tokenizer.convert_ids_to_tokens(left.input_ids[9]) == "<bos>"
    assert left.pieces == ("<bos>", "A", "▁romantic", "▁kiss", "▁with", "▁flow", "ers")
    assert left.num_real_tokens == 7 and left.attention_mask == (0,) * 9 + (1,) * 7
    assert [(t.token_indices, t.token_pieces) for t in left.targets] == [((3,), ("▁kiss",)), ((5, 6), ("▁flow", "ers"))]
    as_padded = tokenize_marked(tokenizer, prompt, 16, padding_side="left")  # columns: positions in the padding
    assert [t.token_indices for t in as_padded.targets] == [(12,), (14, 15)] and as_padded.input_ids == left.input_ids
    right = tokenize_marked(tokenizer, prompt, 16, real_first=True)  # right padding: the ranks are the positions
    assert [t.token_indices for t in right.targets] == [(3,), (5, 6)] and right.input_ids[:7] == left.input_ids[9:]

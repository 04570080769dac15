"""Property-based tests: spans index the exact cleaned text, and targets map onto their own tokens.

Prompts are built from segments (plain items or ``(...)`` markers) together with an independent
model of what they mean: the unmarked text (markers dropped, escapes resolved), which diffusers'
``prompt_clean`` must turn into ``MarkedPrompt.clean``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from diffusers.pipelines.wan.pipeline_wan import prompt_clean
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import T5Tokenizer

from attention_visual.errors import PromptError
from attention_visual.prompts import parse_prompt, tokenize_marked

SETTINGS = settings(max_examples=100, deadline=None)


@dataclass(frozen=True)
class Item:
    """A piece of prompt text: how it is written and what it means before cleaning."""

    written: str
    unmarked: str


@dataclass(frozen=True)
class Generated:
    """A generated marked prompt and its meaning."""

    marked: str
    unmarked: str
    marked_inner: tuple[str, ...]  # the unmarked text inside each marker, in order


def word(text: str) -> Item:
    return Item(text, text)


ESCAPED_OPEN = Item("\\(", "(")
ESCAPED_CLOSE = Item("\\)", ")")

# Words the tiny tokenizer knows whole, words it splits into sub-words, and words with punctuation.
WHOLE_WORDS = ("a", "cat", "dog", "red", "car", "romantic", "the", "sky", "runs", "with")
SUB_WORD_WORDS = ("kiss", "flowers", "walking", "sunset", "butterfly", "players")
ASCII_ITEMS = (
    *(word(w) for w in WHOLE_WORDS + SUB_WORD_WORDS),
    word("x2"),
    word("don't"),
    word("&"),
    Item("\\(cat\\)", "(cat)"),
    Item("\\(sun", "(sun"),
)
# Things cleaning changes: entities, mojibake, ligatures, full-width letters, backslashes, unicode.
ODD_ITEMS = (
    Item("&amp;", "&amp;"),
    Item("&amp;amp;", "&amp;amp;"),
    Item("&lt;b&gt;", "&lt;b&gt;"),
    Item("&nbsp;", "&nbsp;"),
    Item("cafÃ©", "cafÃ©"),
    # Mojibake with U+FFFD: ftfy repairs it only by re-encoding the whole line (ASCII sentinels).
    Item("â€œquotedâ€\ufffd", "â€œquotedâ€\ufffd"),
    Item("ﬁsh", "ﬁsh"),
    Item("ＡＢ", "ＡＢ"),
    Item("C:\\dir", "C:\\dir"),
    Item("\\n", "\\n"),
    word("日本語"),
    word("naïve"),
    word("e\u0301"),
    word("😀"),
    ESCAPED_OPEN,
    ESCAPED_CLOSE,
)
WHITESPACE = st.text(alphabet=" \t\n\r\u00a0\u3000", min_size=1, max_size=3)


@st.composite
def prompts(
    draw: st.DrawFn, items: tuple[Item, ...], separators: st.SearchStrategy[str], inner_padding: bool
) -> Generated:
    """Draw a marked prompt: segments joined by separators, some of them markers of 1-3 items."""
    marked: list[str] = [draw(st.sampled_from(["", " ", "\n "]))]
    unmarked: list[str] = [marked[0]]
    inner: list[str] = []
    for k in range(draw(st.integers(min_value=1, max_value=8))):
        if k:
            separator = draw(separators)
            marked.append(separator)
            unmarked.append(separator)
        group = draw(st.lists(st.sampled_from(items), min_size=1, max_size=3))
        joins = [draw(WHITESPACE) for _ in group[1:]]
        written = group[0].written + "".join(j + i.written for j, i in zip(joins, group[1:], strict=True))
        meaning = group[0].unmarked + "".join(j + i.unmarked for j, i in zip(joins, group[1:], strict=True))
        if draw(st.booleans()):
            left = draw(WHITESPACE) if inner_padding and draw(st.booleans()) else ""
            right = draw(WHITESPACE) if inner_padding and draw(st.booleans()) else ""
            marked.append(f"({left}{written}{right})")
            unmarked.append(left + meaning + right)
            inner.append(left + meaning + right)
        else:
            marked.append(written)
            unmarked.append(meaning)
    return Generated("".join(marked), "".join(unmarked), tuple(inner))


ODD_PROMPTS = prompts(ODD_ITEMS + ASCII_ITEMS, st.one_of(st.just(""), WHITESPACE), inner_padding=True)
ASCII_PROMPTS = prompts(ASCII_ITEMS, WHITESPACE, inner_padding=True)


WHOLE_LINE_MOJIBAKE = "\ufffd"  # see ODD_ITEMS: ftfy's repair of it depends on the whole line


@SETTINGS
@given(ODD_PROMPTS)
def test_spans_index_the_exact_cleaned_text(generated: Generated) -> None:
    try:
        p = parse_prompt(generated.marked)
    except PromptError as error:
        message = str(error)
        if "empty after cleaning" in message:
            assert any(not prompt_clean(inner) for inner in generated.marked_inner)
        else:
            # A marker next to mojibake ftfy repairs only line-wide may be refused, never mis-spanned.
            assert "changes how the text around it is cleaned" in message
            assert WHOLE_LINE_MOJIBAKE in generated.marked
        return
    assert p.marked == generated.marked
    assert p.clean == prompt_clean(generated.unmarked)
    all_spans = sorted(span for target in p.targets for span in target.spans)
    assert len(all_spans) == len(generated.marked_inner)
    for (_, end), (start, _) in itertools.pairwise(all_spans):
        assert end <= start
    for target in p.targets:
        assert target.word
        assert target.word == target.word.strip()
        for start, end in target.spans:
            assert p.clean[start:end] == target.word
    assert len(set(p.words)) == len(p.words)
    firsts = [target.spans[0][0] for target in p.targets]
    assert firsts == sorted(firsts)
    if WHOLE_LINE_MOJIBAKE not in generated.marked:
        # Every other fix is local: each marker holds its own text, cleaned on its own.
        words_in_order = [p.clean[s:e] for s, e in all_spans]
        assert words_in_order == [prompt_clean(inner) for inner in generated.marked_inner]


@SETTINGS
@given(ASCII_PROMPTS, st.integers(min_value=4, max_value=40))
def test_targets_map_onto_their_own_tokens(
    tiny_tokenizer: T5Tokenizer, generated: Generated, max_sequence_length: int
) -> None:
    p = parse_prompt(generated.marked)
    # Oracle for truncation: the untruncated tokens; those at index >= max_sequence_length - 1 are cut.
    full = tiny_tokenizer(p.clean, add_special_tokens=False, return_offsets_mapping=True)
    cut = {
        target.word
        for target in p.targets
        if any(
            i >= max_sequence_length - 1 and s < end and e > start
            for i, (s, e) in enumerate(full["offset_mapping"])
            for start, end in target.spans
        )
    }
    try:
        tokenized = tokenize_marked(tiny_tokenizer, p, max_sequence_length)
    except PromptError as error:
        assert "is cut off" in str(error)
        assert cut
        assert repr(next(t.word for t in p.targets if t.word in cut)) in str(error)
        return
    assert not cut
    assert len(tokenized.input_ids) == len(tokenized.attention_mask) == max_sequence_length
    assert tokenized.num_real_tokens == sum(tokenized.attention_mask)
    assert tokenized.input_ids[tokenized.num_real_tokens - 1] == tiny_tokenizer.eos_token_id
    assert tokenized.words == p.words
    for target in tokenized.targets:
        assert target.token_indices == tuple(sorted(set(target.token_indices)))
        assert all(0 <= i < tokenized.num_real_tokens - 1 for i in target.token_indices)
        assert target.token_ids == tuple(tokenized.input_ids[i] for i in target.token_indices)
        assert "".join(piece.replace("▁", "") for piece in target.token_pieces) == (
            target.word.replace(" ", "") * len(target.spans)
        )
        n_sub_words = sum(target.word.split().count(w) for w in SUB_WORD_WORDS)
        assert len(target.token_indices) >= len(target.spans) * (len(target.word.split()) + n_sub_words)


@pytest.mark.parametrize("n_words", [1, 50, 200])
def test_long_prompts_keep_their_spans(tiny_tokenizer: T5Tokenizer, n_words: int) -> None:
    text = " ".join(f"({w})" if i % 7 == 0 else w for i, w in enumerate(list(WHOLE_WORDS) * n_words))
    p = parse_prompt(text)
    assert p.clean == prompt_clean(text.replace("(", "").replace(")", ""))
    assert sum(len(t.spans) for t in p.targets) == len(range(0, len(WHOLE_WORDS) * n_words, 7))

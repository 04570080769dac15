"""Examples for :func:`attention_visual.prompts.parse_prompt`: syntax, cleaning, spans and errors."""

from __future__ import annotations

import logging

import pytest
from diffusers.pipelines.wan.pipeline_wan import prompt_clean

import attention_visual.prompts as prompts_module
from attention_visual.errors import PromptError
from attention_visual.prompts import MarkedPrompt, Target, parse_prompt


def spans_of(prompt: MarkedPrompt) -> list[tuple[str, tuple[tuple[int, int], ...]]]:
    """The (word, spans) pairs of a prompt, checking every span on the way."""
    for target in prompt.targets:
        for start, end in target.spans:
            assert prompt.clean[start:end] == target.word
    return [(t.word, t.spans) for t in prompt.targets]


def test_public_api_is_exactly_the_documented_names() -> None:
    assert sorted(prompts_module.__all__) == [
        "MarkedPrompt",
        "Target",
        "TargetTokens",
        "TokenizedPrompt",
        "map_targets_to_tokens",
        "parse_prompt",
        "tokenize_marked",
    ]
    for name in prompts_module.__all__:
        assert getattr(prompts_module, name) is not None


def test_kiss_and_flowers() -> None:
    p = parse_prompt("A romantic (kiss) between a man and woman with (flowers)")
    assert p.marked == "A romantic (kiss) between a man and woman with (flowers)"
    assert p.clean == "A romantic kiss between a man and woman with flowers"
    assert p.words == ("kiss", "flowers")
    assert spans_of(p) == [("kiss", ((11, 15),)), ("flowers", ((45, 52),))]
    assert p.target("flowers") == Target("flowers", ((45, 52),))


def test_multi_word_target() -> None:
    p = parse_prompt("a (red car) drives")
    assert p.clean == "a red car drives"
    assert spans_of(p) == [("red car", ((2, 9),))]


def test_repeated_word_is_one_target_with_two_spans_in_order_of_first_appearance() -> None:
    p = parse_prompt("(cat) and (dog) and (cat)")
    assert p.clean == "cat and dog and cat"
    assert spans_of(p) == [("cat", ((0, 3), (16, 19))), ("dog", ((8, 11),))]


def test_words_differing_in_case_are_two_targets() -> None:
    assert parse_prompt("(Cat) (cat)").words == ("Cat", "cat")


def test_escaped_parentheses_are_literal_and_not_markers() -> None:
    p = parse_prompt(r"a \(small\) (cat) with (a \) b)")
    assert p.clean == "a (small) cat with a ) b"
    assert spans_of(p) == [("cat", ((10, 13),)), ("a ) b", ((19, 24),))]


def test_escaped_parenthesis_as_the_word_itself() -> None:
    p = parse_prompt(r"smile (\() now")
    assert p.clean == "smile ( now"
    assert spans_of(p) == [("(", ((6, 7),))]


def test_backslash_before_anything_else_is_kept() -> None:
    p = parse_prompt(r"C:\path \n and \\( (x)")
    # "\\(" is a kept backslash followed by an escaped "(".
    assert p.clean == r"C:\path \n and \( x"
    assert p.words == ("x",)


def test_no_marker_is_valid_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="attention_visual.prompts.parsing"):
        p = parse_prompt("a cat  on a\tmat")
    assert p.clean == "a cat on a mat"
    assert p.targets == ()
    assert p.words == ()
    assert "no marked words" in caplog.text


def test_whitespace_inside_a_marker_is_not_part_of_the_word() -> None:
    p = parse_prompt("a ( kiss )  and (\tred \n car\t)!")
    assert p.clean == "a kiss and red car !"
    assert spans_of(p) == [("kiss", ((2, 6),)), ("red car", ((11, 18),))]


def test_whitespace_just_inside_marker_between_glued_words_is_kept_as_one_space() -> None:
    # Without markers the text is "a kissb": the space belongs to the clean text, not to the word.
    p = parse_prompt("a( kiss)b")
    assert p.clean == "a kissb"
    assert spans_of(p) == [("kiss", ((2, 6),))]


def test_markers_at_start_and_end_and_surrounding_whitespace() -> None:
    p = parse_prompt(" \n (kiss) between them\t(flowers)  \n")
    assert p.clean == "kiss between them flowers"
    assert spans_of(p) == [("kiss", ((0, 4),)), ("flowers", ((18, 25),))]


def test_adjacent_markers() -> None:
    p = parse_prompt("(sun)(set) (x)")
    assert p.clean == "sunset x"
    assert spans_of(p) == [("sun", ((0, 3),)), ("set", ((3, 6),)), ("x", ((7, 8),))]


@pytest.mark.parametrize(
    ("text", "clean", "expected"),
    [
        ("salt &amp; (pepper)", "salt & pepper", [("pepper", ((7, 13),))]),
        ("(salt &amp; pepper) x", "salt & pepper x", [("salt & pepper", ((0, 13),))]),
        ("(&amp;amp;) &lt;b&gt; (x)", "& <b> x", [("&", ((0, 1),)), ("x", ((6, 7),))]),
        ("(&amp;) (&amp;)", "& &", [("&", ((0, 1), (2, 3)))]),
        ("a&nbsp;&nbsp;(cat)", "a cat", [("cat", ((2, 5),))]),
    ],
)
def test_html_entities(text: str, clean: str, expected: list[tuple[str, tuple[tuple[int, int], ...]]]) -> None:
    p = parse_prompt(text)
    assert p.clean == clean
    assert spans_of(p) == expected


@pytest.mark.parametrize(
    ("text", "clean", "expected"),
    [
        ("a cafÃ© with a (cat)", "a café with a cat", [("cat", ((14, 17),))]),
        ("a (cafÃ©) with a cat", "a café with a cat", [("café", ((2, 6),))]),
        ("caf(Ã©) (x)", "café x", [("é", ((3, 4),)), ("x", ((5, 6),))]),
        ("â€œquotedâ€\x9d (kiss)", '"quoted" kiss', [("kiss", ((9, 13),))]),
        ("(ﬁsh) (ＡＢ)", "fish AB", [("fish", ((0, 4),)), ("AB", ((5, 7),))]),
    ],
)
def test_text_that_ftfy_repairs(text: str, clean: str, expected: list[tuple[str, tuple[tuple[int, int], ...]]]) -> None:
    p = parse_prompt(text)
    assert p.clean == clean == prompt_clean(text.replace("(", "").replace(")", ""))
    assert spans_of(p) == expected


def test_mojibake_repaired_only_as_a_whole_line_uses_the_ascii_sentinels() -> None:
    # With U+FFFD in it, ftfy repairs this only by re-encoding the whole line, which a
    # private-use sentinel would block.
    good = "привет мир, café – “quoted” 日本語"
    broken = good.encode("utf-8").decode("windows-1252", errors="replace")
    for text in (f"{broken} (kiss)", f"(kiss) {broken}", f"{broken} (kiss) {broken} (kiss)"):
        p = parse_prompt(text)
        assert p.clean == prompt_clean(text.replace("(kiss)", "kiss"))
        assert p.words == ("kiss",)
        spans_of(p)


def test_marker_that_changes_a_line_wide_mojibake_repair_is_refused_not_mis_spanned() -> None:
    # ftfy leaves "\xa0â€œ…" alone (it could be a mangled byte) but repairs "â€œ…" after a marker.
    mojibake = "â€œquotedâ€\ufffd"
    with pytest.raises(PromptError, match=r"changes how the text around it is cleaned at column 5: "):
        parse_prompt(f"cat\xa0({mojibake})")
    p = parse_prompt(f"cat ({mojibake})")
    assert p.clean == prompt_clean(f"cat {mojibake}") == 'cat "quoted\ufffd'
    assert spans_of(p) == [('"quoted\ufffd', ((4, 12),))]


def test_unicode_words_and_combining_marks() -> None:
    p = parse_prompt("(日本語) and (naïve) and (e\u0301) and (😀)")
    assert p.clean == "日本語 and naïve and é and 😀"
    assert spans_of(p) == [
        ("日本語", ((0, 3),)),
        ("naïve", ((8, 13),)),
        ("é", ((18, 19),)),
        ("😀", ((24, 25),)),
    ]


def test_private_use_characters_in_the_prompt_do_not_confuse_the_markers() -> None:
    p = parse_prompt("\ue000 (a) \ue001 (b)")
    assert p.clean == "\ue000 a \ue001 b"
    assert spans_of(p) == [("a", ((2, 3),)), ("b", ((6, 7),))]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A romantic (kiss between", "unbalanced '(' at column 12: \"A romantic (kiss between\""),
        ("a (b) c)", "unbalanced ')' at column 8: \"a (b) c)\""),
        ("a) (b)", "unbalanced ')' at column 2:"),
        ("((a))", "nested '(' at column 2: \"((a))\" (the marker opened at column 1 is still open"),
        ("(a (b))", "nested '(' at column 4:"),
        ("x ()", "empty marker '(' at column 3: \"x ()\""),
        ("x (  \t\n )", "empty marker '(' at column 3: \"x (  \\t\\n )\""),
        ("x (&nbsp;)", "marker '(' is empty after cleaning at column 3:"),
        ("x (\ufeff)", "marker '(' is empty after cleaning at column 3:"),
        ("fish &(amp;) chips", "marker '(' changes how the text around it is cleaned at column 7:"),
        ("(e)\u0301 (x)", "marker '(' changes how the text around it is cleaned at column 1:"),
        ("(x) ca(fÃ)© ", "marker '(' changes how the text around it is cleaned at column 7:"),
    ],
)
def test_errors_point_at_the_column(text: str, message: str) -> None:
    with pytest.raises(PromptError) as info:
        parse_prompt(text)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_long_prompts_give_a_short_snippet() -> None:
    text = "a " * 40 + "(cat " + "b " * 40
    with pytest.raises(PromptError) as info:
        parse_prompt(text)
    message = str(info.value)
    assert message.startswith("unbalanced '(' at column 81: \"…")
    assert message.endswith("…\" (write a literal one as '\\(')")
    assert len(message) < 120


def test_marked_prompt_checks_its_spans() -> None:
    with pytest.raises(PromptError, match="does not hold the word"):
        MarkedPrompt(marked="(cat)", clean="cat", targets=(Target("cat", ((0, 2),)),))
    with pytest.raises(PromptError, match="listed twice"):
        MarkedPrompt(marked="", clean="cat", targets=(Target("cat", ((0, 3),)), Target("cat", ((0, 3),))))
    with pytest.raises(PromptError, match="no span"):
        MarkedPrompt(marked="", clean="cat", targets=(Target("cat", ()),))


def test_target_lookup_lists_the_words() -> None:
    with pytest.raises(PromptError, match=r"word 'dog' is not marked in the prompt; marked words: \['cat'\]"):
        parse_prompt("a (cat)").target("dog")


def test_marked_prompt_is_frozen() -> None:
    p = parse_prompt("(cat)")
    with pytest.raises(AttributeError):
        p.clean = "dog"  # type: ignore[misc]

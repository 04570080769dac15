"""Our copy of the Wan pipelines' prompt cleaning is diffusers' own, character for character."""

from __future__ import annotations

from diffusers.pipelines.wan import pipeline_wan
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_visual.families.wan.text import basic_clean, prompt_clean, whitespace_clean

TRICKY = [
    "  A  romantic\tkiss\n\nwith &amp;amp; flowers ",
    "caf\u00c3\u00a9 \u201cquoted\u201d",
    "a\u00a0b\u2003c\u200bd\u180ee\u0085f\u001cg",
    "&lt;b&gt; &#39;x&#39; &nbsp;",
    "",
    "   ",
]


def test_known_tricky_prompts() -> None:
    for text in TRICKY:
        assert prompt_clean(text) == pipeline_wan.prompt_clean(text)
        assert basic_clean(text) == pipeline_wan.basic_clean(text)
        assert whitespace_clean(text) == pipeline_wan.whitespace_clean(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text(text: str) -> None:
    assert prompt_clean(text) == pipeline_wan.prompt_clean(text)

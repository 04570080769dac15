"""The prompt cleaning of diffusers' ``WanPipeline``, without importing diffusers.

``diffusers.pipelines.wan.pipeline_wan`` pulls in torch and transformers (seconds of start-up),
which commands that only read a config or a finished batch do not need. These three functions
are the same code as diffusers 0.42's ``basic_clean`` / ``whitespace_clean`` / ``prompt_clean``
(ftfy is a pinned dependency, so the ``is_ftfy_available()`` branch is always taken), and
``tests/prompts/test_prompt_cleaning.py`` checks them against diffusers' own on generated text.
"""

from __future__ import annotations

import html

import ftfy
import regex


def basic_clean(text: str) -> str:
    """ftfy's fixes, HTML unescaped twice, stripped."""
    return html.unescape(html.unescape(ftfy.fix_text(text))).strip()


def whitespace_clean(text: str) -> str:
    """Every whitespace run (``regex``'s ``\\s``) becomes one space; stripped."""
    return str(regex.sub(r"\s+", " ", text)).strip()


def prompt_clean(text: str) -> str:
    """What ``WanPipeline`` does to a prompt before tokenizing it."""
    return whitespace_clean(basic_clean(text))


__all__ = ["basic_clean", "prompt_clean", "whitespace_clean"]

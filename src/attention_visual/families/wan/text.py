"""The prompt cleaning of diffusers' Wan pipelines, without importing diffusers.

``diffusers.pipelines.wan.pipeline_wan`` pulls in torch and transformers (seconds of start-up),
which commands that only read a config or a finished batch do not need. These functions are the
same code as diffusers 0.42's ``basic_clean`` / ``whitespace_clean`` / ``prompt_clean`` (ftfy is a
pinned dependency, so the ``is_ftfy_available()`` branch is always taken), and
``tests/families/wan/test_text.py`` checks them against diffusers' own on generated text.
:data:`CLEANING` is the same as a :class:`~attention_visual.families.spec.Cleaning`, which the prompt
parser carries the marked words' spans through.
"""

from __future__ import annotations

import html

from attention_visual.families.spec import Cleaning, collapse_whitespace


def basic_clean(text: str) -> str:
    """ftfy's fixes, HTML unescaped twice, stripped."""
    import ftfy  # deferred: reading the family's facts (config, light commands) does not clean text

    return html.unescape(html.unescape(ftfy.fix_text(text))).strip()


def whitespace_clean(text: str) -> str:
    """Every whitespace run (``regex``'s ``\\s``) becomes one space; stripped."""
    return collapse_whitespace(text)


def prompt_clean(text: str) -> str:
    """What the Wan pipelines do to a prompt before tokenizing it."""
    return whitespace_clean(basic_clean(text))


#: Wan's cleaning as the prompt parser uses it: ``basic_clean``, then the whitespace collapse.
CLEANING = Cleaning(fix=basic_clean, collapse_whitespace=True)

__all__ = ["CLEANING", "basic_clean", "prompt_clean", "whitespace_clean"]

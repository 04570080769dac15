"""HTML escaping of every user string the report writes (prompts, words, errors, ids, links)."""

from __future__ import annotations

from html import escape


def e(text: object) -> str:
    """HTML-escape ``text`` for element content and quoted attributes.

    >>> e('a "<b>" & c')
    'a &quot;&lt;b&gt;&quot; &amp; c'
    """
    return escape(str(text), quote=True)


__all__ = ["e"]

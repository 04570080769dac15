"""Escaping of every user string the report writes (prompts, words, errors, ids, links) and of its JSON."""

from __future__ import annotations

import json
from html import escape
from typing import Any


def e(text: object) -> str:
    """HTML-escape ``text`` for element content and quoted attributes.

    >>> e('a "<b>" & c')
    'a &quot;&lt;b&gt;&quot; &amp; c'
    """
    return escape(str(text), quote=True)


def json_block(data: Any) -> str:
    """``data`` as JSON safe inside ``<script>`` (HTML or a script file): no ``<``, ``>``, ``&``, U+2028/9.

    >>> json_block({"w": "</script>"})
    '{"w":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


__all__ = ["e", "json_block"]

"""Marked prompts: parse ``(target)`` words and map them to the text encoder's tokens.

Example:
    >>> from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer
    >>> from attention_visual.prompts import map_targets_to_tokens, parse_prompt
    >>> prompt = parse_prompt("A romantic (kiss) between a man and woman with (flowers)")
    >>> prompt.words
    ('kiss', 'flowers')
    >>> [t.token_pieces for t in map_targets_to_tokens(build_tiny_tokenizer(), prompt)]
    [('▁ki', 'ss'), ('▁flow', 'ers')]
"""

from __future__ import annotations

from attention_visual.prompts.parsing import MarkedPrompt, Target, parse_prompt
from attention_visual.prompts.tokens import (
    TargetTokens,
    TokenizedPrompt,
    map_targets_to_tokens,
    tokenize_marked,
)

__all__ = [
    "MarkedPrompt",
    "Target",
    "TargetTokens",
    "TokenizedPrompt",
    "map_targets_to_tokens",
    "parse_prompt",
    "tokenize_marked",
]

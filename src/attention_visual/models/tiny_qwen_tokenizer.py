"""The tiny HunyuanVideo-1.5 pipelines' Qwen2.5-VL tokenizer: a byte-level BPE ``Qwen2Tokenizer``, built offline.

:func:`build_tiny_qwen_tokenizer` trains a small byte-level BPE (the ``tokenizers`` trainer, deterministic,
in memory, milliseconds) with Qwen2's own pre-tokenizer on a tiny corpus, and hands its vocabulary and
merges to ``transformers.Qwen2Tokenizer`` (the class the checkpoints use), with Qwen's special tokens
(``<|endoftext|>`` for padding, ``<|im_start|>``, ``<|im_end|>``), right padding and a chat template that
renders a text-only chat as Qwen2.5-VL's does (``<|im_start|>role\\ncontent<|im_end|>\\n`` per message,
then ``<|im_start|>assistant\\n``).

The corpus holds every pre-token of the pipelines' system message and chat markers, so each is one token,
as in Qwen2.5-VL's 151k vocabulary: the chat before the prompt is **108 tokens**, exactly the cut
HunyuanVideo-1.5's pipelines make (``prompt_template_encode_start_idx``). It also holds the words and
sub-words of the tiny T5 vocabulary (:func:`~.tiny_tokenizer.tiny_vocab`), so demo prompts tokenize into
whole words and a few multi-piece words; any other text falls back to byte tokens (never ``<unk>``).

It needs ``transformers`` and ``tokenizers`` only (no torch), so a config's words can be checked against it
without building a model.

Example:
    >>> tok = build_tiny_qwen_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("a romantic dog").input_ids)
    ['a', 'Ġromantic', 'Ġdog']
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import SPIECE_UNDERLINE, Qwen2Tokenizer
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from attention_visual.families import PromptTemplate, family_named
from attention_visual.models.tiny_tokenizer import tiny_vocab

CHAT_MARKERS = ("<|im_start|>", "<|im_end|>")
"""Qwen's chat control tokens (special, added after the BPE vocabulary)."""
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""Qwen2.5-VL's chat template for text-only messages (its image and video parts left out)."""
_SUBWORD_SCORE = -8.0  # tiny_vocab: whole words score about -5, sub-words -7, single characters -12


@cache
def _trained() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """The BPE vocabulary and merges (trained once per process; the same every time)."""
    template = family_named("hunyuan15").text.template
    assert isinstance(template, PromptTemplate)
    pieces = [p for p, score in tiny_vocab() if score > _SUBWORD_SCORE]
    words = [p.replace(SPIECE_UNDERLINE, " ") for p in pieces] + [p.lstrip(SPIECE_UNDERLINE) for p in pieces]
    corpus = [template.system_message, "system\n", "user\n", "assistant\n", *words]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=100_000, min_frequency=0, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(corpus, trainer)
    model = json.loads(bpe.to_str())["model"]
    return dict(model["vocab"]), tuple((a, b) for a, b in model["merges"])


def build_tiny_qwen_tokenizer() -> Qwen2Tokenizer:
    """Build the tiny Qwen2.5-VL tokenizer (no files, no network).

    Returns:
        A fast ``Qwen2Tokenizer`` padding on the right with ``<|endoftext|>``, with Qwen's chat markers as
        special tokens and a text-only Qwen chat template.
    """
    vocab, merges = _trained()
    pairs: Any = list(merges)  # the BPE model takes (left, right) pairs; transformers annotates strings
    tokenizer = Qwen2Tokenizer(vocab=dict(vocab), merges=pairs, padding_side="right")
    tokenizer.add_special_tokens({"additional_special_tokens": list(CHAT_MARKERS)})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


__all__ = ["CHAT_MARKERS", "CHAT_TEMPLATE", "build_tiny_qwen_tokenizer"]

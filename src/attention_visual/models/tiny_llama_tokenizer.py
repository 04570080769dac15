"""The tiny HunyuanVideo pipelines' tokenizers, built offline: a Llama-3 byte-level BPE and a CLIP BPE.

:func:`build_tiny_llama_tokenizer` trains a small byte-level BPE (the ``tokenizers`` trainer, deterministic,
in memory, milliseconds) with Llama 3's pre-tokenizer regex on a tiny corpus and wraps it in
``PreTrainedTokenizerFast`` as Llama 3's ``tokenizer.json`` is: ``<|begin_of_text|>`` added in front of every
sequence, the chat markers (``<|start_header_id|>``, ``<|end_header_id|>``, ``<|eot_id|>``) and LLaVA's
``<pad>`` and ``<image>`` as special tokens after the BPE vocabulary, right padding.

The corpus holds every pre-token of HunyuanVideo's prompt template, so each is one token, as in Llama 3's
128k vocabulary: BOS and the template before the prompt are **95 tokens**, exactly the cut the text-to-video
pipeline makes (``crop_start``). It also holds the words and sub-words of the tiny T5 vocabulary
(:func:`~.tiny_tokenizer.tiny_vocab`), so demo prompts tokenize into whole words and a few multi-piece words;
any other text falls back to byte tokens (never an unknown token).

:func:`build_tiny_clip_tokenizer` is a ``CLIPTokenizer`` whose vocabulary is the 256 byte symbols, alone and
word-final (``</w>``), and no merges: every word is spelt out (the CLIP encoder gives only the pooled vector).

Both need ``transformers`` and ``tokenizers`` only (no torch).

Example:
    >>> tok = build_tiny_llama_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("a romantic dog").input_ids)
    ['<|begin_of_text|>', 'a', 'Ġromantic', 'Ġdog']
    >>> build_tiny_clip_tokenizer().tokenize("a cat")
    ['a</w>', 'c', 'a', 't</w>']
"""

from __future__ import annotations

import json
from functools import cache

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import SPIECE_UNDERLINE, CLIPTokenizer, PreTrainedTokenizerFast

from attention_visual.families import FormatTemplate, family_named
from attention_visual.models.tiny_tokenizer import tiny_vocab

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Llama 3's pre-tokenizer split (transformers' ``TikTokenConverter`` default)."""
BOS, EOS, PAD, IMAGE = "<|begin_of_text|>", "<|end_of_text|>", "<pad>", "<image>"
CHAT_MARKERS = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
"""Llama 3's chat control tokens, which HunyuanVideo's template writes."""
_SUBWORD_SCORE = -8.0  # tiny_vocab: whole words score about -5, sub-words -7, single characters -12


def _template_texts() -> list[str]:
    """The template's text between its special tokens (each piece a corpus entry)."""
    template = family_named("hunyuanvideo").text.template
    assert isinstance(template, FormatTemplate)
    text = template.text.replace("{}", " ")
    for marker in CHAT_MARKERS:
        text = text.replace(marker, "\0")
    return [part for part in text.split("\0") if part]


@cache
def _trained() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """The BPE vocabulary and merges (trained once per process; the same every time)."""
    pieces = [p for p, score in tiny_vocab() if score > _SUBWORD_SCORE]
    words = [p.replace(SPIECE_UNDERLINE, " ") for p in pieces] + [p.lstrip(SPIECE_UNDERLINE) for p in pieces]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = _pre_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=100_000, min_frequency=0, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator([*_template_texts(), *words], trainer)
    model = json.loads(bpe.to_str())["model"]
    return dict(model["vocab"]), tuple((a, b) for a, b in model["merges"])


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def build_tiny_llama_tokenizer(model_max_length: int = 4096) -> PreTrainedTokenizerFast:
    """Build the tiny Llama-3 tokenizer (no files, no network).

    Returns:
        A fast tokenizer that puts ``<|begin_of_text|>`` in front, pads on the right with ``<pad>``, and knows
        Llama 3's chat markers and LLaVA's ``<image>`` as special tokens.
    """
    from tokenizers import decoders

    vocab, merges = _trained()
    backend = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges)))
    backend.pre_tokenizer = _pre_tokenizer()
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([BOS, EOS, *CHAT_MARKERS, PAD, IMAGE])
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, backend.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        additional_special_tokens=[*CHAT_MARKERS, IMAGE], padding_side="right", model_max_length=model_max_length,
    )  # fmt: skip


def build_tiny_clip_tokenizer() -> CLIPTokenizer:
    """Build the tiny CLIP tokenizer: byte symbols only (alone and word-final), no merges (no files, no network)."""
    symbols = list(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate([*specials, *sorted(symbols), *(s + "</w>" for s in sorted(symbols))])}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


__all__ = [
    "BOS",
    "CHAT_MARKERS",
    "EOS",
    "IMAGE",
    "LLAMA3_PATTERN",
    "PAD",
    "build_tiny_clip_tokenizer",
    "build_tiny_llama_tokenizer",
]

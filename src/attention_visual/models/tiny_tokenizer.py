"""The tiny pipeline's tokenizer: a hand-made Unigram T5 tokenizer, built in memory (no files, no network).

:func:`build_tiny_tokenizer` hand-makes a Unigram T5 tokenizer (the tokenizers-backed
``transformers.T5Tokenizer``) from a fixed list of ``(piece, score)`` pairs, laid out like the
T5/UMT5 vocabularies Wan uses: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, then

* ``▁``-prefixed whole words for common English words of our demo prompts
  (``▁a``, ``▁the``, ``▁romantic``, ``▁cat``, ...), scored highest so they win over splits;
* sub-word pieces (``▁ki`` + ``ss``, ``▁flow`` + ``ers``, ``▁walk`` + ``ing``, ...) so that
  some words become several tokens, which is what the word → token mapping must handle;
* every ASCII letter and digit, with and without ``▁``, and common punctuation, scored lowest,
  so any printable ASCII text tokenizes without ``<unk>``.

There is no normalizer (T5 is case-sensitive and so is this), and the pre-tokenizer is T5's
whitespace split + Metaspace, so ``return_offsets_mapping=True`` gives character spans of the
original text. ``extra_ids=0``: no ``<extra_id_*>`` sentinels, so ``len(tokenizer)`` equals the
vocabulary size the text encoder is built with.

It needs ``transformers`` only (no torch, no diffusers), so a config's words can be checked against
it without building a model.
"""

from __future__ import annotations

import string

from transformers import SPIECE_UNDERLINE, T5Tokenizer

from attention_visual.errors import ConfigError

# Scores are log-probabilities: Unigram picks the segmentation with the largest sum, so a whole word
# (one piece, about -5) beats any split, and a split into sub-words (-7 each) beats single characters
# (-12 each). Order is fixed, hence the ids are deterministic.
_SPECIAL_PIECES: tuple[str, ...] = ("<pad>", "</s>", "<unk>")

WHOLE_WORDS: tuple[str, ...] = (
    # function words
    "a", "an", "the", "and", "or", "with", "in", "on", "of", "at", "to", "from", "by", "for", "into",
    "over", "under", "near", "between", "behind", "through", "across", "around", "while", "is", "are",
    "its", "his", "her", "their", "two", "one", "three", "very", "slowly", "quickly", "A", "The", "An",
    "In", "On", "Two",
    # people and animals
    "man", "woman", "men", "women", "person", "people", "child", "girl", "boy", "couple", "cat", "cats",
    "dog", "dogs", "horse", "bird", "birds", "fish", "panda", "bear", "astronaut",
    # things and places
    "car", "cars", "bike", "boat", "ball", "tree", "trees", "city", "street", "beach", "sea", "ocean",
    "river", "sky", "sun", "moon", "rain", "snow", "forest", "park", "table", "chair", "room", "window",
    "road", "grass", "mountain", "water", "fire", "light", "night", "day", "field", "garden", "house",
    # colours and adjectives
    "red", "blue", "green", "yellow", "white", "black", "orange", "purple", "pink", "brown", "small",
    "big", "large", "little", "old", "young", "happy", "romantic", "beautiful", "bright", "dark", "cute",
    "fluffy", "golden", "wooden", "sunny", "cinematic", "realistic", "slow", "fast",
    # verbs
    "runs", "run", "walks", "sits", "jumps", "plays", "rides", "flies", "swims", "holds", "dances",
    "looks", "eats", "sleeps", "drives", "kisses", "hugs", "smiles", "moves",
)  # fmt: skip

# Sub-word pieces: word-initial (with ▁) and continuation pieces. Chosen so that e.g.
# "kiss" → ▁ki + ss, "flowers" → ▁flow + ers, "walking" → ▁walk + ing, "sunset" → ▁sun + set.
WORD_STARTS: tuple[str, ...] = (
    "ki", "flow", "walk", "play", "jump", "danc", "run", "sit", "hold", "swim", "fly", "smil", "look",
    "light", "sun", "rain", "star", "butter", "bas", "hug", "eat", "sleep", "driv", "ride", "spin",
    "re", "un", "in", "de", "pre", "con", "com", "ex", "st", "th", "sh", "ch", "wh", "tr", "pl", "gr",
)  # fmt: skip
CONTINUATIONS: tuple[str, ...] = (
    "ss", "er", "ers", "ing", "ed", "es", "s", "ly", "ful", "ness", "tion", "ment", "est", "set",
    "ning", "ting", "fly", "ket", "ball", "house", "light", "ow", "ay", "ight", "ound", "ain",
    "ea", "ee", "oo", "ou", "an", "en", "in", "on", "un", "ar", "or", "ir", "ur", "al", "el", "il",
    "le", "re", "te", "ne", "ve", "ce", "se", "th", "sh", "ch", "ck", "ng", "nd", "nt", "st", "ll",
)  # fmt: skip
PUNCTUATION: tuple[str, ...] = tuple(".,;:!?'\"-()[]{}/&%$#@*+=<>_~`^|\\")

_WORD_SCORE = -5.0
_SUBWORD_SCORE = -7.0
_CHAR_SCORE = -12.0
_BARE_UNDERLINE_SCORE = -14.0


def tiny_vocab() -> list[tuple[str, float]]:
    """Return the tiny tokenizer's vocabulary as ``(piece, score)`` pairs, in id order.

    Returns:
        The pieces, without duplicates: the three specials first (``<pad>``, ``</s>``, ``<unk>``),
        then whole words, sub-words, the bare ``▁``, single characters and punctuation.
    """
    pieces: list[tuple[str, float]] = [(p, 0.0) for p in _SPECIAL_PIECES]
    seen: set[str] = set(_SPECIAL_PIECES)

    def add(piece: str, score: float) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append((piece, score))

    for word in WHOLE_WORDS:
        # Shorter words are more frequent in English: a slightly higher score keeps ties deterministic.
        add(SPIECE_UNDERLINE + word, _WORD_SCORE - 0.01 * len(word))
    for start in WORD_STARTS:
        add(SPIECE_UNDERLINE + start, _SUBWORD_SCORE)
    for cont in CONTINUATIONS:
        add(cont, _SUBWORD_SCORE)
    add(SPIECE_UNDERLINE, _BARE_UNDERLINE_SCORE)
    for char in string.ascii_lowercase + string.ascii_uppercase + string.digits:
        add(SPIECE_UNDERLINE + char, _CHAR_SCORE)
        add(char, _CHAR_SCORE)
    for char in PUNCTUATION:
        add(SPIECE_UNDERLINE + char, _CHAR_SCORE)
        add(char, _CHAR_SCORE)
    return pieces


def build_tiny_tokenizer(model_max_length: int = 512) -> T5Tokenizer:
    """Build the hand-made Unigram T5 tokenizer of the tiny pipeline (no files, no network).

    Args:
        model_max_length: The tokenizer's ``model_max_length``; Wan pads to ``max_sequence_length``
            anyway, this only bounds truncation when no length is given.

    Returns:
        A fast (tokenizers-backed) ``T5Tokenizer`` with ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2,
        that appends ``</s>`` to every sequence and supports ``return_offsets_mapping=True``.

    Example:
        >>> tok = build_tiny_tokenizer()
        >>> tok.convert_ids_to_tokens(tok("a romantic kiss").input_ids)
        ['▁a', '▁romantic', '▁ki', 'ss', '</s>']
    """
    tokenizer = T5Tokenizer(vocab=tiny_vocab(), extra_ids=0, model_max_length=model_max_length)
    ids = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id)
    if ids != (0, 1, 2):  # pragma: no cover - guards against a transformers change
        raise ConfigError(f"tiny tokenizer: expected <pad>, </s>, <unk> to be ids 0, 1, 2, got {ids}")
    return tokenizer


__all__ = ["build_tiny_tokenizer", "tiny_vocab"]

"""Map the marked words of a prompt to the T5 tokens the model's text encoder sees.

The clean prompt is tokenized exactly as the T5 pipelines' ``_get_t5_prompt_embeds`` does (Wan's, ...)
(``padding="max_length"``, ``max_length=max_sequence_length``, ``truncation=True``,
``add_special_tokens=True``), plus ``return_offsets_mapping=True``, which needs a fast
(tokenizers-backed) tokenizer. A token belongs to a target when its character range overlaps one of
the target's spans, so a token that covers more than the word (``(kiss)es`` → ``▁kisses``) is
included.

Left out of every target:

* special tokens (``</s>``, ``<pad>``) and padding;
* bare ``▁`` pieces. SentencePiece-style tokenizers emit a lone ``▁`` before a word whose first
  piece has no ``▁``-prefixed form, and give it the offsets of the next character (``"a é"`` →
  ``▁a`` (0, 1), ``▁`` (2, 3), ``<unk>`` (2, 3)): it overlaps the word but carries no content.

``<unk>`` tokens are kept (they are where the word is; a warning is logged).

A family whose pipeline wraps the prompt in a chat template and cuts the template's leading tokens off the
encoder's output (:class:`~attention_visual.families.PromptTemplate`; HunyuanVideo-1.5) is tokenized as
that pipeline does: the chat rendered by the tokenizer's own template, tokenized without special tokens
to ``max_sequence_length + cut`` tokens; a family whose pipeline fills a template string instead
(:class:`~attention_visual.families.FormatTemplate`; HunyuanVideo) is tokenized with the tokenizer's own
special tokens (its BOS is among the tokens cut). The token positions of the words are then counted after the
cut (where the text keys start); the ids stay the whole sequence the encoder sees.

A family whose tokenizer pads on the left (Gemma: LTX-2) is tokenized that way (``padding_side``); where
its model moves the real tokens to the front of the text keys (``real_first``: LTX-2's connector), a
word's ``token_indices`` are its positions among the real tokens, the text keys it is read from, while
``input_ids`` stay the padded sequence the text encoder sees.

Example:
    >>> from attention_visual.models.tiny_tokenizer import build_tiny_tokenizer
    >>> tokenized = tokenize_marked(build_tiny_tokenizer(), "A romantic (kiss) with (flowers)", 16)
    >>> [(t.word, t.token_indices, t.token_pieces) for t in tokenized.targets]
    [('kiss', (2, 3), ('▁ki', 'ss')), ('flowers', (5, 6), ('▁flow', 'ers'))]
    >>> tokenized.num_real_tokens  # 7 pieces + </s>
    8
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attention_visual.errors import ConfigError, PromptError
from attention_visual.families.spec import FormatTemplate, PromptTemplate, Template
from attention_visual.prompts.parsing import MarkedPrompt, Target, TargetLookup, parse_prompt

if TYPE_CHECKING:  # transformers is heavy: only the type is needed here
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

SPIECE_UNDERLINE = "▁"
"""The SentencePiece word-boundary marker; a piece that is only this carries no content."""
_SENTINEL = "\ue000prompt\ue001"
"""Stands for the prompt while a chat template is rendered (private-use characters: not in a prompt)."""


@dataclass(frozen=True)
class TargetTokens(Target):
    """A marked word and the tokenizer pieces that carry it.

    A *word* is a marked target of the prompt, a *token* a piece of the tokenizer: this is the
    :class:`~attention_visual.prompts.parsing.Target` (same ``word`` and ``spans``) with its tokens added,
    so a ``TargetTokens`` is a ``Target`` and :attr:`target` gives back the plain one.

    Attributes:
        word: The target word, as in :attr:`MarkedPrompt.words`.
        spans: The word's ``[start, end)`` character ranges in the clean prompt.
        token_indices: Positions among the text keys (the padded token sequence after a template's cut; with
            ``real_first``, the positions among the real tokens), ascending, over all occurrences of the word.
        token_ids: The vocabulary ids at those positions.
        token_pieces: The token strings at those positions (e.g. ``('▁ki', 'ss')``).

    Example:
        >>> t = TargetTokens(word="kiss", spans=((11, 15),), token_indices=(2, 3), token_ids=(7, 8),
        ...                  token_pieces=("▁ki", "ss"))
        >>> t.target
        Target(word='kiss', spans=((11, 15),))
        >>> isinstance(t, Target)
        True
    """

    token_indices: tuple[int, ...]
    token_ids: tuple[int, ...]
    token_pieces: tuple[str, ...]

    @property
    def target(self) -> Target:
        """The marked word without its tokens (equal to the parsed prompt's :class:`Target`)."""
        return Target(word=self.word, spans=self.spans)


@dataclass(frozen=True)
class TokenizedPrompt(TargetLookup[TargetTokens]):
    """A marked prompt tokenized as the pipeline does, with its words mapped to tokens.

    Attributes:
        prompt: The parsed prompt.
        max_sequence_length: The padded length of the text keys (the pipeline call's ``max_sequence_length``).
        input_ids: The token ids the text encoder sees, padded (a template's leading tokens included).
            # [cut + max_sequence_length]
        attention_mask: 1 for real tokens (text and ``</s>``), 0 for padding. # [cut + max_sequence_length]
        num_real_tokens: The number of non-pad text keys, ``</s>`` included (``sum(attention_mask) - cut``);
            Wan, say, zeroes the text embeddings beyond it.
        pieces: The token strings of the real text keys. # [num_real_tokens]
        targets: One entry per target word, in the prompt's order.
        cut: Leading template tokens the pipeline cuts off the encoder's output (0 without a template).
    """

    prompt: MarkedPrompt
    max_sequence_length: int
    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    num_real_tokens: int
    pieces: tuple[str, ...]
    targets: tuple[TargetTokens, ...]
    cut: int = 0


def tokenize_marked(
    tokenizer: PreTrainedTokenizerBase,
    marked: MarkedPrompt | str,
    max_sequence_length: int = 512,
    template: Template | None = None,
    *,
    padding_side: str = "right",
    real_first: bool = False,
) -> TokenizedPrompt:
    """Tokenize a marked prompt as the pipeline does and find the tokens of each target word.

    Args:
        tokenizer: The pipeline's tokenizer; it must be a fast one (offsets are needed).
        marked: A parsed prompt, or a marked prompt string to parse with :func:`parse_prompt`.
        max_sequence_length: The pipeline call's ``max_sequence_length`` (its family's default: Wan 512).
        template: The chat template or template string the family's pipeline wraps the prompt in (the
            family's ``text.template``), or None.
        padding_side: The side the pipeline pads on (its family's ``text.padding_side``).
        real_first: The model reads the real tokens first, whatever the padding side (``text.key_order``
            ``real_first``): the words' ``token_indices`` count the real tokens only.

    Returns:
        The token ids, attention mask, number of real tokens and the tokens of every target.

    Raises:
        ConfigError: If ``max_sequence_length`` is not an integer >= 2.
        PromptError: If the tokenizer is not a fast one (or has no chat template where one is needed), a
            target word is cut off by truncation or by the template's cut, or a target word maps to no
            token; also what :func:`parse_prompt` raises for a string.
    """
    if isinstance(max_sequence_length, bool) or not isinstance(max_sequence_length, int):
        raise ConfigError(f"max_sequence_length must be an integer, got {max_sequence_length!r}")
    if max_sequence_length < 2:
        raise ConfigError(f"max_sequence_length must be at least 2 (a token and </s>), got {max_sequence_length}")
    prompt = parse_prompt(marked) if isinstance(marked, str) else marked
    if not getattr(tokenizer, "is_fast", False):
        raise PromptError(
            f"{type(tokenizer).__name__} is not a fast (tokenizers-backed) tokenizer: mapping words to "
            "tokens needs return_offsets_mapping=True; load the tokenizer with use_fast=True"
        )

    if template is None:
        prefix, suffix = "", ""
    elif isinstance(template, FormatTemplate):
        prefix, suffix = template.parts()
    else:
        prefix, suffix = _template_parts(tokenizer, template, prompt.clean)
    cut = 0 if template is None else template.cut
    shift = len(prefix)  # where the prompt starts in the encoded text
    try:
        encoding = tokenizer(
            prefix + prompt.clean + suffix,
            padding="max_length",
            max_length=max_sequence_length + cut,
            truncation=True,
            add_special_tokens=template is None or template.add_special_tokens,  # a chat template writes its own
            padding_side=padding_side,
            return_attention_mask=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
    except NotImplementedError as error:
        raise PromptError(f"{type(tokenizer).__name__} cannot return offsets: {error}") from error
    input_ids: list[int] = list(encoding["input_ids"])
    attention_mask: list[int] = list(encoding["attention_mask"])
    special: list[int] = list(encoding["special_tokens_mask"])
    offsets: list[tuple[int, int]] = [(int(s) - shift, int(e) - shift) for s, e in encoding["offset_mapping"]]
    pieces = _pieces(tokenizer, input_ids)
    num_encoded = sum(1 for m in attention_mask if m)

    never = {tokenizer.pad_token_id, tokenizer.eos_token_id} - {None}
    real = [i for i, m in enumerate(attention_mask) if m]  # positions of the real tokens
    key_of = {i: n for n, i in enumerate(real)}  # position -> real rank
    # Positions of the prompt's tokens: real, not special, with a non-empty character range in the prompt.
    content = [
        i
        for i, token_id in enumerate(input_ids)
        if attention_mask[i]
        and not special[i]
        and token_id not in never
        and max(offsets[i][0], 0) < min(offsets[i][1], len(prompt.clean))
    ]
    covered_end = max((offsets[i][1] for i in content), default=0)
    truncated = num_encoded >= max_sequence_length + cut and covered_end < len(prompt.clean)
    if content and content[0] < cut:
        raise PromptError(
            f"the pipeline cuts {cut} template tokens off the text, but the prompt starts at token {content[0]}: "
            f"this tokenizer splits the template differently from the one the pipeline was made for"
        )

    targets: list[TargetTokens] = []
    for target in prompt.targets:
        if truncated and any(end > covered_end for _, end in target.spans):
            total = len(tokenizer(prompt.clean, add_special_tokens=True, verbose=False)["input_ids"])
            raise PromptError(
                f"word {target.word!r} is cut off: the prompt has {total} tokens, max_sequence_length is "
                f"{max_sequence_length}; shorten the prompt or raise max_sequence_length"
            )
        indices = tuple(
            i
            for i in content
            if pieces[i] != SPIECE_UNDERLINE
            and any(offsets[i][0] < end and offsets[i][1] > start for start, end in target.spans)
        )
        if not indices:
            raise PromptError(
                f"word {target.word!r} maps to no token: the tokenizer gives it only special tokens or bare "
                f"'{SPIECE_UNDERLINE}' pieces (tokens of the clean prompt: {[pieces[i] for i in real[cut:]]})"
            )
        ids = tuple(input_ids[i] for i in indices)
        keys = tuple((key_of[i] if real_first else i) - cut for i in indices)  # among the text keys
        if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
            logger.warning(
                "word %r contains characters the tokenizer does not know: its tokens are %s",
                target.word,
                [pieces[i] for i in indices],
            )
        targets.append(
            TargetTokens(
                word=target.word,
                token_indices=keys,
                token_ids=ids,
                token_pieces=tuple(pieces[i] for i in indices),
                spans=target.spans,
            )
        )

    return TokenizedPrompt(
        prompt=prompt,
        max_sequence_length=max_sequence_length,
        input_ids=tuple(input_ids),
        attention_mask=tuple(attention_mask),
        num_real_tokens=num_encoded - cut,
        pieces=tuple(pieces[i] for i in real[cut:]),
        targets=tuple(targets),
        cut=cut,
    )


def map_targets_to_tokens(
    tokenizer: PreTrainedTokenizerBase, marked: MarkedPrompt | str, max_sequence_length: int = 512
) -> tuple[TargetTokens, ...]:
    """Return the tokens of each target word of a marked prompt (see :func:`tokenize_marked`).

    Args:
        tokenizer: The pipeline's (fast) tokenizer.
        marked: A parsed prompt, or a marked prompt string.
        max_sequence_length: The pipeline call's ``max_sequence_length``.

    Returns:
        One :class:`TargetTokens` per target word, in the prompt's order.

    Raises:
        ConfigError: If ``max_sequence_length`` is not an integer >= 2.
        PromptError: As :func:`tokenize_marked`.
    """
    return tokenize_marked(tokenizer, marked, max_sequence_length).targets


def _template_parts(tokenizer: PreTrainedTokenizerBase, template: PromptTemplate, clean: str) -> tuple[str, str]:
    """``(prefix, suffix)``: the text the tokenizer's chat template writes before and after the prompt.

    Raises:
        PromptError: The tokenizer has no chat template, or its template does not write the prompt once,
            verbatim.
    """

    def render(text: str) -> str:
        try:
            rendered = tokenizer.apply_chat_template(
                template.messages(text), add_generation_prompt=template.add_generation_prompt, tokenize=False
            )
        except ValueError as error:  # no chat template
            raise PromptError(
                f"{type(tokenizer).__name__} cannot render the pipeline's chat template: {error}"
            ) from error
        return str(rendered)

    framed = render(_SENTINEL)
    if framed.count(_SENTINEL) != 1:
        raise PromptError("the tokenizer's chat template does not write the prompt exactly once")
    prefix, suffix = framed.split(_SENTINEL)
    if render(clean) != prefix + clean + suffix:
        raise PromptError("the tokenizer's chat template changes the prompt's text; the words cannot be located")
    return prefix, suffix


def _pieces(tokenizer: PreTrainedTokenizerBase, input_ids: list[int]) -> list[str]:
    """Return the token string of every id."""
    pieces: Any = tokenizer.convert_ids_to_tokens(input_ids)
    return [str(piece) for piece in pieces]


__all__ = ["SPIECE_UNDERLINE", "TargetTokens", "TokenizedPrompt", "map_targets_to_tokens", "tokenize_marked"]

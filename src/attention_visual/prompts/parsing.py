"""Parse prompts whose target words are marked with parentheses.

A researcher marks the words whose attention maps they want in parentheses::

    >>> p = parse_prompt("A romantic (kiss) between a man and woman with (flowers)")
    >>> p.clean
    'A romantic kiss between a man and woman with flowers'
    >>> p.words
    ('kiss', 'flowers')
    >>> p.targets[0].spans
    ((11, 15),)

Syntax
------
* ``(word)`` marks a target; a marker may hold several words: ``(red car)``.
* ``\\(`` and ``\\)`` are literal parentheses: they appear as ``(`` and ``)`` in the clean text and
  are not markers. A backslash before any other character is kept literally. So ``\\\\(`` is a
  backslash followed by a literal ``(``: a literal backslash right before a marker cannot be written.
* A prompt without markers is valid: it has no targets (a warning is logged).
* Unbalanced ``(``/``)``, nested markers (``((a))``, ``(a (b))``) and empty markers (``()``,
  ``(   )``) raise :class:`~attention_visual.errors.PromptError` naming the 1-based column of the
  offending parenthesis in the marked text (counted over the whole text, newlines included).

Decisions
---------
* **Clean text.** ``MarkedPrompt.clean`` is exactly what the model's text encoder sees: the text with
  the markers removed and escapes resolved, passed through the model family's cleaning
  (a :class:`~attention_visual.families.Cleaning`; Wan's is diffusers' ``prompt_clean``:
  ``ftfy.fix_text``, ``html.unescape`` twice, strip, whitespace runs collapsed to one space; some
  families clean nothing). Spans index this string. Without a cleaning, :func:`parse_prompt` uses the
  default family's (:func:`attention_visual.families.default_family`).
* **Repeated words.** A word marked more than once is ONE :class:`Target` with one span per
  occurrence, so its word map combines the token pieces of every occurrence (the attention
  store is keyed by word). Words are compared after cleaning, exactly and case-sensitively:
  ``(Kiss)`` and ``(kiss)`` are two targets. Targets are ordered by first appearance.
* **Whitespace inside a marker** is not part of the word: ``( kiss )`` gives the span of ``kiss``.
  It stays in the prompt, though: ``a( kiss)b`` is cleaned to ``a kissb``, as the model would see
  ``a kissb``. Whitespace between words of a marker is collapsed like everywhere else:
  ``(red \\t car)`` gives the word ``'red car'``.
* **A marker must not change how the text is cleaned.** One that splits an HTML entity
  (``&(amp;)``), a mojibake sequence or a letter and its combining accent (``(e)\\u0301``) raises
  ``PromptError`` rather than guessing; so, rarely, does one right next to mojibake that ftfy
  repairs only when it sees the whole line (its heuristics look at neighbouring characters).

How the spans are found
-----------------------
Cleaning changes lengths (``&amp;`` → ``&``, ``cafÃ©`` → ``café``, runs of whitespace → one
space), so offsets computed on the marked text would be wrong. Instead, two private-use characters
that do not occur in the prompt (U+E000/U+E001 unless taken) are inserted where the markers were,
the whole string goes through the cleaning's ``fix`` (Wan: ftfy + HTML unescape; neither touches
private-use characters nor treats them as whitespace), the sentinels are located and removed, and
the whitespace collapse (where the family collapses whitespace) is redone with a character-index map.
(ftfy repairs some mojibake only by re-encoding a whole line, which a private-use character blocks;
then ASCII punctuation absent from the prompt, such as ``{``/``}``, serves as sentinels instead; and
each pair is tried both where the parentheses were and moved inside the whitespace just inside the
marker, since ftfy's heuristics look at the neighbours.) Each try is checked against the cleaning of
the unmarked text and the first that reproduces it exactly is used; if none does, ``PromptError``,
never a wrong span.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import regex

from attention_visual.errors import PromptError
from attention_visual.families import Cleaning, default_family

logger = logging.getLogger(__name__)

OPEN = "("
CLOSE = ")"
ESCAPE = "\\"

_NON_SPACE = regex.compile(r"\S+")  # whitespace_clean collapses r"\s+"; its complement is r"\S"
_PRIVATE_USE = range(0xE000, 0xF900)
# Fall-back sentinels: ASCII that ftfy and html.unescape leave alone ('&', '#', ';', '<', '>' excluded).
_ASCII_SENTINELS = (("{", "}"), ("|", "~"), ("^", "`"), ("@", "$"), ("[", "]"), ("*", "+"), ("=", "_"))
_SNIPPET_RADIUS = 20

Span = tuple[int, int]
"""A ``[start, end)`` character range into :attr:`MarkedPrompt.clean`."""


@dataclass(frozen=True)
class Target:
    """A marked word (or group of words) and where it occurs in the clean prompt.

    Attributes:
        word: The target text as it appears in the clean prompt (whitespace inside the marker
            stripped, inner whitespace collapsed).
        spans: One ``[start, end)`` range into the clean prompt per marked occurrence, in order;
            ``clean[start:end] == word`` for each.
    """

    word: str
    spans: tuple[Span, ...]


TargetT = TypeVar("TargetT", bound=Target)


class TargetLookup(Generic[TargetT]):
    """Look-up of a prompt's targets by word: :class:`MarkedPrompt` and ``TokenizedPrompt`` share it."""

    targets: tuple[TargetT, ...]

    @property
    def words(self) -> tuple[str, ...]:
        """The target words, in order of first appearance."""
        return tuple(target.word for target in self.targets)

    def target(self, word: str) -> TargetT:
        """Return the target of ``word``.

        Args:
            word: A target word, as in :attr:`words`.

        Returns:
            That word's target (:class:`Target`, or ``TargetTokens`` for a ``TokenizedPrompt``).

        Raises:
            PromptError: If the word is not a target of this prompt (the message lists the targets).
        """
        for target in self.targets:
            if target.word == word:
                return target
        raise PromptError(f"word {word!r} is not marked in the prompt; marked words: {list(self.words)}")


@dataclass(frozen=True)
class MarkedPrompt(TargetLookup[Target]):
    """A prompt with marked target words, parsed by :func:`parse_prompt`.

    Attributes:
        marked: The prompt as written, with its parentheses and escapes.
        clean: The text the model sees (markers removed, cleaned as the model family's pipelines do).
        targets: The marked words, in order of first appearance, each once.

    Raises:
        PromptError: On construction, if a span is out of range or does not hold its word.
    """

    marked: str
    clean: str
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for target in self.targets:
            if target.word in seen:
                raise PromptError(f"word {target.word!r} is listed twice; give one Target with several spans")
            seen.add(target.word)
            if not target.spans:
                raise PromptError(f"word {target.word!r} has no span")
            for start, end in target.spans:
                if not 0 <= start < end <= len(self.clean) or self.clean[start:end] != target.word:
                    raise PromptError(
                        f"span ({start}, {end}) of word {target.word!r} does not hold the word "
                        f"in the clean prompt {self.clean!r}"
                    )


@dataclass(frozen=True)
class _Marker:
    """One ``(...)`` marker: where its ``(`` is in the marked text, its range in the unmarked text."""

    open_index: int  # index of "(" in the marked text
    start: int  # [start, end) in the unmarked text
    end: int


def parse_prompt(text: str, cleaning: Cleaning | None = None) -> MarkedPrompt:
    """Parse a prompt whose target words are marked with parentheses.

    Args:
        text: The prompt as written, e.g. ``"A romantic (kiss) between a man and woman with (flowers)"``.
            See the module docstring for the syntax.
        cleaning: How the model's pipeline cleans a prompt (its family's ``text.cleaning``); None: the
            default family's.

    Returns:
        The :class:`MarkedPrompt`: the text, its clean form (what the model sees) and the targets
        with their spans into the clean form.

    Raises:
        PromptError: If a parenthesis is unbalanced, markers are nested, a marker is empty (also after
            cleaning), or a marker changes how the text around it is cleaned (it splits an HTML entity,
            say). The message names the 1-based column in ``text``.

    Example:
        >>> p = parse_prompt("a (red car) and a \\\\(small\\\\) (car) near the (car)")
        >>> p.clean
        'a red car and a (small) car near the car'
        >>> [(t.word, t.spans) for t in p.targets]
        [('red car', ((2, 9),)), ('car', ((24, 27), (37, 40)))]
    """
    if cleaning is None:
        cleaning = default_family().text.cleaning
    unmarked, markers = _scan(text)
    located = _locate(unmarked, markers, cleaning)
    if located is None:
        raise _mismatch_error(text, unmarked, markers, cleaning)
    clean, maybe_spans = located
    spans: list[Span] = []
    for marker, span in zip(markers, maybe_spans, strict=True):
        if span is None:
            raise _located_error(
                "marker '(' is empty after cleaning",
                text,
                marker.open_index,
                "it holds only whitespace, HTML entities of whitespace or characters ftfy removes",
            )
        spans.append(span)

    grouped: dict[str, list[Span]] = {}
    for span in spans:
        grouped.setdefault(clean[span[0] : span[1]], []).append(span)
    targets = tuple(Target(word=word, spans=tuple(word_spans)) for word, word_spans in grouped.items())
    if not targets:
        logger.warning("prompt %r has no marked words: no word maps will be computed (mark targets as '(word)')", text)
    return MarkedPrompt(marked=text, clean=clean, targets=targets)


def _scan(text: str) -> tuple[str, list[_Marker]]:
    """Remove markers and escapes, recording each marker's place.

    Args:
        text: The marked prompt.

    Returns:
        The unmarked text (escapes resolved, not yet cleaned) and the markers in order.

    Raises:
        PromptError: On unbalanced, nested or empty markers.
    """
    chars: list[str] = []
    markers: list[_Marker] = []
    open_index: int | None = None
    open_start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ESCAPE and i + 1 < len(text) and text[i + 1] in (OPEN, CLOSE):
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == OPEN:
            if open_index is not None:
                raise _located_error(
                    "nested '('",
                    text,
                    i,
                    f"the marker opened at column {open_index + 1} is still open; write a literal parenthesis as '\\('",
                )
            open_index, open_start = i, len(chars)
        elif ch == CLOSE:
            if open_index is None:
                raise _located_error("unbalanced ')'", text, i, "write a literal one as '\\)'")
            if not "".join(chars[open_start:]).strip():
                raise _located_error("empty marker '('", text, open_index)
            markers.append(_Marker(open_index, open_start, len(chars)))
            open_index = None
        else:
            chars.append(ch)
        i += 1
    if open_index is not None:
        raise _located_error("unbalanced '('", text, open_index, "write a literal one as '\\('")
    return "".join(chars), markers


def _locate(unmarked: str, markers: list[_Marker], cleaning: Cleaning) -> tuple[str, list[Span | None]] | None:
    """Clean ``unmarked`` as the model's pipeline does and carry the marker ranges through.

    Tries the sentinel pairs of :func:`_sentinel_pairs` in turn, each in two placements, and keeps the
    first whose cleaned text, sentinels removed, equals ``cleaning(unmarked)``.

    Args:
        unmarked: The text without markers and escapes.
        markers: The markers, with ranges into ``unmarked``.
        cleaning: The pipeline's cleaning.

    Returns:
        The clean text and, per marker, its span into it (inner whitespace excluded; ``None`` if the
        marker holds nothing after cleaning), or ``None`` if no sentinel pair reproduces the reference
        cleaning (a marker splits an HTML entity, say).
    """
    reference = cleaning(unmarked)
    for opening, closing in _sentinel_pairs(unmarked):
        for hug in (True, False):
            located = _clean_with_sentinels(unmarked, markers, opening, closing, cleaning, hug=hug)
            if located is not None and located[0] == reference:
                return located
            logger.debug("sentinels %r/%r (hug=%s) change the cleaning of %r", opening, closing, hug, unmarked)
    return None


def _clean_with_sentinels(
    unmarked: str, markers: list[_Marker], opening: str, closing: str, cleaning: Cleaning, *, hug: bool
) -> tuple[str, list[Span | None]] | None:
    """Insert sentinels at the markers, clean, and map the sentinel positions into the clean text.

    Args:
        unmarked: The text without markers and escapes.
        markers: The markers, with ranges into ``unmarked``.
        opening: The sentinel put where each ``(`` was.
        closing: The sentinel put where each ``)`` was.
        cleaning: The pipeline's cleaning (``fix``, then the whitespace collapse if it collapses).
        hug: Put the sentinels next to the marked text, inside any whitespace just inside the marker,
            rather than where the parentheses were. Either way that whitespace is not part of the
            word, but ftfy's mojibake heuristics look at neighbouring characters, so one placement
            can change what gets repaired where the other does not.

    Returns:
        The cleaned text and one span per marker (``None`` for a marker that is empty after cleaning),
        or ``None`` if cleaning lost, added or reordered a sentinel. The caller checks that the text
        equals the reference cleaning.
    """
    pieces: list[str] = []
    previous = 0
    for marker in markers:
        start, end = marker.start, marker.end
        if hug:
            inner = unmarked[start:end]
            start, end = start + len(inner) - len(inner.lstrip()), end - (len(inner) - len(inner.rstrip()))
        pieces += [unmarked[previous:start], opening, unmarked[start:end], closing]
        previous = end
    pieces.append(unmarked[previous:])
    joined = "".join(pieces)
    cleaned = cleaning.fix(joined) if cleaning.fix is not None else joined  # Wan: ftfy + html.unescape twice + strip

    # Remove the sentinels, remembering where they were: [2k] opens and [2k + 1] closes marker k.
    plain: list[str] = []
    kinds: list[str] = []
    bounds: list[int] = []
    for ch in cleaned:
        if ch in (opening, closing):
            kinds.append(ch)
            bounds.append(len(plain))
        else:
            plain.append(ch)
    if kinds != [opening, closing] * len(markers):
        return None
    before_collapse = "".join(plain)
    if not cleaning.collapse_whitespace:
        pairs = [(bounds[2 * k], bounds[2 * k + 1]) for k in range(len(markers))]
        return before_collapse, [(a, b) if a < b else None for a, b in pairs]

    # whitespace_clean: r"\s+" -> " ", strip; i.e. the non-space runs joined by one space.
    # new_index[i] is where before_collapse[i] lands in the clean text, -1 for dropped whitespace.
    new_index = [-1] * len(before_collapse)
    runs: list[str] = []
    position = 0
    for match in _NON_SPACE.finditer(before_collapse):
        if runs:
            position += 1
        for i in range(match.start(), match.end()):
            new_index[i] = position + i - match.start()
        position += match.end() - match.start()
        runs.append(match.group())

    spans: list[Span | None] = []
    for k in range(len(markers)):
        kept = [new_index[i] for i in range(bounds[2 * k], bounds[2 * k + 1]) if new_index[i] >= 0]
        spans.append((kept[0], kept[-1] + 1) if kept else None)
    return " ".join(runs), spans


def _sentinel_pairs(text: str) -> Iterator[tuple[str, str]]:
    """Yield pairs of sentinel characters absent from ``text``, the most robust first.

    First two private-use characters (U+E000 and U+E001 unless taken): nothing in ftfy or
    ``html.unescape`` touches them. But ftfy repairs some mojibake (e.g. with U+FFFD in it) only by
    re-encoding a whole line to bytes, which a non-Latin-1 character prevents; ASCII punctuation
    survives that round trip, so a few such pairs follow as fall-backs.
    """
    present = set(text)
    free = (chr(code) for code in _PRIVATE_USE if chr(code) not in present)
    opening, closing = next(free, None), next(free, None)
    if opening is not None and closing is not None:
        yield opening, closing
    for opening, closing in _ASCII_SENTINELS:
        if opening not in present and closing not in present:
            yield opening, closing


def _mismatch_error(text: str, unmarked: str, markers: list[_Marker], cleaning: Cleaning) -> PromptError:
    """Build the error for markers that change how the prompt is cleaned, naming the first culprit.

    Args:
        text: The marked prompt.
        unmarked: The text without markers and escapes.
        markers: All markers of the prompt.
        cleaning: The pipeline's cleaning.

    Returns:
        A PromptError pointing at the first marker that, alone, changes the cleaned text.
    """
    culprit = markers[0] if markers else None
    for marker in markers:
        if _locate(unmarked, [marker], cleaning) is None:
            culprit = marker
            break
    if culprit is None:  # pragma: no cover - without markers the two cleanings are the same call
        return PromptError(f"cleaning the prompt {text!r} is not reproducible")
    return _located_error(
        "marker '(' changes how the text around it is cleaned",
        text,
        culprit.open_index,
        "it splits or touches an HTML entity like '&amp;', mojibake that ftfy repairs, or a letter and "
        "its accent; move the parentheses",
    )


def _located_error(what: str, text: str, index: int, hint: str = "") -> PromptError:
    """Return ``PromptError('<what> at column N: "<snippet>" (<hint>)')`` for ``text[index]``.

    Args:
        what: What is wrong, e.g. ``"unbalanced '('"``.
        text: The marked prompt.
        index: The 0-based index of the offending character in ``text``.
        hint: How to fix it; appended in parentheses when given.

    Returns:
        The error, its message on one line.
    """
    message = f'{what} at column {index + 1}: "{_snippet(text, index)}"'
    return PromptError(f"{message} ({hint})" if hint else message)


def _snippet(text: str, index: int) -> str:
    """Return up to 20 characters either side of ``text[index]`` on one line, ``…`` where cut."""
    start, end = max(0, index - _SNIPPET_RADIUS), min(len(text), index + _SNIPPET_RADIUS + 1)
    snippet = text[start:end].replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")


__all__ = ["MarkedPrompt", "Span", "Target", "TargetLookup", "parse_prompt"]

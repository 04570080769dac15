"""Fonts for words in any script: a fallback chain of installed fonts for every text matplotlib draws.

Wan's text encoder is multilingual and many prompts are Chinese, but matplotlib's default font
(DejaVu Sans) has no CJK or emoji glyphs: such words would be drawn as empty boxes. Every title,
label, colorbar and legend here is drawn with :func:`font_families`: DejaVu Sans first, then the
first installed CJK font and the first installed (outline) emoji font, which matplotlib (>= 3.6)
uses glyph by glyph where the font before lacks one.

Without any CJK font, :func:`check_text` logs one warning (per process) that names the package to
install. Fonts installed after matplotlib built its font cache are found by their file names.

Example:
    >>> families = font_families()  # doctest: +SKIP
    >>> families                    # doctest: +SKIP
    ('DejaVu Sans', 'Droid Sans Fallback')
    >>> fig.text(0.5, 0.5, "猫", fontfamily=list(families))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from pathlib import Path

from matplotlib import font_manager

log = logging.getLogger(__name__)

BASE_FAMILY = "DejaVu Sans"
#: CJK fonts in order of preference, by family name, with a file-name stem to find fresh installs.
CJK_FONTS = {
    "Noto Sans CJK SC": "NotoSansCJK",
    "Noto Sans CJK JP": "NotoSansCJK",
    "Source Han Sans SC": "SourceHanSans",
    "WenQuanYi Zen Hei": "wqy-zenhei",
    "WenQuanYi Micro Hei": "wqy-microhei",
    "Droid Sans Fallback": "DroidSansFallback",
    "AR PL UMing CN": "uming",
    "Unifont": "unifont",
}
#: Emoji fonts matplotlib can draw (outlines; colour bitmap fonts such as Noto Color Emoji it cannot).
EMOJI_FONTS = {"Noto Emoji": "NotoEmoji-", "Symbola": "Symbola", "OpenMoji": "OpenMoji-black"}
#: The Debian/Ubuntu package the warning suggests (small: 2 MB; `.ci/run` installs it).
CJK_PACKAGE = "fonts-droid-fallback"

# Unicode blocks of CJK scripts: radicals to Yi, Hangul syllables, compatibility ideographs, half/full width,
# and the supplementary ideograph planes.
_CJK_RANGES = ((0x2E80, 0xA4CF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x3134F))


def is_cjk(text: str) -> bool:
    """Whether ``text`` has a Chinese, Japanese or Korean character."""
    return any(lo <= ord(c) <= hi for c in text for lo, hi in _CJK_RANGES)


def pick_families(installed: Collection[str]) -> list[str]:
    """The fallback chain from the ``installed`` family names: base, first CJK font, first emoji font."""
    chain = [BASE_FAMILY]
    chain += [name for name in CJK_FONTS if name in installed][:1]
    chain += [name for name in EMOJI_FONTS if name in installed][:1]
    return chain


def missing_cjk_message(families: Collection[str]) -> str | None:
    """The warning for a chain without a CJK font, or None when it has one."""
    if any(name in CJK_FONTS for name in families):
        return None
    return (
        "no CJK font is installed: Chinese, Japanese and Korean words are drawn as empty boxes in "
        f"attention videos and plots; install one (Debian/Ubuntu: apt-get install {CJK_PACKAGE}; or "
        "Noto Sans CJK) and run again"
    )


@functools.cache
def font_families() -> tuple[str, ...]:
    """The fallback chain of this machine's fonts (looked up once per process)."""
    manager = font_manager.fontManager
    known = {f.name for f in manager.ttflist}
    wanted = {**CJK_FONTS, **EMOJI_FONTS}
    if not any(name in known for name in CJK_FONTS) or not any(name in known for name in EMOJI_FONTS):
        # Installed after matplotlib cached its font list? Register the files by name.
        stems = {stem for name, stem in wanted.items() if name not in known}
        for path in font_manager.findSystemFonts():
            if any(Path(path).name.startswith(stem) for stem in stems):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    log.debug("cannot load font %s", path)
        known = {f.name for f in manager.ttflist}
    return tuple(pick_families(known))


@functools.cache
def _warn_missing_cjk() -> None:
    message = missing_cjk_message(font_families())
    if message is not None:
        log.warning(message)


def check_text(text: str) -> None:
    """Warn once per process when ``text`` has CJK characters and no CJK font is installed."""
    if is_cjk(text):
        _warn_missing_cjk()


__all__ = [
    "BASE_FAMILY",
    "CJK_FONTS",
    "CJK_PACKAGE",
    "EMOJI_FONTS",
    "check_text",
    "font_families",
    "is_cjk",
    "missing_cjk_message",
    "pick_families",
]

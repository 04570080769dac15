"""CJK and emoji words are drawn with real glyphs, not the missing-glyph box; without a CJK font, one warning."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from attention_visual.render.fonts import (
    CJK_FONTS,
    CJK_PACKAGE,
    font_families,
    is_cjk,
    missing_cjk_message,
    pick_families,
)
from attention_visual.render.text import TextRenderer
from attention_visual.storage import word_dir_name

NO_GLYPH = "\U000f0000"  # a private-use character no font draws: matplotlib's missing-glyph box

needs_cjk_font = pytest.mark.skipif(
    not any(name in CJK_FONTS for name in font_families()),
    reason=f"no CJK font installed (apt-get install {CJK_PACKAGE}; .ci/run installs it)",
)


@needs_cjk_font
def test_a_cjk_word_is_drawn_with_its_glyphs_not_boxes(caplog: pytest.LogCaptureFixture) -> None:
    text = TextRenderer(fontsize=24, dpi=100)
    with caplog.at_level(logging.WARNING):
        cat, dog, box = text.mask("猫"), text.mask("狗"), text.mask(NO_GLYPH)  # [h, w] coverage each
    assert cat.max() == 255 and dog.max() == 255
    width = max(cat.shape[1], box.shape[1])
    padded = [np.pad(m, ((0, 0), (0, width - m.shape[1]))) for m in (cat, box)]
    assert not np.array_equal(*padded)  # not the box
    assert cat.shape != dog.shape or not np.array_equal(cat, dog)  # two characters look different
    assert "no CJK font" not in caplog.text


def test_the_chain_falls_back_from_the_base_font_to_cjk_and_emoji() -> None:
    installed = {"DejaVu Sans", "WenQuanYi Zen Hei", "Droid Sans Fallback", "Symbola"}
    assert pick_families(installed) == ["DejaVu Sans", "WenQuanYi Zen Hei", "Symbola"]
    assert missing_cjk_message(pick_families(installed)) is None


def test_without_a_cjk_font_the_warning_names_the_package() -> None:
    message = missing_cjk_message(pick_families({"DejaVu Sans"}))
    assert message is not None and f"apt-get install {CJK_PACKAGE}" in message
    assert is_cjk("猫") and is_cjk("고양이") and is_cjk("ねこ") and not is_cjk("cat ü")


def test_folder_names_of_cjk_and_emoji_words_are_safe_and_distinct() -> None:
    names = {word: word_dir_name(word) for word in ("猫", "狗", "🐱", "猫 cat", "ねこ", "../小猫")}
    assert len(set(names.values())) == len(names)
    for name in names.values():
        assert re.fullmatch(r"[\w-]+", name) and not name.startswith(("-", "_")), name
    assert names["猫"].startswith("猫-") and names["ねこ"].startswith("ねこ-")  # readable
    assert names["../小猫"].startswith("小猫-") and names["猫 cat"].startswith("cat-")

"""The code follows docs/glossary.md: "token" means a token piece, never a marked word or a grid cell.

Identifiers that use "token" for a word (``token_word``, ``token_dir_name``, ``get_available_tokens``, a
parameter named ``token``) or for a grid cell (``token_grid``, ``TokenGrid``, ``pixels_per_token``,
``video_token``) may appear only where the glossary keeps them: the documented aliases and the stored
keys of the first version, listed in :data:`ALLOWED`. A new use anywhere else fails this test; use the
glossary's word instead (``word``, ``word_dir_name``, ``get_available_words``, ``LatentGrid``, cell).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import attention_visual

SRC = Path(attention_visual.__file__).parent

#: An identifier naming a word or a grid cell "token" (any case; ``_PIXELS_PER_TOKEN`` included).
MISNAMED = re.compile(r"token_?(word|dir|grid)|get_available_tokens|pixels_per_token|video_tokens?", re.I)
#: Parameter names that mean a marked word in this code base.
WORD_PARAMETERS = {"token", "token_word"}

#: Where the glossary keeps an older name: ``{module (relative to the package): {identifier: why}}``.
ALLOWED: dict[str, dict[str, str]] = {
    "storage/schema/metadata.py": {
        "token_word": "stored metadata key (MapMetadata.word reads it)",
        "token_grid": "stored metadata key",
        "TokenGrid": "documented alias of LatentGrid",
        "pixels_per_token": "stored metadata key",
    },
    "storage/__init__.py": {"TokenGrid": "re-exported alias", "token_dir_name": "re-exported alias"},
    "storage/files/layout.py": {"token_dir_name": "documented alias of word_dir_name"},
    "visualization/attention_analyzer.py": {"get_available_tokens": "documented alias of get_available_words"},
    "visualization/attention_visualizer.py": {"token_word": "keyword alias of word="},
    "capture/maps_io.py": {  # MapMetadata's stored keys, given by keyword
        "token_word": "stored metadata key",
        "token_grid": "stored metadata key",
        "pixels_per_token": "stored metadata key",
    },
}


def misnamed_identifiers(source: str) -> set[str]:
    """The identifiers of ``source`` (code, not strings or comments) that call a word or a grid cell "token"."""
    names = {
        t.string
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.NAME and MISNAMED.search(t.string)
    }
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg) and node.arg in WORD_PARAMETERS:
            names.add(node.arg)
    return names


def test_no_new_use_of_token_for_a_word_or_a_grid_cell() -> None:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        extra = misnamed_identifiers(path.read_text(encoding="utf-8")) - set(ALLOWED.get(module, {}))
        if extra:
            found[module] = sorted(extra)
    assert not found, f"'token' for a word or a grid cell (docs/glossary.md): {found}"


def test_the_allow_list_is_not_stale() -> None:
    """Every allowed name is still used where it is allowed (shrink the list as the renames land)."""
    stale = {
        module: sorted(set(names) - misnamed_identifiers((SRC / module).read_text(encoding="utf-8")))
        for module, names in ALLOWED.items()
    }
    assert not {m: n for m, n in stale.items() if n}, stale


def test_the_check_finds_what_it_must() -> None:
    code = "def load(video_id, token):\n    return meta.token_word, token_dir_name(w), TokenGrid(1, 2, 3)\n"
    assert misnamed_identifiers(code) == {"token", "token_word", "token_dir_name", "TokenGrid"}
    pieces = "tokens = tokenizer(text)\nids = token_ids[token_indices]  # a word's token pieces\ns = 'token_word'\n"
    assert misnamed_identifiers(pieces) == set()

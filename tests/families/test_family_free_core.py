"""The capture core, prompts, config, pipeline and storage name no model family and hold none of its constants.

What differs between families lives in ``attention_visual/families/<family>/``; this test reads the code
(identifiers and string literals, not docstrings or comments) of the layers that must stay family-free.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import attention_visual

pytestmark = pytest.mark.light

ROOT = Path(attention_visual.__file__).parent
FAMILY_FREE = ("capture", "prompts", "config", "pipeline", "storage")
#: A family's name, its pipeline or attention names, its text encoder: none may appear in the core's code.
NAMED = re.compile(r"(?i)wan(?![td])|cogvideo|ltx|hunyuan|skyreels|chronoedit|lucy|umt5|attn2|norm_q|norm_k")


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr)
    }


def _names(tree: ast.AST) -> list[tuple[int, str]]:
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.append((node.lineno, node.name))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
    return found


def test_the_scan_finds_a_family_constant() -> None:
    code = 'WAN_TEXT = 512\nx = "blocks.0.attn2"\nwant = 1'
    assert [text for _, text in _names(ast.parse(code)) if NAMED.search(text)] == ["WAN_TEXT", "blocks.0.attn2"]
    assert _names(ast.parse('"""Wan docs are fine."""')) == []


@pytest.mark.parametrize("package", FAMILY_FREE)
def test_the_package_names_no_family(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in _names(ast.parse(path.read_text(encoding="utf-8")))
        if NAMED.search(text)
    ]
    assert not offenders, "family facts outside attention_visual/families:\n" + "\n".join(offenders)

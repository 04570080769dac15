"""The curated top-level API: every name in __all__ resolves, and nothing else is advertised."""

from __future__ import annotations

import subprocess
import sys

import attention_visual


def test_all_names_resolve_to_their_defining_objects() -> None:
    assert set(attention_visual.__all__) == {"__version__", *attention_visual._EXPORTS}
    for name in attention_visual.__all__:
        obj = getattr(attention_visual, name)
        if name != "__version__":
            assert getattr(obj, "__name__", name) == name, name


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        attention_visual.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_import_torch() -> None:
    code = (
        "import sys, attention_visual, attention_visual.cli.main as m; m.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

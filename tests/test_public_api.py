"""The public API: what `chronoq` exports, what the API reference documents, and
what the README imports are one list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import chronoq

ROOT = Path(__file__).resolve().parent.parent


def test_every_export_resolves_and_is_documented_once() -> None:
    documented = re.findall(r"^::: chronoq\.(\w+)$", (ROOT / "docs/reference.md").read_text(), re.M)
    assert sorted(documented) == sorted(chronoq.__all__)
    assert len(set(documented)) == len(documented)
    for name in chronoq.__all__:
        assert getattr(chronoq, name).__module__.startswith("chronoq.")


def test_what_the_readme_imports_from_chronoq_is_exported() -> None:
    readme = (ROOT / "README.md").read_text()
    imported: set[str] = set()
    for names in re.findall(r"^\s*from chronoq import \(?([^)\n]+)\)?", readme, re.M):
        imported.update(name.strip() for name in names.split(",") if name.strip())
    assert imported, "the README imports nothing from chronoq?"
    assert imported <= set(chronoq.__all__), imported - set(chronoq.__all__)


def test_the_lazy_exports_are_the_type_checking_imports_and_all() -> None:
    """chronoq loads its names on first use (PEP 562): the table it loads them from,
    the imports type checkers read and __all__ name the same things."""
    tree = ast.parse(Path(chronoq.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {
        alias.asname or alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == chronoq._EXPORTS
    assert sorted(chronoq.__all__) == sorted(chronoq._EXPORTS)
    assert isinstance(chronoq.__version__, str)
    assert "App" in dir(chronoq)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = chronoq.Nope  # type: ignore[attr-defined]

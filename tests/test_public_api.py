"""The public API: what `chronoq` exports, what the API reference documents, and
what the README imports are one list."""

from __future__ import annotations

import re
from pathlib import Path

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

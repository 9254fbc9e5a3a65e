"""The API reference pages (docs/reference/*.md) do not say again what the docstrings they
render say: a page's own prose shares no run of six words with its modules' docstrings."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs" / "reference").glob("*.md"))
DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.MULTILINE)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def runs(text: str, n: int = 6) -> set[tuple[str, ...]]:
    found = words(text)
    return {tuple(found[i : i + n]) for i in range(len(found) - n + 1)}


def docstring(dotted: str) -> str:
    """The docstring mkdocstrings renders for ``dotted`` (a module, or an object in one)."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        obj = importlib.import_module(dotted)
    except ImportError:
        obj = getattr(importlib.import_module(module_name), attr)
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_prose_does_not_repeat_its_docstrings(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = DIRECTIVE.findall(text)
    assert targets, f"{page.name} renders nothing"
    prose = "\n".join(
        line for line in text.splitlines() if not line.startswith(("#", ":::", "    "))
    )
    for target in targets:
        repeated = runs(prose) & runs(docstring(target))
        assert not repeated, f"{page.name} repeats {target}'s docstring: {sorted(repeated)[0]}"


def test_the_check_finds_a_repeat() -> None:
    """The sentence runtime.md used to open with, which the module docstring also says."""
    old = "Everything generated code and users need is importable from `rpcgen.runtime`."
    assert runs(old) & runs(docstring("rpcgen.runtime"))

"""Shared constants and helpers of the generator's tests (a plain module: test files import it,
which they cannot safely do with ``conftest``, a name every test folder uses)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    """A console script of the running virtualenv (ruff, mypy), where pip put it."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable}; pip install -e '.[dev]'"
    return found

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


# An IDL of events only: those of a Nameko service it does not implement (tests/codegen's
# test_idl_events.py builds it, test_generated_events_broker.py serves what it generates).
CATALOG_IDL = '''\
"""Events of a Nameko service this IDL does not implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rpcgen import event, service


@dataclass
class Notice:
    sku: str
    count: int


@service("catalog")
class Catalog(Protocol):
    @event("item:changed")
    def item_changed(self, payload: Notice) -> None:
        """An item changed."""

    @event("counts")
    def counts(self, payload: dict[str, int]) -> None: ...
'''

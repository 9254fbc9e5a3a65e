"""``rpcgen diff`` over an IDL tree whose modules share types: a change to a shared record is
judged by every method and event of every module that uses it, and names them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from rpcgen.cli import app
from typer.testing import CliRunner

COMMON = """
import dataclasses


@dataclasses.dataclass
class Money:
    amount: int
    currency: str = "EUR"
"""

BILLING = """
import dataclasses
from typing import Protocol

from rpcgen import event, service

from ..common import Money


@dataclasses.dataclass
class Paid:
    total: Money


@service("billing")
class Billing(Protocol):
    def charge(self, money: Money) -> None: ...

    @event("paid")
    def paid(self, payload: Paid) -> None: ...
"""

SHOP = """
from typing import Protocol

from idl.common import Money
from rpcgen import service


@service("shop")
class Shop(Protocol):
    def price(self, sku: str) -> Money: ...
"""


def _tree(root: Path, common: str) -> Path:
    files = {"common.py": common, "billing/invoice.py": BILLING, "shop.py": SHOP}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), "utf-8")
    return root


def _changes(tmp_path: Path, new_common: str) -> list[dict[str, object]]:
    old = _tree(tmp_path / "a" / "idl", COMMON)
    new = _tree(tmp_path / "b" / "idl", new_common)
    result = CliRunner().invoke(app, ["diff", str(old), str(new), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    changes: list[dict[str, object]] = json.loads(result.stdout)["changes"]
    return changes


def test_a_shared_field_change_is_judged_by_every_method_and_event_that_uses_it(
    tmp_path: Path,
) -> None:
    changes = _changes(tmp_path, COMMON.replace("amount: int", "amount: str"))
    assert [(c["where"], c["change"], c["verdict"]) for c in changes] == [
        ("common.Money.amount", "field type int -> str", "breaks callers and servers")
    ]
    why = str(changes[0]["why"])
    assert why.endswith("used by billing.charge, billing.events.paid, shop.price"), why


def test_a_shared_type_used_only_in_results_and_events_follows_the_result_rule(
    tmp_path: Path,
) -> None:
    """A required field added to a shared record that is also a parameter breaks callers."""
    changes = _changes(tmp_path, COMMON.replace("amount: int\n", "amount: int\n    cents: int\n"))
    assert [(c["where"], c["verdict"]) for c in changes] == [
        ("common.Money.cents", "breaks callers and servers")
    ]

"""``rpcgen scaffold``: draft IDLs from Nameko service modules written for the test."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rpcgen.cli import app
from rpcgen.codegen.build import build
from rpcgen.codegen.load import load
from typer.testing import CliRunner

# Never importable here: nameko is not installed in this environment, and the module exits.
SHOP = '''
"""A Nameko shop."""
from decimal import Decimal

from nameko.rpc import rpc, RpcProxy
import nameko

raise SystemExit("scaffold must not import this module")


class ShopError(Exception):
    """Base of the shop's errors."""


class OutOfStock(ShopError):
    """Nothing left."""


class Helper:
    def not_a_service(self):
        pass


class Shop:
    """Sells things."""

    name = "shop"
    stock = RpcProxy("stock")

    @rpc
    def buy(self, item, qty=1, *, gift: bool = False):
        """Buy ``qty`` of ``item``.

        Charges the card on file.
        """
        return 1

    @rpc(expected_exceptions=(OutOfStock,))
    def price(self, item: str) -> Decimal:
        return Decimal("1")

    @nameko.rpc.rpc
    def ping(self) -> None:
        pass

    def helper(self, x):
        """Not an RPC method."""
'''

TYPED = """
from nameko.rpc import rpc


class Greeter:
    name = "greeter"

    @rpc
    def hello(self, name: str, greeting: str = "hello") -> str:
        return f"{greeting}, {name}"

    @rpc
    def add(self, a: int, b: "float") -> float:
        return a + b
"""


def _scaffold(tmp_path: Path, source: str, stem: str) -> tuple[Path, str]:
    module = tmp_path / f"{stem}.py"
    module.write_text(textwrap.dedent(source), "utf-8")
    idl = tmp_path / "idl"
    idl.mkdir(exist_ok=True)
    out = idl / f"{stem}.py"
    result = CliRunner().invoke(app, ["scaffold", str(module), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.stderr


def test_unannotated_parameters_are_refused_by_build_with_their_names(tmp_path: Path) -> None:
    out, stderr = _scaffold(tmp_path, SHOP, "shop")
    assert "3 type(s) left as Unknown (Shop.buy(item), Shop.buy(qty), Shop.buy(return))" in stderr
    problems = [str(e) for e in load(out.parent).errors]
    assert len(problems) == 3, problems
    for what in ("parameter 'item'", "parameter 'qty'", "return type"):
        assert any(
            f"Shop.buy: {what}: Unknown is the placeholder rpcgen scaffold wrote where the "
            "Nameko source does not say the type; replace it with the real type" in p
            for p in problems
        ), problems
    assert all(p.startswith(f"{out}:") for p in problems)


def test_filled_in_draft_builds_with_the_source_signatures(tmp_path: Path) -> None:
    out, _ = _scaffold(tmp_path, SHOP, "shop")
    text = out.read_text("utf-8")
    text = text.replace("item: Unknown", "item: str").replace("qty: Unknown", "qty: int")
    out.write_text(text.replace("-> Unknown", "-> int"), "utf-8")
    loaded = load(out.parent)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (module,) = loaded.modules
    (svc,) = module.services
    assert (svc.name, svc.wire_name, svc.doc) == ("Shop", "shop", "Sells things.")
    methods = {m.name: m for m in svc.methods}
    assert list(methods) == ["buy", "price", "ping"]
    buy = methods["buy"]
    assert [(p.name, p.type.expr, p.keyword_only, p.default) for p in buy.params] == [
        ("item", "str", False, None),
        ("qty", "int", False, "1"),
        ("gift", "bool", True, "False"),
    ]
    assert buy.doc == "Buy ``qty`` of ``item``.\n\nCharges the card on file."
    assert (methods["price"].result.expr, methods["price"].errors) == ("Decimal", ("OutOfStock",))
    assert {e.name: (e.exc_path, e.base) for e in module.errors} == {
        "ShopError": ("shop.ShopError", "rt.ServiceError"),
        "OutOfStock": ("shop.OutOfStock", "ShopError"),
    }


def test_annotated_module_builds_as_is(tmp_path: Path) -> None:
    out, stderr = _scaffold(tmp_path, TYPED, "greeter")
    assert "Unknown" not in stderr
    result = build(out.parent)
    assert not result.errors, [str(e) for e in result.errors]
    assert "def hello(self, name: str, greeting: str = 'hello') -> str:" in out.read_text()


def test_stdout_module_name_and_refusals(tmp_path: Path) -> None:
    source = tmp_path / "svc.py"
    source.write_text(textwrap.dedent(SHOP), "utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["scaffold", str(source), "--module", "services.shop"])
    assert result.exit_code == 0
    assert '@exc_path("services.shop.OutOfStock")' in result.stdout
    existing = tmp_path / "taken.py"
    existing.write_text("keep", "utf-8")
    result = runner.invoke(app, ["scaffold", str(source), "--out", str(existing)])
    assert result.exit_code == 1 and "exists" in result.stderr
    assert existing.read_text() == "keep"
    empty = tmp_path / "empty.py"
    empty.write_text("class Helper:\n    pass\n", "utf-8")
    result = runner.invoke(app, ["scaffold", str(empty)])
    assert result.exit_code == 1 and "no Nameko service found" in result.stderr


EVENTS = """
from dataclasses import dataclass

from nameko.events import BROADCAST, EventDispatcher, event_handler
from nameko.rpc import rpc


@dataclass
class Payment:
    amount: int


class Orders:
    name = "orders"
    dispatch = EventDispatcher()

    @rpc
    def create(self, product_id: str) -> int:
        self.dispatch("order_created", {"product_id": product_id})
        return 1


class Stock:
    name = "stock"

    @event_handler("orders", "order_created")
    def take(self, payload):
        pass

    @event_handler("payments", "paid", handler_type=BROADCAST, reliable_delivery=False)
    def note(self, payload: Payment):
        pass
"""


def test_events_dispatched_and_handled_become_event_declarations(tmp_path: Path) -> None:
    out, stderr = _scaffold(tmp_path, EVENTS, "shop")
    assert "orders.order_created(payload)" in stderr and stderr.count("order_created") == 1
    problems = [str(e) for e in load(out.parent).errors]
    assert len(problems) == 2, problems  # the Unknown payload, and Payment left to define
    assert "Orders.order_created: payload 'payload': Unknown is the placeholder" in problems[0]
    assert "name 'Payment' is not defined" in problems[1]
    text = out.read_text("utf-8")
    text = text.replace("payload: Unknown", "payload: dict[str, str]")
    text = text.replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nfrom dataclasses import dataclass\n",
        1,
    )
    out.write_text(text + "\n\n@dataclass\nclass Payment:\n    amount: int\n", "utf-8")
    loaded = load(out.parent)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    services = {s.wire_name: s for s in loaded.modules[0].services}
    assert [e.wire_name for e in services["orders"].events] == ["order_created"]
    assert [m.name for m in services["orders"].methods] == ["create"]
    (paid,) = services["payments"].events  # another module's service: its events only
    assert (paid.wire_name, paid.payload.expr, services["payments"].methods) == (
        "paid",
        "Payment",
        (),
    )


FLEET_MEMBER = '''
"""Reminders (a Nameko service with everything an IDL does not declare)."""
import datetime
from typing import List

from nameko.events import event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from nameko.web.handlers import http
from nameko_sqlalchemy import DatabaseSession


class Reminders:
    name = "reminders"
    billing = RpcProxy("billing")
    db = DatabaseSession(object)

    @rpc
    def due(self, day: datetime.date) -> List[str]:
        return []

    @rpc
    def forget(self, ident: str):
        self.db.delete(ident)

    @timer(interval=60)
    def sweep(self):
        pass

    @http("GET", "/reminders/<ident>")
    def show(self, request, ident):
        return ident

    @event_handler("billing", "invoice_paid")
    def on_paid(self, payload):
        pass
'''

BILLING_IDL = """
from typing import Protocol

from rpcgen import event, service


@service("billing")
class Billing(Protocol):
    @event("invoice_paid")
    def invoice_paid(self, payload: int) -> None: ...
"""


def test_scaffold_says_what_it_left_and_keeps_the_sources_words(tmp_path: Path) -> None:
    source = tmp_path / "reminders.py"
    source.write_text(FLEET_MEMBER.lstrip("\n"), "utf-8")
    idl = tmp_path / "idl"
    idl.mkdir()
    (idl / "billing.py").write_text(BILLING_IDL.lstrip("\n"), "utf-8")
    out = idl / "reminders.py"
    argv = ["scaffold", str(source), "--out", str(out), "--idl", str(idl)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if "is not converted" in line]
    assert skipped == [
        f"rpcgen: {source}:14: Reminders.billing: billing = RpcProxy('billing') is not "
        "converted; make a generated client of that service in an @on_start hook",
        f"rpcgen: {source}:15: Reminders.db: db = DatabaseSession(object) is not converted; a "
        "dependency provider: create what it provides in an @on_start hook (rpcgen injects "
        "nothing)",
        f"rpcgen: {source}:25: Reminders.sweep: @timer(interval=60) is not converted; run it "
        "as a task started in an @on_start hook of the server",
        f"rpcgen: {source}:29: Reminders.show: @http('GET', '/reminders/<ident>') is not "
        "converted; serve HTTP with a web framework whose handlers call a generated client",
    ]
    text = out.read_text("utf-8")
    assert "import datetime\n" in text and "from typing import List\n" in text
    assert "def due(self, day: datetime.date) -> List[str]:" in text
    assert "def forget(self, ident: str) -> None:" in text
    assert f"# - {source}:25: Reminders.sweep: @timer(interval=60) is not converted" in text
    # billing's events are declared by idl/billing.py: the draft does not declare them again.
    assert '@service("billing")' not in text
    assert "are declared in" in text
    built = build(idl)
    assert [str(e) for e in built.errors] == []
    assert "def due(day: date) -> list[str]:" in built.files["reminders.py"]

"""``rpcgen export --format asyncapi``: the document passes the official AsyncAPI parser.

The parser (npm ``@asyncapi/parser``) runs under node from ``.tools/node_modules``, which
``scripts/test`` installs. Without node or the parser these tests fail: they never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

from rpcgen.cli import app
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("RPCGEN_TOOLS", ROOT / ".tools"))
SCRIPT = Path(__file__).with_name("asyncapi_validate.mjs")

OTHER_IDL = '''
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Protocol

from rpcgen import exc_path, raises, service


class Size(enum.Enum):
    S = "s"
    L = "l"


@dataclass
class Order:
    """One order."""

    sku: str
    size: Size
    qty: int = 1
    dims: tuple[float, float] | None = None


@exc_path("orders.errors.SoldOut")
class SoldOut(Exception):
    """Nothing left."""


@service("orders")
class Orders(Protocol):
    """Takes orders."""

    @raises(SoldOut)
    def place(self, order: Order, *, mode: Literal["fast", "slow"] = "fast") -> int: ...

    def nothing(self) -> tuple[()]: ...
'''


def _parse(doc: Path) -> tuple[int, list[dict[str, object]]]:
    node = shutil.which("node")
    assert node, "node is not installed: scripts/test needs node and npm for this test"
    parser = TOOLS / "node_modules" / "@asyncapi" / "parser"
    assert parser.is_dir(), f"{parser} is missing: run scripts/test (it installs it)"
    proc = subprocess.run(
        [node, str(SCRIPT), str(doc)],
        capture_output=True,
        text=True,
        env={**os.environ, "RPCGEN_TOOLS": str(TOOLS)},
        timeout=60,
    )
    assert proc.stdout, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines


def _export(idl: Path, out: Path) -> Path:
    result = CliRunner().invoke(
        app, ["export", str(idl), "--format", "asyncapi", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_repo_idl_passes_the_parser(tmp_path: Path) -> None:
    path = _export(ROOT / "idl", tmp_path / "asyncapi.json")
    code, lines = _parse(path)
    errors = [line for line in lines if line.get("severity") in (0, 1)]
    assert code == 0 and not errors, lines
    assert lines[-1] == {"errors": 0, "parsed": True}
    # idl/shop.py's event: a send operation on the orders.events exchange, the payload's schema.
    doc = json.loads(path.read_text("utf-8"))
    operation = doc["operations"]["orders_events_order_created"]
    assert operation["action"] == "send"
    channel = doc["channels"]["orders.events.order_created"]
    assert channel["address"] == "order_created"
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "orders.events"
    schema = doc["components"]["schemas"]["orders.events.order_created"]
    assert schema["$ref"].endswith("shop.OrderCreated")


def test_other_idl_passes_the_parser(tmp_path: Path) -> None:
    idl = tmp_path / "idl"
    idl.mkdir()
    (idl / "orders.py").write_text(textwrap.dedent(OTHER_IDL), "utf-8")
    doc_path = _export(idl, tmp_path / "asyncapi.json")
    code, lines = _parse(doc_path)
    assert code == 0, lines
    doc = json.loads(doc_path.read_text("utf-8"))
    assert doc["channels"]["rpc-orders"]["bindings"]["amqp"]["queue"]["name"] == "rpc-orders"
    assert doc["channels"]["orders.place"]["bindings"]["amqp"]["exchange"]["name"] == "nameko-rpc"
    op = doc["operations"]["orders_place"]
    assert op["reply"]["address"]["location"] == "$message.header#/reply_to"
    reply = doc["components"]["schemas"]["orders.place.reply"]
    paths = [e["properties"]["exc_path"] for e in reply["oneOf"][1]["properties"]["error"]["anyOf"]]
    assert {"const": "orders.errors.SoldOut"} in paths


def test_a_broken_document_fails_the_parser(tmp_path: Path) -> None:
    """The check can fail: an operation with an unknown action and a dangling $ref."""
    doc_path = _export(ROOT / "idl", tmp_path / "asyncapi.json")
    doc = json.loads(doc_path.read_text("utf-8"))
    doc["operations"]["hello_service_test"]["action"] = "call"
    doc["channels"]["hello_service.test"]["messages"]["request"]["$ref"] += "_missing"
    doc_path.write_text(json.dumps(doc), "utf-8")
    code, lines = _parse(doc_path)
    assert code == 1
    assert lines[-1]["errors"] != 0


FLEET = {
    "common.py": """
        import dataclasses


        @dataclasses.dataclass
        class Money:
            amount: int


        class NotFound(Exception):
            pass
        """,
    "billing/invoice.py": """
        from typing import Protocol

        from rpcgen import raises, service

        from ..common import Money, NotFound


        @service("billing")
        class Billing(Protocol):
            @raises(NotFound)
            def total(self, number: int) -> Money: ...
        """,
    "inventory.py": """
        from typing import Protocol

        from rpcgen import event, service

        from .common import Money


        @service("inventory")
        class Inventory(Protocol):
            \"\"\"The events of a service this IDL does not implement.\"\"\"

            @event("stock:low")
            def stock_low(self, payload: Money) -> None: ...

            @event("restocked")
            def restocked(self, payload: int) -> None: ...
        """,
}
KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def test_a_tree_with_shared_types_and_an_events_only_service_passes_the_parser(
    tmp_path: Path,
) -> None:
    idl = tmp_path / "idl"
    for rel, text in FLEET.items():
        (idl / rel).parent.mkdir(parents=True, exist_ok=True)
        (idl / rel).write_text(textwrap.dedent(text).lstrip(), "utf-8")
    doc_path = _export(idl, tmp_path / "asyncapi.json")
    code, lines = _parse(doc_path)
    assert code == 0 and lines[-1] == {"errors": 0, "parsed": True}, lines
    doc = json.loads(doc_path.read_text("utf-8"))
    components = doc["components"]
    keys = [*components["schemas"], *components["messages"], *doc["channels"], *doc["operations"]]
    assert [k for k in keys if not KEY.match(k)] == []
    # The event named stock:low: its address is the wire name, its keys are escaped.
    channel = doc["channels"]["inventory.events.stock-3a-low"]
    assert channel["address"] == "stock:low"
    assert components["schemas"]["inventory.events.stock-3a-low"] == {
        "$ref": "#/components/schemas/common.Money"
    }
    # The shared type is one schema, referenced by both services.
    reply = components["schemas"]["billing.total.reply"]
    assert reply["oneOf"][0]["properties"]["result"] == {
        "$ref": "#/components/schemas/common.Money"
    }
    paths = [e["properties"]["exc_path"] for e in reply["oneOf"][1]["properties"]["error"]["anyOf"]]
    assert {"const": "common.NotFound"} in paths
    # Nothing declares or serves an RPC queue for the events-only service.
    assert [k for k in doc["channels"] if k.startswith(("rpc-inventory", "inventory.reply"))] == []
    assert "rpc-billing" in doc["channels"]

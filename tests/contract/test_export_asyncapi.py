"""``rpcgen export --format asyncapi``: the document passes the official AsyncAPI parser.

The parser (npm ``@asyncapi/parser``) runs under node from ``.tools/node_modules``, which
``scripts/test`` installs. Without node or the parser these tests fail: they never skip.
"""

from __future__ import annotations

import json
import os
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

"""``rpcgen call`` against a real broker: an rpcgen server (generated/hello.py, generated/ledger.py)
and a real Nameko 2.14.1 service (tests/interop/nameko_side/greeter.py); every exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import rpcgen.runtime as rt
from rpcgen.cli import app
from rpcgen.runtime.testing import Vhost
from typer.testing import CliRunner

from generated.ledger import (
    Account,
    AccountNotFound,
    Currency,
    Filters,
    LedgerServer,
    Money,
    Owner,
    Statement,
    Transfer,
)
from tests.hello import Hello as BaseHello
from tests.interop.harness import NamekoServices

ROOT = Path(__file__).resolve().parents[2]
IDL = ROOT / "idl"
INTEROP_IDL = ROOT / "tests" / "interop" / "idl"
DEAD_URI = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens: a call would exit 3, not 2


class Hello(BaseHello):
    def __init__(self) -> None:
        self.release = threading.Event()  # test("slow") answers only once it is set

    def test(self, name: str) -> str:
        if name == "context":
            ctx = rt.current_context()
            assert ctx is not None
            return json.dumps(dict(ctx.data))
        if name == "slow":
            assert self.release.wait(60)
        return f"hello, {name}"


class Ledger(LedgerServer):
    """The methods the tests call; the others are not implemented (an undeclared error)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def rates(self, base: Currency, at: datetime | None = None) -> dict[str, tuple[Decimal, float]]:
        self.seen.append(("rates", (base, at)))
        return {"USD": (Decimal("1.08"), 0.5)}

    def get_account(self, account_id: UUID) -> Account:
        raise AccountNotFound(f"no account {account_id}")

    def find_accounts(
        self,
        owner_name: str,
        *,
        limit: int = 10,
        include_closed: bool = False,
        order: str = "newest",
    ) -> list[Account]:
        self.seen.append(("find_accounts", (owner_name, limit, include_closed, order)))
        return []

    def open_account(
        self, owner: Owner, currency: Currency, *, tags: list[str] | None = None
    ) -> Account:
        raise NotImplementedError("open_account")

    def transfer(self, *args: Any, **kwargs: Any) -> Transfer:
        raise NotImplementedError("transfer")

    def statement(
        self, account_id: UUID, start: date, end: date, filters: Filters | None = None
    ) -> Statement:
        raise NotImplementedError("statement")

    def balances(self, account_ids: list[UUID]) -> dict[str, Money]:
        raise NotImplementedError("balances")

    def cutoff(self, day: date) -> Any:
        return "not a time"  # the IDL declares time: the client's check refuses it

    def tag_counts(self, tags: tuple[str, ...]) -> dict[str, int]:
        return {tag: len(tag) for tag in tags}

    def ping(self) -> None:
        return None


def rpcgen_call(*argv: str, uri: str = DEAD_URI) -> Any:
    """``rpcgen call --amqp-uri URI ARGV...`` in this process; the typer result."""
    return CliRunner().invoke(app, ["call", "--amqp-uri", uri, *argv])


@pytest.fixture
def servers(rabbit_vhost: Vhost) -> Iterator[Ledger]:
    ledger, hello = Ledger(), Hello()
    with (
        rt.run_in_background(hello, rabbit_vhost.uri, max_workers=4),
        rt.run_in_background(ledger, rabbit_vhost.uri, max_workers=4),
    ):
        try:
            yield ledger
        finally:
            hello.release.set()  # a held handler would hold the runner's stop


# -- usage and validation: exit 2, nothing sent (the URI leads nowhere) ------------------------


def test_list_shows_services_methods_and_signatures() -> None:
    result = CliRunner().invoke(app, ["call", "--idl", str(IDL), "--list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "hello_service  (HelloService, idl/hello.py)" in lines
    assert "  divide(a: int, b: int) -> float  raises DivisionByZero" in lines
    assert (
        "  find_accounts(owner_name: str, *, limit: int = 10, include_closed: bool = False, "
        'order: Literal["newest", "oldest"] = "newest") -> list[Account]'
    ) in lines
    # Events are listed with their payload type (they are dispatched, not called).
    assert "  event order_created(payload: OrderCreated)" in lines
    assert lines[lines.index("  event order_created(payload: OrderCreated)") + 1] == (
        "      An order was created."
    )
    one = CliRunner().invoke(app, ["call", "--idl", str(IDL), "--list", "ledger.get_account"])
    assert one.stdout.splitlines() == [
        "ledger  (Ledger, idl/ledger.py)",
        "  get_account(account_id: UUID) -> Account  raises AccountNotFound",
        "      The account with id ``account_id``.",
    ]
    assert CliRunner().invoke(app, ["call", "--list"]).exit_code == 2  # --list needs --idl


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["hello_service.compute", "1", '"x"'],
            "hello_service.compute: argument 'b' expected int, got str 'x'\n"
            "  hello_service.compute(a: int, b: int) -> int",
        ),
        (["hello_service.compute", "1"], "hello_service.compute: missing required argument 'b'"),
        (["hello_service.compute", "1", "2", "3"], "takes 2 positional arguments but 3 were"),
        (["hello_service.compute", "1", "c=2"], "unexpected keyword argument 'c'"),
        (["ledger.get_account", '"nope"'], "argument 'account_id' expected UUID, got str 'nope'"),
        (
            ["ledger.open_account", '{"email": "a@b"}', '"EUR"'],
            "argument 'owner' at owner.name expected",
        ),
        (["ledger.rates", '"XYZ"'], "argument 'base' expected"),
        (["ledger.find_accounts", '"bob"', "order='sideways'"], "argument 'order'"),
        (["hello_service.nope"], "service 'hello_service' has no method 'nope'"),
        (["nobody.compute", "1"], "declares no service 'nobody'"),
        (["hello_service.compute", "bob", "2"], "a string is written with quotes"),
        (["compute", "1"], "expected SERVICE.METHOD"),
    ],
)
def test_arguments_are_checked_against_the_idl_before_sending(
    argv: list[str], message: str
) -> None:
    result = rpcgen_call("--idl", str(IDL), *argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "no answer" not in result.stderr  # nothing was sent to the dead URI


@pytest.mark.parametrize(
    "argv",
    [
        ["svc.m", "a=1", "2"],  # positional after name=JSON
        ["svc.m", "a=1", "a=2"],
        ["svc.m", "1", "--args", "[2]"],
        ["svc.m", "--args", "{}"],
        ["svc.m", "--kwargs", "[]"],
        ["svc.m", "--timout", "3"],
        ["svc.m", "--context", "nokey"],
        ["svc.m", "--context", "call_id_stack=x"],
        ["svc.m.x"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    result = rpcgen_call(*argv)
    assert result.exit_code == 2, result.output


# -- an rpcgen server ---------------------------------------------------------------------------


def test_idl_call_prints_the_result_as_json(rabbit_vhost: Vhost, servers: Ledger) -> None:
    uri = rabbit_vhost.uri
    result = rpcgen_call("--idl", str(IDL), "hello_service.compute", "-1", "b=5", uri=uri)
    assert (result.exit_code, result.stdout) == (0, "4\n")
    result = rpcgen_call("--idl", str(IDL), "hello_service.divide", "7", "2", uri=uri)
    assert (result.exit_code, result.stdout) == (0, "3.5\n")
    # Typed values: a plain date string is sent as kombu's marker and arrives as a datetime;
    # the Decimal in the result is printed as it arrived (a marker).
    argv = ["ledger.rates", '"EUR"', 'at="2024-01-02T03:04:05+00:00"']
    result = rpcgen_call("--idl", str(IDL), *argv, uri=uri)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"USD": [{"__type__": "decimal", "__value__": "1.08"}, 0.5]}
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert ("rates", (Currency.EUR, at)) in servers.seen
    # Keyword-only parameters by name; those left out are not sent (the server's defaults
    # apply), as the generated client does.
    result = rpcgen_call("--idl", str(IDL), "ledger.find_accounts", '"bob"', "limit=3", uri=uri)
    assert (result.exit_code, result.stdout) == (0, "[]\n")
    assert ("find_accounts", ("bob", 3, False, "newest")) in servers.seen
    result = rpcgen_call("--idl", str(IDL), "ledger.tag_counts", '["ab", "c"]', uri=uri)
    assert json.loads(result.stdout) == {"ab": 2, "c": 1}
    result = rpcgen_call("--idl", str(IDL), "ledger.ping", uri=uri)
    assert (result.exit_code, result.stdout) == (0, "null\n")


def test_declared_and_undeclared_errors_exit_1(rabbit_vhost: Vhost, servers: Ledger) -> None:
    uri = rabbit_vhost.uri
    result = rpcgen_call("--idl", str(IDL), "hello_service.divide", "1", "0", uri=uri)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "rpcgen: hello_service.divide raised DivisionByZero: cannot divide 1 by zero "
        "(declared, exc_path hello.DivisionByZero)\n"
    )
    account = '"12345678-1234-5678-1234-567812345678"'
    result = rpcgen_call("--idl", str(IDL), "ledger.get_account", account, uri=uri)
    assert result.exit_code == 1
    assert "raised AccountNotFound: no account 12345678-1234" in result.stderr
    result = rpcgen_call("--idl", str(IDL), "ledger.balances", "[]", uri=uri)
    assert result.exit_code == 1
    assert "raised NotImplementedError: balances (" in result.stderr
    assert "not declared)" in result.stderr
    # The result does not match the declared type (time): checked on the client side.
    result = rpcgen_call("--idl", str(IDL), "ledger.cutoff", '"2024-01-02"', uri=uri)
    assert result.exit_code == 1
    assert "raised ResultTypeError: ledger.cutoff: result expected" in result.stderr
    # Without the IDL the same error is a RemoteError, the server's refusal too; whether the
    # service declares it is not known, so the message does not say.
    result = rpcgen_call("hello_service.divide", "1", "0", uri=uri)
    assert result.exit_code == 1
    assert (
        "raised DivisionByZero: cannot divide 1 by zero (hello.DivisionByZero)\n" in result.stderr
    )
    result = rpcgen_call("hello_service.compute", "1", '"x"', uri=uri)
    assert result.exit_code == 1
    assert "raised IncorrectSignature: compute(): argument 'b' expected int" in result.stderr
    result = rpcgen_call("hello_service.nope", uri=uri)
    assert result.exit_code == 1
    assert "raised MethodNotFound: nope" in result.stderr


def test_no_answer_exits_3(rabbit_vhost: Vhost, servers: Ledger) -> None:
    uri = rabbit_vhost.uri
    # The handler answers only once the test lets it, after the call: the call gave up on its own.
    result = rpcgen_call("hello_service.test", '"slow"', "--timeout", "0.5", uri=uri)
    assert result.exit_code == 3
    assert "RpcTimeout: hello_service.test: no reply within 0.5 s" in result.stderr
    result = rpcgen_call("ghost.hello", uri=uri)
    assert result.exit_code == 3
    assert "UnknownService: Unknown service `ghost`" in result.stderr
    result = rpcgen_call("--idl", str(IDL), "hello_service.compute", "1", "2", uri=DEAD_URI)
    assert result.exit_code == 3
    assert "RpcConnectionError: cannot connect to RabbitMQ" in result.stderr
    assert "guest:***@" in result.stderr


def test_context_reaches_the_handler(rabbit_vhost: Vhost, servers: Ledger) -> None:
    argv = ["hello_service.test", '"context"', "--context", "language=en-GB"]
    result = rpcgen_call("--idl", str(IDL), *argv, "--context", "user_id=42", uri=rabbit_vhost.uri)
    assert result.exit_code == 0, result.output
    data = json.loads(json.loads(result.stdout))
    assert data["language"] == "en-GB"
    assert data["user_id"] == "42"


def test_raw_mode_and_the_environment_uri(rabbit_vhost: Vhost, servers: Ledger) -> None:
    """Raw JSON as --args/--kwargs; the URI from RPCGEN_AMQP_URI; the real entry point."""
    env = {**os.environ, "RPCGEN_AMQP_URI": rabbit_vhost.uri}
    argv = ["hello_service.compute", "--args", "[2]", "--kwargs", '{"b": 40}']
    proc = subprocess.run(
        [sys.executable, "-m", "rpcgen", "call", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "42\n", "")


# -- a real Nameko 2.14.1 service ----------------------------------------------------------------


@pytest.mark.nameko
def test_a_nameko_service(rabbit_vhost: Vhost, nameko_greeter: NamekoServices) -> None:
    uri, idl = rabbit_vhost.uri, str(INTEROP_IDL)
    # Raw mode: JSON positional and name=JSON arguments, the result as JSON.
    result = rpcgen_call("greeter.hello", '"bob"', 'greeting="hi"', uri=uri)
    assert (result.exit_code, result.stdout) == (0, '"hi, bob"\n')
    result = rpcgen_call("greeter.compute", "--args", "[1, 2]", uri=uri)
    assert (result.exit_code, result.stdout) == (0, "3\n")
    # With the IDL: typed checks, kombu markers in the printed result.
    result = rpcgen_call("--idl", idl, "greeter.samples", uri=uri)
    assert result.exit_code == 0, result.output
    samples = json.loads(result.stdout)
    assert samples["amount"] == {"__type__": "decimal", "__value__": samples["amount"]["__value__"]}
    assert samples["ident"]["__type__"] == "uuid"
    result = rpcgen_call("--idl", idl, "greeter.compute", "1", '"2"', uri=uri)
    assert result.exit_code == 2
    assert "argument 'b' expected int, got str '2'" in result.stderr
    # A declared Nameko error (exc_path greeter.InsufficientFunds), and an undeclared one.
    result = rpcgen_call("--idl", idl, "greeter.withdraw", "5", "10", uri=uri)
    assert result.exit_code == 1
    assert "raised InsufficientFunds: " in result.stderr
    assert "(declared, exc_path greeter.InsufficientFunds)" in result.stderr
    result = rpcgen_call("greeter.fail_builtin", uri=uri)
    assert result.exit_code == 1
    assert "raised ValueError: " in result.stderr
    assert "(builtins.ValueError)\n" in result.stderr  # without --idl: not known to be declared
    result = rpcgen_call("--idl", idl, "greeter.missing", uri=uri)
    assert result.exit_code == 1
    assert "raised MethodNotFound" in result.stderr
    # Context data reaches the Nameko worker as nameko.* headers.
    result = rpcgen_call("greeter.context", "--context", "language=fr", uri=uri)
    assert result.exit_code == 0, result.output
    echoed = json.loads(result.stdout)
    assert echoed["context_data"]["language"] == "fr"
    assert echoed["call_id_stack"][-1].startswith("greeter.context.")
    # No answer in time, and no such service.
    result = rpcgen_call("--idl", idl, "greeter.sleep", "5", "--timeout", "0.5", uri=uri)
    assert result.exit_code == 3
    assert "RpcTimeout" in result.stderr
    result = rpcgen_call("--idl", idl, "ghost.hello", uri=uri)
    assert result.exit_code == 3

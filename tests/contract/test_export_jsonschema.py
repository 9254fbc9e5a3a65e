"""``rpcgen export --format jsonschema``: values encoded by rpcgen's codec validate against their
schemas, and wrong values do not (``jsonschema``'s Draft 2020-12 validator)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rpcgen.runtime as rt
from jsonschema import Draft202012Validator
from rpcgen.cli import app
from typer.testing import CliRunner

from generated.ledger import (
    Account,
    Currency,
    Filters,
    LedgerServer,
    Money,
    Owner,
    Priority,
    Statement,
    Transfer,
)

ROOT = Path(__file__).resolve().parents[2]
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5, minutes=30)))
OWNER = Owner("Zoë", "z@example.org", date(1990, 5, 17))
MONEY = Money(Decimal("12.50"), Currency.GBP)
ACCOUNT = Account(ID, OWNER, MONEY, AT, ["a"], {"day": MONEY}, "frozen", time(17, 30), None)
TRANSFER = Transfer(ID, ID, ID, MONEY, AT, b"\xff\x00", Priority.HIGH)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["export", str(ROOT / "idl"), "--format", "jsonschema"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    Draft202012Validator.check_schema(doc)
    return doc


def _validator(schema: dict[str, Any], name: str) -> Draft202012Validator:
    assert name in schema["$defs"], name
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})


def _encoded(tp: object, value: object) -> object:
    """``value`` as rpcgen's codec puts it on the wire, as a parameter of type ``tp``."""
    method: rt.Method[None] = rt.Method("t", "m", (rt.Param("v", tp),), None)
    return json.loads(method.codec.encode_request((value,), {}))["args"][0]


VALUES: list[tuple[str, object, object]] = [
    ("kombu.datetime", datetime, datetime(2026, 1, 2, 3, 4, 5)),
    ("kombu.datetime", datetime, AT),
    ("kombu.datetime", datetime, datetime(2026, 1, 2, tzinfo=timezone.utc)),
    ("kombu.date", date, date(2026, 2, 28)),
    ("kombu.time", time, time(23, 59, 59, 1)),
    ("kombu.time", time, time(8, 0)),
    ("kombu.Decimal", Decimal, Decimal("-0.000100")),
    ("kombu.Decimal", Decimal, Decimal("1E+3")),
    ("kombu.Decimal", Decimal, Decimal("NaN")),
    ("kombu.UUID", uuid.UUID, ID),
    ("kombu.bytes", bytes, b"plain text"),
    ("kombu.bytes", bytes, b"\x00\xff\xfe binary"),
    ("kombu.bytes", bytes, b""),
    ("ledger.Currency", Currency, Currency.USD),
    ("ledger.Priority", Priority, Priority.LOW),
    ("ledger.Money", Money, MONEY),
    ("ledger.Owner", Owner, Owner("x")),
    ("ledger.Account", Account, ACCOUNT),
    ("ledger.Account", Account, Account(ID, OWNER, MONEY, AT, parent=ACCOUNT)),
    ("ledger.Transfer", Transfer, TRANSFER),
    ("ledger.Transfer", Transfer, Transfer(ID, ID, ID, MONEY, AT)),
    ("ledger.Filters", Filters, Filters(currencies=[Currency.EUR])),
    ("ledger.Filters", Filters, Filters()),
    (
        "ledger.Statement",
        Statement,
        Statement(
            account=ACCOUNT,
            period=(date(2026, 1, 1), date(2026, 1, 31)),
            transfers=[TRANSFER],
            totals={"in": Decimal("3.14")},
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "tp", "value"), VALUES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(VALUES)]
)
def test_encoded_values_validate(
    schema: dict[str, Any], name: str, tp: object, value: object
) -> None:
    encoded = _encoded(tp, value)
    errors = [e.message for e in _validator(schema, name).iter_errors(encoded)]
    assert not errors, (encoded, errors)


WRONG: list[tuple[str, object]] = [
    ("kombu.datetime", "2026-01-02T03:04:05"),  # kombu<=5.2's plain string: not what rpcgen sends
    ("kombu.datetime", {"__type__": "date", "__value__": "2026-01-02"}),
    ("kombu.datetime", {"__type__": "datetime", "__value__": "yesterday"}),
    ("kombu.date", {"__type__": "date", "__value__": "2026-01-02T00:00:00"}),
    ("kombu.time", {"__type__": "time", "__value__": "25h"}),
    ("kombu.Decimal", {"__type__": "decimal", "__value__": "1,5"}),
    ("kombu.Decimal", 1.5),
    ("kombu.UUID", {"__type__": "uuid", "__value__": {"hex": "XYZ"}}),
    ("kombu.UUID", {"__type__": "uuid", "__value__": str(ID)}),
    ("kombu.bytes", {"__type__": "base64", "__value__": "not base64!"}),
    ("kombu.bytes", {"__type__": "bytes", "__value__": 5}),
    ("kombu.bytes", {"__type__": "bytes", "__value__": "x", "extra": 1}),
    ("ledger.Currency", "JPY"),
    ("ledger.Currency", "eur"),
    ("ledger.Priority", 3),
    ("ledger.Priority", "LOW"),
    ("ledger.Money", {"currency": "EUR"}),
    ("ledger.Money", {"amount": "12.50", "currency": "EUR"}),
    ("ledger.Owner", {"name": 7}),
    ("ledger.Owner", {"name": "x", "born": "1990-05-17"}),
    ("ledger.Account", {**_encoded(Account, ACCOUNT), "status": "deleted"}),  # type: ignore[dict-item]
    ("ledger.Account", {**_encoded(Account, ACCOUNT), "tags": "a"}),  # type: ignore[dict-item]
    ("ledger.Statement", {"account": None, "period": [], "transfers": [], "totals": {}}),
    ("ledger.Filters", {"currencies": ["EUR", "XXX"]}),
    ("ledger.Filters", {"min_amount": 1}),
]


@pytest.mark.parametrize(
    ("name", "value"), WRONG, ids=[f"{n}-{i}" for i, (n, _) in enumerate(WRONG)]
)
def test_wrong_values_do_not_validate(schema: dict[str, Any], name: str, value: object) -> None:
    assert not _validator(schema, name).is_valid(value)


def test_requests_and_replies_validate(schema: dict[str, Any]) -> None:
    methods = LedgerServer.methods
    cases: list[tuple[str, tuple[object, ...], dict[str, object], object]] = [
        (
            "transfer",
            (ID, ID, MONEY),
            {"memo": b"m", "priority": Priority.LOW, "reference": None},
            TRANSFER,
        ),
        (
            "find_accounts",
            ("z",),
            {"limit": 3, "include_closed": True, "order": "oldest"},
            [ACCOUNT],
        ),
        ("rates", (Currency.EUR, None), {}, {"USD": (Decimal("1.1"), 0.5)}),
        ("statement", (ID, date(2026, 1, 1), date(2026, 1, 2), None), {}, None),
        ("tag_counts", (("a", "b"),), {}, {"a": 1}),
        ("ping", (), {}, None),
    ]
    for name, args, kwargs, result in cases:
        codec = methods[name].codec
        request = json.loads(codec.encode_request(args, kwargs))
        assert _validator(schema, f"ledger.{name}.request").is_valid(request), (name, request)
        if result is not None or name == "ping":
            reply = json.loads(codec.encode_reply(result))
            assert _validator(schema, f"ledger.{name}.reply").is_valid(reply), (name, reply)
    bad_requests = [
        ("transfer", {"args": [_encoded(uuid.UUID, ID)], "kwargs": {}}),  # too few
        ("find_accounts", {"args": ["z"], "kwargs": {"order": "sideways"}}),
        ("find_accounts", {"args": ["z"], "kwargs": {"limit": 3, "unknown": 1}}),
        ("ping", {"args": [1], "kwargs": {}}),
    ]
    for name, request in bad_requests:
        assert not _validator(schema, f"ledger.{name}.request").is_valid(request), name


def test_declared_errors_are_in_the_reply_schema(schema: dict[str, Any]) -> None:
    reply = _validator(schema, "ledger.transfer.reply")
    error = {"exc_type": "InsufficientFunds", "exc_args": ["low"], "value": "low"}
    assert reply.is_valid(
        {"result": None, "error": {**error, "exc_path": "ledger.InsufficientFunds"}}
    )
    assert reply.is_valid({"result": None, "error": {**error, "exc_path": "builtins.ValueError"}})
    assert not reply.is_valid({"result": None, "error": {"exc_type": "X"}})
    assert not reply.is_valid({"result": 1, "error": None})
    declared = schema["$defs"]["ledger.transfer.reply"]["oneOf"][1]["properties"]["error"]["anyOf"]
    assert [e["properties"]["exc_path"] for e in declared[:-1]] == [
        {"const": "ledger.InsufficientFunds"},
        {"const": "ledger.AccountNotFound"},
    ]


def test_request_schemas_accept_what_the_server_accepts(schema: dict[str, Any]) -> None:
    """Positional parameters by name and defaults left out: the schema and the server's own
    argument binding (``MethodCodec.decode_args``) agree on every body."""
    codec = LedgerServer.methods["statement"].codec
    who, start = _encoded(uuid.UUID, ID), _encoded(date, date(2026, 1, 1))
    end = _encoded(date, date(2026, 1, 2))
    bodies = [
        {"args": [who, start, end], "kwargs": {}},  # filters left out
        {"args": [who], "kwargs": {"start": start, "end": end}},  # by name
        {"args": [], "kwargs": {"account_id": who, "start": start, "end": end, "filters": None}},
        {"args": [who, start, end, None], "kwargs": {}},
        {"args": [who], "kwargs": {"start": start}},  # end missing
        {"args": [who, start], "kwargs": {"start": start, "end": end}},  # start twice
        {"args": [who, start, end], "kwargs": {"other": 1}},
        {"args": [who, start, end, None, 1], "kwargs": {}},
    ]
    validator = _validator(schema, "ledger.statement.request")
    verdicts = []
    for body in bodies:
        try:
            codec.decode_args(list(body["args"]), dict(body["kwargs"]))
            server = True
        except rt.IncorrectSignature:
            server = False
        verdicts.append((server, validator.is_valid(body)))
    assert verdicts == [(True, True)] * 4 + [(False, False)] * 4

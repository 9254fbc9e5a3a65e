"""Byte-for-byte agreement with the real kombu and Nameko 2.14.1, run in their own environment.

The values are built from one source text in both interpreters; kombu's bytes must equal ours,
kombu must read our bytes back to the same values, and Nameko's ``serialize``/``deserialize``
must agree with ours on errors. Skipped when no Nameko environment is found.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rpcgen.runtime import errors
from rpcgen.runtime._codec import codec, wire

from tests.interop.harness import require_nameko_python

pytestmark = pytest.mark.nameko

ROOT = Path(__file__).resolve().parents[2]

VALUES_SRC = """
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

VALUES = {
    "aware": datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    "offset": datetime(2020, 1, 2, 3, 4, 5, 600, tzinfo=timezone(timedelta(hours=-3))),
    "naive": datetime(2020, 1, 2, 3, 4, 5, 123456),
    "date": date(2020, 1, 2),
    "time": time(3, 4, 5),
    "time_tz": time(3, 4, 5, 7, tzinfo=timezone.utc),
    "decimal": Decimal("1.50"),
    "decimal_exp": Decimal("-1E-30"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "text_bytes": b"caf\\xc3\\xa9",
    "binary": bytes(range(256)),
    "nested": {"a": [1, 2.5, None, True, "caf\\u00e9 \\U0001f600"], "t": (1, "x"), "n": -0.0},
    "numbers": [10**30, 0.1, 1e300, float("inf"), -float("inf")],
    "controls": "\\x00\\x1f\\u2028\\ud7ff",
    "mixed": {"when": [date(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)], "amounts": [Decimal(0)]},
    "request": {"args": ["bob", Decimal("2")], "kwargs": {"at": time(0, 0)}},
}
"""

NAMEKO_SCRIPT = (
    VALUES_SRC
    + """
import json, sys
from kombu.utils import json as kombu_json
from nameko import exceptions as nx

ERRORS = {
    "value_error": ValueError("bad", 42, None, {"k": 1}, b"ab"),
    "key_error": KeyError("x"),
    "method_not_found": nx.MethodNotFound("nope"),
    "incorrect_signature": nx.IncorrectSignature("compute() takes 2 positional arguments"),
    "malformed_request": nx.MalformedRequest("Message missing `args` or `kwargs`"),
    "unserializable": nx.UnserializableValueError({1, 2}),
    "unknown_service": nx.UnknownService("ghost"),
    "remote_error": nx.RemoteError("KeyError", "'x'"),
}
def as_json_has_it(value):  # JSON has no tuple: a tuple comes back as a list
    if isinstance(value, (list, tuple)):
        return [as_json_has_it(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json_has_it(v) for k, v in value.items()}
    return value

ours = json.load(sys.stdin)
out = {"values": {}, "errors": {}}
for name, value in VALUES.items():
    out["values"][name] = {
        "kombu": kombu_json.dumps(value),
        # kombu decodes our bytes to the very value we encoded (not only as it decodes its own)
        "reads_ours": kombu_json.loads(ours["values"][name]) == as_json_has_it(value),
        "read_as": repr(kombu_json.loads(ours["values"][name])),
    }
for name, exc in ERRORS.items():
    rebuilt = nx.deserialize(json.loads(ours["errors"][name]))
    out["errors"][name] = {
        "nameko": kombu_json.dumps(nx.serialize(exc)),
        "rebuilt": type(rebuilt).__module__ + "." + type(rebuilt).__name__,
        "str": str(rebuilt),
    }
json.dump(out, sys.stdout)
"""
)

OUR_ERRORS: dict[str, BaseException] = {
    "value_error": ValueError("bad", 42, None, {"k": 1}, b"ab"),
    "key_error": KeyError("x"),
    "method_not_found": errors.MethodNotFound("nope"),
    "incorrect_signature": errors.IncorrectSignature("compute() takes 2 positional arguments"),
    "malformed_request": errors.MalformedRequest("Message missing `args` or `kwargs`"),
    "unserializable": errors.UnserializableValueError({1, 2}),
    "unknown_service": errors.UnknownService("ghost"),
    "remote_error": errors.RemoteError("KeyError", "'x'"),
}
NAMEKO_REBUILDS = {
    "method_not_found": "nameko.exceptions.MethodNotFound",
    "incorrect_signature": "nameko.exceptions.IncorrectSignature",
    "malformed_request": "nameko.exceptions.MalformedRequest",
}


@pytest.fixture(scope="module")
def values() -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(VALUES_SRC, namespace)
    result = namespace["VALUES"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def nameko_view(values: dict[str, object]) -> dict[str, dict[str, dict[str, object]]]:
    python = str(require_nameko_python("2.14.1"))
    ours = {
        "values": {name: codec.dumps(value).decode() for name, value in values.items()},
        "errors": {
            name: wire.dumps(errors.serialize_exception(exc)).decode()
            for name, exc in OUR_ERRORS.items()
        },
    }
    done = subprocess.run(
        [python, "-W", "ignore", "-c", NAMEKO_SCRIPT],
        input=json.dumps(ours),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    view: dict[str, dict[str, dict[str, object]]] = json.loads(done.stdout)
    return view


def test_values_are_byte_identical_to_kombu(
    values: dict[str, object], nameko_view: dict[str, dict[str, dict[str, object]]]
) -> None:
    for name, value in values.items():
        assert codec.dumps(value).decode() == nameko_view["values"][name]["kombu"], name


def test_kombu_reads_our_values_back(
    nameko_view: dict[str, dict[str, dict[str, object]]],
) -> None:
    for name, seen in nameko_view["values"].items():
        assert seen["reads_ours"] is True, (name, seen["read_as"])


def test_we_read_kombus_values_back(
    values: dict[str, object], nameko_view: dict[str, dict[str, dict[str, object]]]
) -> None:
    for name in ("aware", "naive", "date", "time_tz", "decimal", "uuid", "text_bytes", "binary"):
        kombu_bytes = nameko_view["values"][name]["kombu"]
        assert isinstance(kombu_bytes, str)
        decoded = codec.decoder_for(type(values[name]))(json.loads(kombu_bytes))
        assert decoded == values[name], name


def test_errors_serialize_as_namekos(
    nameko_view: dict[str, dict[str, dict[str, object]]],
) -> None:
    for name, exc in OUR_ERRORS.items():
        ours = wire.dumps(errors.serialize_exception(exc)).decode()
        assert ours == nameko_view["errors"][name]["nameko"], name


def test_nameko_rebuilds_our_protocol_errors(
    nameko_view: dict[str, dict[str, dict[str, object]]],
) -> None:
    for name, seen in nameko_view["errors"].items():
        expected = NAMEKO_REBUILDS.get(name, "nameko.exceptions.RemoteError")
        assert seen["rebuilt"] == expected, name
    assert nameko_view["errors"]["key_error"]["str"] == "KeyError 'x'"

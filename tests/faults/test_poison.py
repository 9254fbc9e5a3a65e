"""Poison and malformed requests: the server answers what it can, acks the rest, stays up.

Each case is published with plain pika to a running rpcgen server; the test asserts the error
the caller sees (or, without ``reply_to``, that the message was acked), and every test ends by
checking that the server still answers and its queue holds nothing ready or unacked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import JSON, RawCaller, wait_settled
from tests.faults.rawamqp import float32, float64, raw_fields, timestamp, uint64
from tests.integration.helpers import declare_ghost
from tests.integration.impls import Itest, Relay
from tests.integration.stubs import ItestAsyncClient, ItestClient

LIMIT = 64 * 1024
NAMEKO = "nameko.exceptions."
TOO_LARGE = "rpcgen.runtime.errors.PayloadTooLarge"
GOOD = b'{"args": ["x"], "kwargs": {}}'


@pytest.fixture
def server(amqp_uri: str) -> Iterator[rt.ServiceRunner]:
    """An itest server whose connection limits bodies to ``LIMIT`` bytes."""
    conn = rt.Connection(amqp_uri, client_name="itest", reply_queue=False, max_message_bytes=LIMIT)
    with conn, rt.run_in_background(Itest(), connection=conn, max_workers=4) as runner:
        yield runner


@pytest.fixture
def caller(amqp_uri: str, server: rt.ServiceRunner, rabbit_vhost: Vhost) -> Iterator[RawCaller]:
    raw = RawCaller(amqp_uri)
    try:
        yield raw
        # Whatever the case was, the server is still up and nothing is left behind.
        with ItestClient.connect(amqp_uri, timeout=20) as client:
            assert client.hello("still up") == "hello, still up"
        wait_settled(rabbit_vhost, "rpc-itest")
        assert not server.stopping.is_set()
    finally:
        raw.close()


def test_no_reply_to_is_acked_and_logged(
    caller: RawCaller, rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rpcgen.runtime._dispatch")
    caller.publish("itest.hello", GOOD, reply=False, **JSON)
    caller.publish("itest.hello", b"\x80garbage", reply=False)
    wait_settled(rabbit_vhost, "rpc-itest")
    dropped = [r for r in caplog.records if "without reply_to" in r.getMessage()]
    assert len(dropped) == 2


# (routing key, body, properties) -> (exc_type, text the error's value must contain)
MALFORMED: dict[str, tuple[str, bytes, dict[str, Any], str, str]] = {
    "no content type": ("itest.hello", GOOD, {}, "MalformedRequest", "content type None"),
    "text/plain": ("itest.hello", GOOD, {"content_type": "text/plain"}, "MalformedRequest",
                   "'text/plain'"),
    "json with parameters": ("itest.hello", GOOD,
                             {"content_type": "application/json; charset=utf-8"},
                             "MalformedRequest", "only application/json"),
    "gzip encoding": ("itest.hello", GOOD, {**JSON, "content_encoding": "gzip"},
                      "MalformedRequest", "'gzip'"),
    "invalid json": ("itest.hello", b"{not json", JSON, "MalformedRequest", "not valid JSON"),
    "invalid utf-8": ("itest.hello", b'{"args": ["\xff"], "kwargs": {}}', JSON,
                      "MalformedRequest", "not valid UTF-8"),
    "empty body": ("itest.hello", b"", JSON, "MalformedRequest", "not valid JSON"),
    "array body": ("itest.hello", b'["x"]', JSON, "MalformedRequest", "JSON array"),
    "string body": ("itest.hello", b'"x"', JSON, "MalformedRequest", "JSON string"),
    "null body": ("itest.hello", b"null", JSON, "MalformedRequest", "JSON null"),
    "number body": ("itest.hello", b"12", JSON, "MalformedRequest", "JSON number"),
    "deeply nested": ("itest.hello", b"[" * 50_000, JSON, "MalformedRequest", "nested"),
    "no args": ("itest.hello", b'{"kwargs": {}}', JSON, "MalformedRequest", "missing `args`"),
    "no kwargs": ("itest.hello", b'{"args": []}', JSON, "MalformedRequest", "missing `args`"),
    "args object": ("itest.hello", b'{"args": {}, "kwargs": {}}', JSON, "MalformedRequest",
                    "not an array"),
    "kwargs array": ("itest.hello", b'{"args": [], "kwargs": []}', JSON, "MalformedRequest",
                     "not an object"),
    "wrong argument type": ("itest.compute", b'{"args": ["a"], "kwargs": {}}', JSON,
                            "IncorrectSignature", "a"),
    "missing argument": ("itest.hello", b'{"args": [], "kwargs": {}}', JSON,
                         "IncorrectSignature", "name"),
    "unexpected keyword": ("itest.hello", b'{"args": ["x"], "kwargs": {"evil": 1}}', JSON,
                           "IncorrectSignature", "evil"),
    "unknown method": ("itest.nope", GOOD, JSON, "MethodNotFound", "nope"),
    "too large": ("itest.hello", b'{"args": ["' + b"x" * LIMIT + b'"], "kwargs": {}}', JSON,
                  "PayloadTooLarge", f"over the limit of {LIMIT} bytes"),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_request_gets_the_matching_error(caller: RawCaller, case: str) -> None:
    routing_key, body, props, exc_type, text = MALFORMED[case]
    error = caller.ask(routing_key, body, **props)
    assert error is not None
    assert error["exc_type"] == exc_type
    expected_path = TOO_LARGE if exc_type == "PayloadTooLarge" else NAMEKO + exc_type
    assert error["exc_path"] == expected_path
    assert text in error["value"]


class _Touch:
    """Unpickling this creates a file: proof that a pickle body was (or was not) deserialised."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.path,))


def test_pickle_is_never_deserialised(caller: RawCaller, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    body = pickle.dumps({"args": [_Touch(marker)], "kwargs": {}})
    for content_type in ("application/x-python-serialize", "application/json"):
        error = caller.ask("itest.hello", body, content_type=content_type)
        assert error["exc_type"] == "MalformedRequest"
    assert not marker.exists()


def _context_with(caller: RawCaller, headers: dict[str, object]) -> Any:
    cid = caller.publish("itest.context", b'{"args": [], "kwargs": {}}', headers=headers, **JSON)
    reply = caller.replies(1)[cid]
    assert reply["error"] is None, reply["error"]
    return {key: json.loads(value) for key, value in reply["result"].items()}


@pytest.mark.parametrize(
    ("stack", "parents"),
    [
        ("parent.call.1", ["parent.call.1"]),  # Nameko would split it into characters
        (42, []),
        ({"a": "b"}, []),
        (["ok.call.1", 5, None, b"bytes"], ["ok.call.1"]),
    ],
)
def test_call_id_stack_of_the_wrong_type_is_read_leniently(
    caller: RawCaller, stack: object, parents: list[str]
) -> None:
    seen = _context_with(caller, {"nameko.call_id_stack": stack})
    assert seen["call_id_stack"][:-1] == parents
    assert seen["call_id_stack"][-1].startswith("itest.context.")


ODD_HEADERS: dict[str, object] = {
    "float64": float64(1.5),
    "float32": float32(2.5),
    "uint64": uint64(2**64 - 1),
    "timestamp": timestamp(1_700_000_000),
    "far timestamp": timestamp(2**62),  # beyond what Python's datetime can hold
    "decimal": Decimal("3.14"),
    "bytes": b"\x00\xff",
    "table": {"nested": {"deep": [1, "two", None]}},
    "array": [1, "two", True, None],
    "bool": False,
    "void": None,
    "long key": "k" * 250,  # fits AMQP, but not once prefixed with "nameko."
}


@pytest.mark.parametrize("kind", ODD_HEADERS)
def test_headers_of_odd_amqp_types_do_not_hurt(caller: RawCaller, kind: str) -> None:
    key = "k" * 250 if kind == "long key" else f"nameko.{kind.replace(' ', '_')}"
    value = "v" if kind == "long key" else ODD_HEADERS[kind]
    with raw_fields():
        cid = caller.publish("itest.hello", GOOD, headers={key: value}, **JSON)
    reply = caller.replies(1)[cid]
    assert reply == {"result": "hello, x", "error": None}


def test_a_handler_calling_on_drops_headers_it_cannot_send(
    amqp_uri: str, server: rt.ServiceRunner
) -> None:
    """Headers pika decodes but cannot encode again must not break the handler's next call."""
    raw = RawCaller(amqp_uri)
    try:
        declare_ghost(raw.ch, "relay")
        # The long key fits AMQP, but not once sent on as "nameko.<key>".
        headers = {"k" * 250: "v", "nameko.language": "en", "nameko.far": timestamp(2**62)}
        with raw_fields():
            cid = raw.publish("relay.relay", b'{"args": [], "kwargs": {}}', headers=headers, **JSON)
        with (
            rt.Connection(amqp_uri, client_name="relay") as conn,
            rt.run_in_background(Relay(conn), connection=conn),
        ):
            reply = raw.replies(1)[cid]
    finally:
        raw.close()
    assert reply["error"] is None, reply["error"]
    assert json.loads(reply["result"]["language"]) == "en"
    # what the relay sends on: the context it could send, its stack and its call's deadline
    assert set(reply["result"]) == {"language", "far", "call_id_stack", "rpcgen_deadline_ms"}
    assert json.loads(reply["result"]["far"]) == 2**62  # past datetime's range: kept as seconds


def test_reply_over_the_limit_becomes_payload_too_large(caller: RawCaller) -> None:
    headers = {"nameko.blob": "b" * LIMIT}  # a small request whose reply echoes a big context
    cid = caller.publish("itest.context", b'{"args": [], "kwargs": {}}', headers=headers, **JSON)
    error = caller.replies(1)[cid]["error"]
    assert error["exc_type"] == "PayloadTooLarge" and error["exc_path"] == TOO_LARGE
    assert "reply of itest.context" in error["value"]


def test_client_refuses_a_request_over_its_limit_before_publishing(
    amqp_uri: str, server: rt.ServiceRunner, rabbit_vhost: Vhost
) -> None:
    spy = rabbit_vhost.spy(routing_key="itest.*")
    with rt.Connection(amqp_uri, max_message_bytes=1000) as conn:
        client = ItestClient(conn, timeout=20)
        with pytest.raises(rt.PayloadTooLarge, match=r"request to itest\.hello") as info:
            client.hello("x" * 1000)
        assert info.value.limit == 1000 and info.value.size is not None
        assert client.hello("small") == "hello, small"
    assert [m.json()["args"] for m in spy.drain()] == [["small"]]


def test_client_fails_a_call_whose_reply_is_over_its_limit(
    amqp_uri: str, server: rt.ServiceRunner
) -> None:
    with rt.Connection(amqp_uri, max_message_bytes=2000) as conn:
        client = ItestClient(conn, timeout=20)
        with rt.context_data(blob="b" * 3000), pytest.raises(rt.PayloadTooLarge, match="reply"):
            client.context()
        assert client.hello("after") == "hello, after"  # the connection is fine


def test_server_limit_error_reaches_a_typed_client(amqp_uri: str, server: rt.ServiceRunner) -> None:
    with ItestClient.connect(amqp_uri, timeout=20) as client:
        with pytest.raises(rt.PayloadTooLarge, match=r"request to itest\.hello") as info:
            client.hello("x" * LIMIT)
        assert f"over the limit of {LIMIT} bytes" in str(info.value)


def test_async_client_refuses_a_request_over_its_limit(
    amqp_uri: str, server: rt.ServiceRunner
) -> None:
    async def main() -> None:
        conn = rt.Connection(amqp_uri, max_message_bytes=1000)
        try:
            client = ItestAsyncClient(rt.AsyncConnection(conn), timeout=20)
            with pytest.raises(rt.PayloadTooLarge):
                await client.hello("x" * 1000)
            assert await client.hello("ok") == "hello, ok"
        finally:
            conn.close()

    asyncio.run(main())

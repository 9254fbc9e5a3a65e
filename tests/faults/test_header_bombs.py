"""Headers pika cannot (or must not) decode never loop a server, and events obey the size limit.

Published with raw pika to a server on a real broker: header tables and arrays nested 5,000
levels deep (35 KB of valid AMQP, which made pika's decoder raise ``RecursionError`` and drop
the connection, after which the broker redelivered the request for ever), and header tables with
tens of thousands of values. A request with ``reply_to`` is answered with ``MalformedRequest``,
one without is acked; an event is dead-lettered with its reason; meanwhile a client keeps
calling, every good call is answered, and no connection is lost. An event over the connection's
``max_message_bytes`` is dead-lettered without being decoded.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._amqp.pikafix import MAX_HEADER_DEPTH, MAX_HEADER_VALUES
from rpcgen.runtime._handling import dead_letter_queue
from rpcgen.runtime.testing import Vhost

from generated.shop import OrderCreated, OrdersEvent
from tests.faults.poison import JSON, RawCaller, wait_settled
from tests.faults.rawamqp import RawField, raw_fields
from tests.faults.test_event_reliability import Handler
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

GOOD = b'{"args": ["x"], "kwargs": {}}'
LIMIT = 64 * 1024


def nested(kind: bytes, levels: int) -> RawField:
    """A table (``F``) or array (``A``) value nested ``levels`` deep, one entry per level."""
    payload = struct.pack(">I", 0)
    for _ in range(levels - 1):
        entry = (b"\x01k" + kind if kind == b"F" else kind) + payload
        payload = struct.pack(">I", len(entry)) + entry
    return RawField(kind, payload)


BOMBS: dict[str, Callable[[], dict[str, Any]]] = {
    "deep-table": lambda: {"bomb": nested(b"F", 5000)},
    "deep-array": lambda: {"bomb": nested(b"A", 5000)},
    "just-too-deep": lambda: {"bomb": nested(b"F", MAX_HEADER_DEPTH)},
    "many-headers": lambda: {f"h{i}": None for i in range(12_000)},
    "huge-array": lambda: {"bomb": [None] * 60_000},
    "just-too-many": lambda: {f"h{i}": None for i in range(MAX_HEADER_VALUES + 1)},
}


class Caller:
    """Calls ``hello`` back to back in a thread; every outcome is kept."""

    def __init__(self, uri: str) -> None:
        self.connection = rt.Connection(uri)
        self.client = ItestClient(self.connection, timeout=30)
        self.answered = 0
        self.failed: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                assert self.client.hello("good") == "hello, good"
                self.answered += 1
            except BaseException as exc:  # kept for the assertion in the test
                self.failed.append(exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.connection.close()


@pytest.fixture
def losses(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The WARNING lines of connections lost or reconnected (there must be none)."""
    caplog.set_level(logging.WARNING, logger="rpcgen")

    def lost() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if "reconnect" in r.getMessage() or "lost the connection" in r.getMessage()
        ]

    yield lost


def _publish(channel: Any, exchange: str, key: str, body: bytes, **props: Any) -> None:
    with raw_fields():
        channel.basic_publish(exchange, key, body, pika.BasicProperties(**props))


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_undecodable_headers_are_answered_as_malformed_and_never_loop(
    amqp_uri: str, rabbit_vhost: Vhost, losses: Callable[[], list[str]], bomb: str
) -> None:
    with rt.run_in_background(Itest(), amqp_uri, max_workers=2) as runner:
        caller, raw = Caller(amqp_uri), RawCaller(amqp_uri)
        try:
            for _ in range(3):  # with a reply_to: answered; without: acked
                with raw_fields():
                    cid = raw.publish("itest.hello", GOOD, headers=BOMBS[bomb](), **JSON)
                    raw.publish("itest.hello", GOOD, reply=False, headers=BOMBS[bomb](), **JSON)
                error = raw.replies(1)[cid]["error"]
                assert error["exc_type"] == "MalformedRequest", error
                assert "headers not decoded" in error["value"], error
            # A good request with ordinary headers from the same raw publisher still works.
            error = raw.ask("itest.hello", GOOD, headers={"nameko.x": "y"}, **JSON)
            assert error is None
            answered = caller.answered
            wait_until(lambda: caller.answered > answered + 3, 20)
        finally:
            caller.stop()
            raw.close()
        wait_settled(rabbit_vhost, "rpc-itest")  # every bomb was acked
        assert caller.failed == []
        assert losses() == []
        assert runner.error is None and not runner.stopping.is_set()


def _dead_letters(channel: Any, queue: str, count: int) -> list[tuple[Any, bytes]]:
    got: list[tuple[Any, bytes]] = []

    def all_in() -> bool:
        while len(got) < count:
            method, props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return False
            got.append((props, body))
        return True

    wait_until(all_in, 20, what=f"{count} dead letters", describe=lambda: len(got))
    return got


@pytest.mark.parametrize("bomb", ["deep-table", "deep-array", "many-headers"])
def test_events_with_undecodable_headers_are_dead_lettered(
    amqp_uri: str, losses: Callable[[], list[str]], bomb: str
) -> None:
    handler = Handler()
    event = OrdersEvent.order_created
    body = event.codec.encode(OrderCreated(1, "sku", 1))
    with rt.run_in_background(handler, amqp_uri) as runner:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        try:
            channel = conn.channel()
            for _ in range(3):
                _publish(channel, event.exchange, event.name, body, headers=BOMBS[bomb](), **JSON)
            _publish(
                channel, event.exchange, event.name, event.codec.encode(OrderCreated(2, "s", 1))
            )
            assert handler.got.get(timeout=20) == 2  # the good one, after the three bombs
            dead = _dead_letters(channel, dead_letter_queue(runner.server.service_name), 3)
        finally:
            conn.close()
        assert handler.got.empty()
        for props, dead_body in dead:
            assert dead_body == body
            assert "headers not decoded" in props.headers["x-rpcgen-reason"]
        assert losses() == []
        assert runner.error is None and not runner.stopping.is_set()


def test_an_event_over_the_size_limit_is_dead_lettered_undecoded(
    amqp_uri: str, losses: Callable[[], list[str]]
) -> None:
    handler = Handler()
    event = OrdersEvent.order_created
    # A valid event, padded past the limit: decoded, it would reach the handler.
    big = json.loads(event.codec.encode(OrderCreated(1, "sku", 1)))
    big["product_id"] = "x" * (LIMIT + 1)
    big_body = json.dumps(big).encode()
    conn = rt.Connection(amqp_uri, reply_queue=False, max_message_bytes=LIMIT)
    with conn, rt.run_in_background(handler, connection=conn) as runner:
        raw = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        try:
            channel = raw.channel()
            _publish(channel, event.exchange, event.name, big_body, **JSON)
            _publish(
                channel, event.exchange, event.name, event.codec.encode(OrderCreated(2, "s", 1))
            )
            assert handler.got.get(timeout=20) == 2
            [(props, dead_body)] = _dead_letters(
                channel, dead_letter_queue(runner.server.service_name), 1
            )
        finally:
            raw.close()
        assert handler.got.empty()
        assert dead_body == big_body
        reason = props.headers["x-rpcgen-reason"]
        assert f"over the limit of {LIMIT} bytes" in reason, reason
        assert losses() == []

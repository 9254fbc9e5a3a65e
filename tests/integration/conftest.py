"""Integration tests run on both transports: every test that asks for ``rpc_uri`` runs twice,
``[memory]`` (rpcgen's in-process broker) and ``[rabbitmq]`` (a vhost of the real node).

Tests about the broker itself (reconnects, connections closed by the management API, queue
flags as the management API shows them, other processes) ask for ``rabbit_vhost`` and run on
RabbitMQ only. ``Peek`` looks at the wire from outside on either transport: raw publishes,
spies on an exchange, queue depths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest
from rpcgen.runtime.testing import TRANSPORTS, MemoryBroker

from tests.integration.helpers import declare_ghost, raw_channel
from tests.integration.helpers import get as basic_get
from tests.integration.helpers import spy as rabbit_spy
from tests.waiting import wait_until


@pytest.fixture(params=TRANSPORTS)
def rpc_transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Peek:
    """The broker of one test seen from outside, the same way on both transports."""

    def __init__(self, broker: MemoryBroker | None, channel: Any = None, uri: str = "") -> None:
        self._broker = broker
        self._channel = channel  # a pika BlockingChannel on RabbitMQ
        self._uri = uri

    def ghost(self, service: str) -> None:
        """A service queue declared and bound as a server does, with nobody consuming it."""
        if self._broker is None:
            declare_ghost(self._channel, service)
            return
        self._broker.declare_exchange("nameko-rpc")
        self._broker.declare_queue(f"rpc-{service}")
        self._broker.bind(f"rpc-{service}", "nameko-rpc", f"{service}.*")

    def spy(self, exchange: str, routing_key: str) -> str:
        """A queue that gets a copy of what ``exchange`` routes with ``routing_key``."""
        if self._broker is None:
            if exchange == "nameko-rpc":
                return rabbit_spy(self._channel, routing_key)
            self._channel.exchange_declare(exchange, "topic", durable=True)
            name = str(self._channel.queue_declare("", exclusive=True).method.queue)
            self._channel.queue_bind(name, exchange, routing_key)
            return name
        name = f"spy-{exchange}-{routing_key}"
        self._broker.declare_exchange(exchange)
        self._broker.declare_queue(name, durable=False)
        self._broker.bind(name, exchange, routing_key)
        return name

    def get(self, queue: str, timeout: float = 10.0) -> tuple[Any, bytes]:
        """The next message on ``queue``: (properties, body)."""
        if self._broker is None:
            _method, props, body = basic_get(self._channel, queue, timeout)
            return props, body
        broker = self._broker
        message = wait_until(lambda: broker.get(queue), timeout, what=f"a message on {queue}")
        return message.properties, message.body

    def publish(self, exchange: str, routing_key: str, body: bytes, props: Any) -> None:
        """Publish as a foreign client would (no rpcgen on this side)."""
        if self._broker is None:
            self._channel.basic_publish(exchange, routing_key, body, props)
        else:
            self._broker.publish(exchange, routing_key, props, body)

    def message_count(self, queue: str) -> int:
        if self._broker is None:
            return int(self._channel.queue_declare(queue, passive=True).method.message_count)
        return self._broker.message_count(queue)

    def has_queue(self, queue: str) -> bool:
        if self._broker is None:
            try:
                with raw_channel(self._uri) as channel:
                    channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                return False
            return True
        return queue in self._broker.queue_names()


@pytest.fixture
def peek(rpc_transport: str, rpc_uri: str, request: pytest.FixtureRequest) -> Iterator[Peek]:
    if rpc_transport == "memory":
        yield Peek(request.getfixturevalue("memory_broker"))
        return
    with raw_channel(rpc_uri) as channel:
        yield Peek(None, channel, rpc_uri)

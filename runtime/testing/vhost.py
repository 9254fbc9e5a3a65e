"""A vhost per test: queues, bindings and consumers to inspect, messages to spy on."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rpcgen.runtime.testing.management import Binding, QueueConsumer, QueueInfo
from rpcgen.runtime.testing.node import Broker

__all__ = ["SpiedMessage", "Spy", "Vhost"]

_PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
    "cluster_id",
)


@dataclass(frozen=True)
class SpiedMessage:
    """One message as a spy queue received it: where it was published, its properties, raw body."""

    exchange: str
    routing_key: str
    properties: dict[str, object]  # only the properties present on the wire
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Spy:
    """A private queue bound to ``exchange`` with ``routing_key`` that records what is routed there.

    Bound with ``#`` to ``nameko-rpc`` it sees every request and reply. Careful: it also makes every
    routing key routable, so a call to a missing service no longer fails as unknown.
    """

    def __init__(self, uri: str, exchange: str = "nameko-rpc", routing_key: str = "#") -> None:
        import pika  # the plugin itself must import without pika's cost

        self._conn = pika.BlockingConnection(pika.URLParameters(uri))
        self._channel = self._conn.channel()
        # Declared with Nameko's exact flags, so it is harmless whoever declares it first.
        self._channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = f"rpcgen-spy-{secrets.token_hex(4)}"
        self._channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        self._channel.queue_bind(self.queue, exchange, routing_key=routing_key)

    def get(self, count: int, timeout: float = 10.0) -> list[SpiedMessage]:
        """Wait for exactly ``count`` messages (more arriving within a short grace is an error)."""
        got: list[SpiedMessage] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            msg = self._get_one()
            if msg is not None:
                got.append(msg)
            elif time.monotonic() > deadline:
                raise AssertionError(
                    f"spy got {len(got)} of {count} messages in {timeout}s: {got!r}"
                )
            else:
                time.sleep(0.01)
        extra = self.drain(settle=0.1)
        if extra:
            raise AssertionError(
                f"spy expected {count} messages, got {len(got) + len(extra)}: {got + extra!r}"
            )
        return got

    def drain(self, settle: float = 0.3) -> list[SpiedMessage]:
        """Everything that arrives until nothing has come for ``settle`` seconds."""
        got: list[SpiedMessage] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            msg = self._get_one()
            if msg is None:
                time.sleep(0.01)
            else:
                got.append(msg)
                quiet_since = time.monotonic()
        return got

    def _get_one(self) -> SpiedMessage | None:
        method, props, body = self._channel.basic_get(self.queue, auto_ack=True)
        if method is None:
            return None
        present = {n: getattr(props, n) for n in _PROPERTY_NAMES if getattr(props, n) is not None}
        return SpiedMessage(method.exchange, method.routing_key, present, bytes(body))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the broker may be gone already (fault tests)
            self._conn.close()

    def __enter__(self) -> Spy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class Vhost:
    """A vhost on ``broker``, made for one test; ``uri`` connects to it as guest."""

    broker: Broker
    name: str
    uri: str
    _spies: list[Spy] = field(default_factory=list, repr=False)
    _probe: Any = field(default=None, repr=False)  # a pika BlockingConnection, opened on demand

    def queues(self) -> list[QueueInfo]:
        """All queues: exact on a ``RabbitNode`` (rabbitmqctl), from statistics on external ones."""
        return self.broker.list_queues(self.name)

    def queue(self, name: str) -> QueueInfo | None:
        return next((q for q in self.queues() if q.name == name), None)

    def bindings(self) -> list[Binding]:
        """Bindings (exact), without the default exchange's implicit ones."""
        return [b for b in self.broker.management.bindings(self.name) if b.source]

    def consumers(self) -> list[QueueConsumer]:
        """All consumers: exact on a ``RabbitNode``, from statistics (~5 s late) elsewhere."""
        return self.broker.list_consumers(self.name)

    def consumer_count(self, queue: str) -> int | None:
        """Consumers of ``queue`` now (AMQP passive declare: exact, ~2 ms); None if missing."""
        import pika

        management = getattr(self.broker, "management", None)
        if management is not None and management.queue(self.name, queue) is None:
            return None  # asked first: a passive declare of a missing queue logs a pika warning
        if self._probe is None or not self._probe.is_open:
            self._probe = pika.BlockingConnection(pika.URLParameters(self.uri))
        channel = self._probe.channel()
        try:
            count: int = channel.queue_declare(queue, passive=True).method.consumer_count
            return count
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return None
            raise
        finally:
            if channel.is_open:
                channel.close()

    def wait_for_consumers(self, queue: str, count: int = 1, timeout: float = 30.0) -> None:
        """Poll until ``queue`` exists and has at least ``count`` consumers."""
        deadline = time.monotonic() + timeout
        while (self.consumer_count(queue) or 0) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{queue!r} in {self.name}: < {count} consumer(s) after {timeout}s"
                )
            time.sleep(0.05)

    def spy(self, exchange: str = "nameko-rpc", routing_key: str = "#") -> Spy:
        """A ``Spy`` in this vhost (closed with the vhost at the latest)."""
        spy = Spy(self.uri, exchange, routing_key)
        self._spies.append(spy)
        return spy

    def close(self) -> None:
        for spy in self._spies:
            spy.close()
        if self._probe is not None and self._probe.is_open:
            with contextlib.suppress(Exception):
                self._probe.close()
        self.broker.delete_vhost(self.name)


# -- fixtures ------------------------------------------------------------------------------------

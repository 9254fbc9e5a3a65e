"""The seam between clients/servers and what carries their messages: RabbitMQ, or memory.

Pure: it imports no transport and no pika. Each transport implements these types:

- ``Transport``: what a client (``Client``, ``AsyncClient``, ``RpcFuture``) and a
  ``ServiceRunner`` use of a connection, ``consume`` included (``_amqp.Connection``,
  ``_memory.MemoryConnection``);
- ``Served``: what a runner uses of a queue consumer (``_amqp.consumer.Consumer``,
  ``_memory.MemoryConsumer``);
- ``Delivery``: one message as it came off a queue, handed to the runner;
- ``PendingCall``: one request (or event) between its publish and its outcome;
- ``Properties``: a message's AMQP basic properties, built once, whoever carries them (the
  same attribute names as pika's ``BasicProperties``, which a real broker's deliveries carry).

``_connect.open_connection`` is the one place that reads a URI and picks a transport.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rpcgen.runtime.errors import RpcConnectionError

if TYPE_CHECKING:
    from rpcgen.runtime._topology import Step
    from rpcgen.runtime.spec import Event, Method

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "Completion",
    "Delivery",
    "PendingCall",
    "Properties",
    "Reply",
    "Served",
    "Transport",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take in total unless its client says otherwise."""
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest request or reply body (bytes) a connection sends or accepts unless told otherwise."""

Completion = Callable[[bytes, BaseException | None], None]
"""``on_done(reply_body, error)``: the reply body (b"" on error) or the error that ended a call."""


class Properties:
    """A message's AMQP basic properties (every one None unless set), as ``BasicProperties``."""

    __slots__ = (
        "app_id",
        "cluster_id",
        "content_encoding",
        "content_type",
        "correlation_id",
        "delivery_mode",
        "expiration",
        "headers",
        "message_id",
        "priority",
        "reply_to",
        "timestamp",
        "type",
        "user_id",
    )

    def __init__(
        self,
        *,
        content_type: str | None = None,
        content_encoding: str | None = None,
        headers: dict[str, Any] | None = None,
        delivery_mode: int | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
        type: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.headers = headers
        self.delivery_mode = delivery_mode
        self.priority = priority
        self.correlation_id = correlation_id
        self.reply_to = reply_to
        self.expiration = expiration
        self.message_id = message_id
        self.timestamp = timestamp
        self.type = type
        self.user_id = user_id
        self.app_id = app_id
        self.cluster_id = cluster_id

    def __repr__(self) -> str:
        set_ = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__ if getattr(self, k))
        return f"Properties({set_})"


class PendingCall:
    """One call between its request and its reply; owned by its transport once submitted."""

    __slots__ = (
        "body",
        "correlation_id",
        "deadline",
        "done",
        "exchange",
        "method",
        "nacks",
        "on_done",
        "properties",
        "timeout",
    )

    def __init__(
        self,
        method: Method[object] | Event[Any],
        correlation_id: str,
        body: bytes,
        properties: Properties,
        timeout: float | None,
        on_done: Completion,
        exchange: str | None = None,
    ) -> None:
        self.method = method
        # None: an RPC request on the connection's exchange, done when its reply arrives; else
        # an event published to this exchange, done when the broker confirms it.
        self.exchange = exchange
        self.correlation_id = correlation_id
        self.body = body
        self.properties = properties
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.on_done = on_done
        self.done = False
        self.nacks = 0  # publishes of this request that RabbitMQ refused

    def finish(self, body: bytes, error: BaseException | None) -> None:
        """Complete the call once; later completions (duplicates, late timers) are ignored."""
        if self.done:
            return
        self.done = True
        try:
            self.on_done(body, error)
        except Exception:  # a broken waiter must not take the transport's I/O down
            log.exception("completion of %s failed", self.method.routing_key)


class Delivery:
    """One message as it came off a queue (a request, or an event)."""

    __slots__ = ("body", "epoch", "properties", "routing_key", "tag")

    def __init__(
        self, tag: int, routing_key: str, properties: Any, body: bytes, epoch: int = 0
    ) -> None:
        self.tag = tag
        self.epoch = epoch  # which channel of its consumer delivered it: tags are per channel
        self.routing_key = routing_key
        self.properties = properties  # ``Properties``, or pika's ``BasicProperties``
        self.body = body


Reply = tuple[int, "int | None", str, "Properties | None", "bytes | None"]
"""A request's delivery tag and epoch, and its reply's routing key, properties and body (None:
ack it without a reply)."""


class Served(Protocol):
    """What a ``ServiceRunner`` uses of a queue consumer (``Consumer``, ``MemoryConsumer``)."""

    error: RpcConnectionError | None
    drained: threading.Event

    @property
    def consuming(self) -> bool:
        """Whether the broker delivers to this consumer now (readiness)."""

    def reply(
        self,
        delivery_tag: int,
        routing_key: str,
        properties: Properties,
        body: bytes,
        epoch: int | None = None,
        exchange: str | None = None,
    ) -> None:
        """Publish a reply (to ``exchange``, default the connection's) and ack the delivery
        once the broker has the reply."""

    def reply_all(self, replies: Sequence[Reply]) -> None:
        """Several ``reply`` (or ``ack``, for a None body) at once: one hand-over, one write
        (the async runner's replies of one loop iteration)."""

    def ack(self, delivery_tag: int, epoch: int | None = None) -> None: ...

    def requeue(self, delivery_tag: int, epoch: int | None = None) -> None: ...

    def stop(self) -> None: ...


class Transport(Protocol):
    """What clients and servers use of a connection (``Connection``, ``MemoryConnection``)."""

    @property
    def uri(self) -> str: ...

    @property
    def exchange(self) -> str: ...

    @property
    def max_message_bytes(self) -> int: ...

    @property
    def is_open(self) -> bool: ...

    def call(
        self,
        method: Method[object],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall:
        """Send one request; ``on_done(reply_body, error)`` runs once. ``will_drive``: the
        caller calls ``drive`` next, to read its own reply."""

    def dispatch(
        self,
        event: Event[Any],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall:
        """Publish one event; ``on_done(b"", error)`` once the broker has it (or not)."""

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call``; a reply that comes later is dropped."""

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None:
        """Do this transport's I/O in the calling thread until ``is_done()`` or ``deadline``,
        if that helps (a transport with nothing to read returns at once)."""

    def consume(
        self,
        queue: str,
        binding_key: str,
        prefetch: int,
        on_delivery: Callable[[Delivery], None],
        *,
        on_lost: Callable[[RpcConnectionError], None] | None = None,
        arguments: dict[str, object] | None = None,
        setup: Sequence[Step] | None = None,
        serve_in_caller: Callable[[Delivery], None] | None = None,
    ) -> Served:
        """Consume ``queue`` (declared durable with ``arguments`` and bound with
        ``binding_key`` on the connection's exchange, unless ``setup`` gives other declare
        steps) within ``prefetch``. ``on_delivery`` runs for each delivery and must hand it
        off at once; ``on_lost`` runs if the consumer stops because its connection is over.
        ``serve_in_caller``: how to serve one request in a waiting caller's thread (used by
        ``MemoryBroker(caller_runs=True)``; a real broker has no use for it). Returns once
        the broker has registered the consumer."""

    def close(self) -> None: ...

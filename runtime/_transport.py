"""The seam between clients/servers and what carries their messages: RabbitMQ, or memory.

``Transport`` is what a client (``Client``, ``AsyncClient``, ``RpcFuture``) and a
``ServiceRunner`` use of a connection; ``_amqp.connection.Connection`` and
``_memory.MemoryConnection`` both provide it. ``open_connection`` is the one place that reads
a URI and picks: ``memory://NAME`` (also through ``$RPCGEN_AMQP_URI``) gives a connection to the
in-process broker of that name (made on first use), anything else a real ``Connection``.
``consume`` is the server's counterpart: a queue consumer on whichever connection it has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rpcgen.runtime._amqp import topology
from rpcgen.runtime._amqp.calls import Completion, PendingCall
from rpcgen.runtime._amqp.connection import Connection
from rpcgen.runtime._amqp.consumer import Delivery, Reply
from rpcgen.runtime._amqp.consumer import consume as amqp_consume
from rpcgen.runtime._amqp.uris import URI_ENV
from rpcgen.runtime._memory.broker import SCHEME, broker_named
from rpcgen.runtime._memory.connection import MemoryConnection
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.spec import Event, Method

if TYPE_CHECKING:
    from rpcgen.runtime.options import ConnectionOptions
    from typing_extensions import Unpack

__all__ = ["Served", "Transport", "consume", "is_memory_uri", "open_connection"]

_Pika = Any  # pika ships no type hints


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
    ) -> PendingCall: ...

    def dispatch(
        self,
        event: Event[Any],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall: ...

    def forget(self, call: PendingCall) -> None: ...

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None: ...

    def close(self) -> None: ...


class Served(Protocol):
    """What a ``ServiceRunner`` uses of a queue consumer (``Consumer``, ``MemoryConsumer``)."""

    error: RpcConnectionError | None
    drained: threading.Event

    @property
    def consuming(self) -> bool: ...

    def reply(
        self,
        delivery_tag: int,
        routing_key: str,
        properties: _Pika,
        body: bytes,
        epoch: int | None = None,
        exchange: str | None = None,
    ) -> None: ...

    def reply_all(self, replies: Sequence[Reply]) -> None: ...

    def ack(self, delivery_tag: int, epoch: int | None = None) -> None: ...

    def requeue(self, delivery_tag: int, epoch: int | None = None) -> None: ...

    def stop(self) -> None: ...


def is_memory_uri(uri: str | Sequence[str] | None) -> bool:
    """Whether ``uri`` (None: ``$RPCGEN_AMQP_URI``) names an in-memory broker."""
    if uri is None:
        uri = os.environ.get(URI_ENV, "")
    return isinstance(uri, str) and uri.startswith(SCHEME)


def open_connection(
    uri: str | Sequence[str] | None = None,
    *,
    reply_queue: bool = True,
    **options: Unpack[ConnectionOptions],
) -> Transport:
    """A connection on ``uri``: a ``Connection``, or a ``MemoryConnection`` for ``memory://NAME``."""
    if is_memory_uri(uri):
        name = (uri if isinstance(uri, str) else os.environ[URI_ENV])[len(SCHEME) :]
        if not name or "/" in name:
            raise ValueError(f"a memory URI is memory://NAME, not {uri!r}")
        return MemoryConnection(broker_named(name), reply_queue=reply_queue, **options)
    if not isinstance(uri, str) and uri is not None and any(is_memory_uri(u) for u in uri):
        raise ValueError("a memory:// URI cannot be part of a failover list")
    return Connection(uri, reply_queue=reply_queue, **options)


def consume(
    connection: Transport,
    queue: str,
    binding_key: str,
    prefetch: int,
    on_delivery: Callable[[Delivery], None],
    on_lost: Callable[[RpcConnectionError], None] | None = None,
    arguments: dict[str, object] | None = None,
    setup: Sequence[topology.Step] | None = None,
    answer: Callable[[Delivery], None] | None = None,
) -> Served:
    """``_amqp.consumer.consume`` on a real connection, its in-memory twin on a memory one
    (``answer``: see ``MemoryConnection.consume``; a real broker has no use for it)."""
    if isinstance(connection, MemoryConnection):
        return connection.consume(
            queue, binding_key, prefetch, on_delivery, on_lost, arguments, setup, answer
        )
    if isinstance(connection, Connection):
        return amqp_consume(
            connection, queue, binding_key, prefetch, on_delivery, on_lost, arguments, setup
        )
    raise TypeError(f"cannot serve on {connection!r}: not a Connection")

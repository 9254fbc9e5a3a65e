"""``MemoryConnection``: a ``Connection`` on a ``MemoryBroker``, for clients and servers alike.

It offers what clients and the ``ServiceRunner`` use of a connection (``_transport``'s
``Transport``) and builds what it sends with the same neutral core as the AMQP transport: a
request's properties, headers, correlation id, deadline and size check come from
``_calls.request`` (an event's from ``_calls.event``), the calls in flight are a
``_calls.CallTable``, its body comes from the method's codec, and the server answers with the
same ``Dispatcher`` and ``EventEntrypoint``. Only the socket is missing:

- a request is published ``mandatory`` on the connection's exchange; when no queue is bound
  for it the call fails at once with ``UnknownService`` (RabbitMQ's ``basic.return``);
- replies come back through the connection's reply queue, matched by correlation id; a late
  one is dropped; a call's deadline is kept by one timer thread per connection (``RpcTimeout``);
- headers travel as AMQP tables would: ``as_received`` (given by ``_connect``: the AMQP
  transport's encoder and decoder, skipped for plain headers), so a value that cannot be sent
  fails the call here too;
- ``consume`` runs the same declare steps as the real consumer (``_topology``) against the
  broker, then delivers within ``prefetch`` to a ``MemoryConsumer`` (``consumer``).

Everything runs under the broker's lock, in the thread that publishes or settles.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from rpcgen.runtime import _calls
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._codec import wire
from rpcgen.runtime._memory.broker import Closable, MemoryBroker, Message
from rpcgen.runtime._memory.consumer import Declarer, MemoryConsumer, caller
from rpcgen.runtime._transport import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Completion,
    Delivery,
    PendingCall,
    Properties,
)
from rpcgen.runtime.errors import RpcConnectionError, UnknownService
from rpcgen.runtime.spec import Event, Method

__all__ = ["MemoryConnection", "MemoryConsumer"]

log = logging.getLogger(__name__)

AsReceived = Callable[[Properties], Properties]
"""Properties as the receiver decodes them from the wire (see ``_connect``)."""


def _unchanged(props: Properties) -> Properties:
    return props


class MemoryConnection(Closable):
    """A connection to a ``MemoryBroker``; takes ``Connection``'s keyword arguments (those about
    sockets, heartbeats and reconnecting have nothing to act on and are accepted as they are)."""

    def __init__(
        self,
        broker: MemoryBroker,
        *,
        exchange: str = wire.DEFAULT_EXCHANGE,
        client_name: str = "rpcgen_client",
        reply_queue: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        reply_queue_ttl_ms: int = wire.REPLY_QUEUE_TTL_MS,
        as_received: AsReceived = _unchanged,
        **_socket_options: object,
    ) -> None:
        self._broker = broker
        self._exchange = exchange
        self.client_name = client_name
        self._wants_reply_queue = reply_queue
        self.as_received = as_received
        self._reply_to = str(uuid.uuid4())
        self._reply_queue = wire.reply_queue_name(client_name, self._reply_to)
        self._table = _calls.CallTable(max_message_bytes)
        self._failure: RpcConnectionError | None = None
        self._timer = _DeadlineTimer(self._expire_due)
        self._declared: set[str] = set()
        self._consumers: list[MemoryConsumer] = []
        broker.attach(self)
        with broker.lock:
            broker.declare_exchange(exchange)
            if reply_queue:
                queue = self._reply_queue
                broker.declare_queue(queue, arguments={"x-expires": reply_queue_ttl_ms})
                broker.bind(queue, exchange, self._reply_to)
                broker.subscribe(queue, 0, self._on_reply, owner=self, auto_ack=True)

    # -- what clients use -------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        return self._broker.uri

    @property
    def broker(self) -> MemoryBroker:
        return self._broker

    @property
    def exchange(self) -> str:
        return self._exchange

    @property
    def max_message_bytes(self) -> int:
        return self._table.max_message_bytes

    @property
    def reply_queue(self) -> str:
        return self._reply_queue

    @property
    def reply_to(self) -> str:
        return self._reply_to

    @property
    def is_open(self) -> bool:
        return self._failure is None

    @property
    def is_connected(self) -> bool:
        return self._failure is None

    def __repr__(self) -> str:
        return f"<MemoryConnection {self.uri} exchange={self._exchange!r}>"

    def __enter__(self) -> MemoryConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self,
        method: Method[object],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall:
        """Send one request; ``on_done(reply_body, error)`` runs once (see ``Connection.call``)."""
        if self._failure is not None:
            raise self._failure
        if not self._wants_reply_queue:
            raise RpcConnectionError("this connection was opened with reply_queue=False")
        call = _calls.request(
            method,
            body,
            timeout,
            on_done,
            client_name=self.client_name,
            reply_to=self._reply_to,
            max_message_bytes=self._table.max_message_bytes,
        )
        run_here = None
        with self._broker.lock:
            if self._failure is not None:
                call.finish(b"", self._failure)
                return call
            if self._table.add(call):
                self._timer.earlier()
            try:
                props = self.as_received(call.properties)
                caller.waiting = will_drive and self._broker.caller_runs
                try:
                    routed = self._broker.publish(
                        self._exchange, method.routing_key, props, body, mandatory=True
                    )
                finally:
                    run_here, caller.run_here, caller.waiting = caller.run_here, None, False
            except Exception as exc:
                self._table.pop(call.correlation_id)
                call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
                return call
            if not routed and self._table.pop(call.correlation_id) is not None:
                call.finish(b"", UnknownService(method.service))
        if run_here is not None:
            contextvars.Context().run(run_here)  # the handler sees no context of the caller's
        return call

    def dispatch(
        self,
        event: Event[Any],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall:
        """Publish one event to its source's exchange (declared first, as the real one does)."""
        if self._failure is not None:
            raise self._failure
        limit = self._table.max_message_bytes
        call = _calls.event(event, body, timeout, on_done, max_message_bytes=limit)
        with self._broker.lock:
            try:
                if event.exchange not in self._declared:
                    self._broker.declare_exchange(event.exchange)
                    self._declared.add(event.exchange)
                props = self.as_received(call.properties)
                self._broker.publish(event.exchange, event.routing_key, props, body)
            except Exception as exc:
                call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
                return call
        call.finish(b"", None)  # an in-process broker "confirms" at once
        return call

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call``; a reply that comes later is dropped."""
        call.done = True
        with self._broker.lock:
            self._table.pop(call.correlation_id)

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None:
        """Nothing to read: replies are handed over by the threads that publish them."""

    def close(self) -> None:
        """Fail pending calls, stop this connection's consumers (their unacked deliveries go
        back to their queues) and delete its reply queue."""
        self._end(RpcConnectionError(f"the connection to {self.uri} was closed"), lost=False)

    def lose(self, error: RpcConnectionError) -> None:
        self._end(error, lost=True)

    def _end(self, error: RpcConnectionError, *, lost: bool) -> None:
        with self._broker.lock:
            if self._failure is not None:
                return
            self._failure = error
            self._broker.detach(self)
            if self._wants_reply_queue:
                self._broker.delete_queue(self._reply_queue)
            self._table.fail_all(error)
            consumers, self._consumers = self._consumers, []
            for consumer in consumers:
                consumer.ended(error if lost else None)
        self._timer.close()

    # -- what a ServiceRunner uses ----------------------------------------------------------------

    def consume(
        self,
        queue: str,
        binding_key: str,
        prefetch: int,
        on_delivery: Callable[[Delivery], None],
        *,
        on_lost: Callable[[RpcConnectionError], None] | None = None,
        arguments: dict[str, object] | None = None,
        setup: Sequence[topology.Step] | None = None,
        serve_in_caller: Callable[[Delivery], None] | None = None,
    ) -> MemoryConsumer:
        """Consume ``queue`` on this broker: the same declare steps as on RabbitMQ, then
        deliveries (see ``_transport.Transport``).

        ``serve_in_caller`` (the runner's own way of serving one request on a worker) lets a
        sync caller serve its own request when the service is idle
        (``MemoryBroker.caller_runs``).
        """
        if self._failure is not None:
            raise self._failure
        steps = topology.declare_steps(queue, self._exchange, binding_key, arguments, setup)
        with self._broker.lock:
            declarer = Declarer(self._broker, self)
            topology.run(declarer, steps, lambda: None)
            consumer = MemoryConsumer(self, queue, on_delivery, on_lost, serve_in_caller)
            consumer.subscribe(prefetch)
            self._consumers.append(consumer)
        return consumer

    # -- internals --------------------------------------------------------------------------------

    def _on_reply(self, _tag: int, message: Message) -> None:
        self._table.reply(message.properties.correlation_id, message.body)

    def _expire_due(self) -> float | None:
        """Fail the calls past their deadline; returns the next deadline."""
        with self._broker.lock:
            self._table.expire_due()
            return self._table.deadlines.next_due()


class _DeadlineTimer:
    """One daemon thread per connection, started on first use, that expires its calls."""

    def __init__(self, expire_due: Callable[[], float | None]) -> None:
        self._expire_due = expire_due
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._moved = False
        self._closed = False

    def earlier(self) -> None:
        """The earliest deadline moved closer (under the broker's lock)."""
        with self._wake:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rpcgen-memory-deadlines", daemon=True
                )
                self._thread.start()
            self._moved = True
            self._wake.notify()

    def close(self) -> None:
        with self._wake:  # the thread sees it and ends (not joined: close may run under a lock)
            self._closed = True
            self._wake.notify()

    def _run(self) -> None:
        due: float | None = time.monotonic()
        while True:
            with self._wake:
                while not self._closed and not self._moved:
                    delay = None if due is None else due - time.monotonic()
                    if delay is not None and delay <= 0:
                        break
                    self._wake.wait(delay)
                if self._closed:
                    return
                self._moved = False
            due = self._expire_due()

"""``MemoryConnection``: a ``Connection`` on a ``MemoryBroker``, for clients and servers alike.

It offers what clients and the ``ServiceRunner`` use of a ``Connection`` (``_transport``'s
``Transport``) and builds what it sends with the same core: a request's properties, headers,
correlation id, deadline and size check come from ``_amqp.calling.Calls.request`` (an event's
from ``Calls.event``), its body from the method's codec, and the server answers with the same
``Dispatcher`` and ``EventEntrypoint``. Only the socket is missing:

- a request is published ``mandatory`` on the connection's exchange; when no queue is bound
  for it the call fails at once with ``UnknownService`` (RabbitMQ's ``basic.return``);
- replies come back through the connection's reply queue, matched by correlation id; a late
  one is dropped; a call's deadline is kept by one timer thread per connection (``RpcTimeout``);
- headers travel as AMQP tables would: plain ones (strings, lists of strings, 64-bit ints)
  as they are, any other through pika's own encoder and decoder, so a value pika cannot send
  fails the call here too;
- ``consume`` runs the same declare steps as the real consumer (``topology``) against the
  broker, then delivers within ``prefetch`` to a ``MemoryConsumer`` (``consumer``).

Everything runs under the broker's lock, in the thread that publishes or settles.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from typing import Any

from rpcgen.runtime._amqp import pikafix, topology
from rpcgen.runtime._amqp.calling import Calls
from rpcgen.runtime._amqp.calls import Completion, PendingCall
from rpcgen.runtime._amqp.connection import DEFAULT_MAX_MESSAGE_BYTES
from rpcgen.runtime._amqp.consumer import Delivery
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._codec import wire
from rpcgen.runtime._memory.broker import Closable, MemoryBroker, Message
from rpcgen.runtime._memory.consumer import Declarer, MemoryConsumer, caller
from rpcgen.runtime._memory.deadlines import Deadlines
from rpcgen.runtime._memory.headers import travelled
from rpcgen.runtime.errors import PayloadTooLarge, RpcConnectionError, RpcTimeout, UnknownService
from rpcgen.runtime.spec import Event, Method

__all__ = ["MemoryConnection", "MemoryConsumer", "travelled"]

log = logging.getLogger(__name__)


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
        **_socket_options: object,
    ) -> None:
        pikafix.install()  # as ``Connection()`` does: pika then decodes every header
        self._broker = broker
        self._exchange = exchange
        self.client_name = client_name
        self._wants_reply_queue = reply_queue
        # The real client side builds the requests and events. Nothing here runs its loop (no
        # submit, no timers), so the loop is closed at once: it holds a socket pair.
        loop = DriverLoop()
        loop.close()
        self._calls = Calls(
            loop,
            exchange=exchange,
            client_name=client_name,
            max_message_bytes=max_message_bytes,
            reply_queue_ttl_ms=reply_queue_ttl_ms,
            retry_nacks=False,
            drop=lambda _error: None,
            describe=lambda: self.uri,
        )
        self._pending: dict[str, PendingCall] = {}
        self._failure: RpcConnectionError | None = None
        self._deadlines = Deadlines(self._expire)
        self._declared: set[str] = set()
        self._consumers: list[MemoryConsumer] = []
        broker.attach(self)
        with broker.lock:
            broker.declare_exchange(exchange)
            if reply_queue:
                queue = self._calls.reply_queue
                broker.declare_queue(queue, arguments={"x-expires": reply_queue_ttl_ms})
                broker.bind(queue, exchange, self._calls.reply_to)
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
        return self._calls.max_message_bytes

    @property
    def reply_queue(self) -> str:
        return self._calls.reply_queue

    @property
    def reply_to(self) -> str:
        return self._calls.reply_to

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
        call = self._calls.request(method, body, timeout, on_done)
        call.properties.reply_to = self._calls.reply_to
        run_here = None
        with self._broker.lock:
            if self._failure is not None:
                call.finish(b"", self._failure)
                return call
            self._pending[call.correlation_id] = call
            if call.deadline is not None:
                self._deadlines.add(call, len(self._pending))
            try:
                props = travelled(call.properties)
                caller.waiting = will_drive and self._broker.caller_runs
                try:
                    routed = self._broker.publish(
                        self._exchange, method.routing_key, props, body, mandatory=True
                    )
                finally:
                    run_here, caller.run_here, caller.waiting = caller.run_here, None, False
            except Exception as exc:
                self._pending.pop(call.correlation_id, None)
                call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
                return call
            if not routed and self._pending.pop(call.correlation_id, None) is not None:
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
        call = self._calls.event(event, body, timeout, on_done)
        with self._broker.lock:
            try:
                if event.exchange not in self._declared:
                    self._broker.declare_exchange(event.exchange)
                    self._declared.add(event.exchange)
                props = travelled(call.properties)
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
            self._pending.pop(call.correlation_id, None)

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
            calls, self._pending = list(self._pending.values()), {}
            self._broker.detach(self)
            if self._wants_reply_queue:
                self._broker.delete_queue(self._calls.reply_queue)
            for call in calls:
                call.finish(b"", error)
            consumers, self._consumers = self._consumers, []
            for consumer in consumers:
                consumer.ended(error if lost else None)
        self._deadlines.close()

    # -- what a ServiceRunner uses ----------------------------------------------------------------

    def consume(
        self,
        queue: str,
        binding_key: str,
        prefetch: int,
        on_delivery: Callable[[Delivery], None],
        on_lost: Callable[[RpcConnectionError], None] | None = None,
        arguments: dict[str, object] | None = None,
        setup: Sequence[topology.Step] | None = None,
        answer: Callable[[Delivery], None] | None = None,
    ) -> MemoryConsumer:
        """``_amqp.consumer.consume`` on this broker: the same declare steps, then deliveries.

        ``answer`` (the runner's own way of serving one request on a worker) lets a sync caller
        serve its own request when the service is idle (``MemoryBroker.caller_runs``).
        """
        if self._failure is not None:
            raise self._failure
        steps = (
            list(setup)
            if setup is not None
            else [
                topology.queue(queue, arguments=arguments),
                topology.bind(queue, self._exchange, binding_key),
            ]
        )
        with self._broker.lock:
            declarer = Declarer(self._broker, self)
            topology.run(declarer, steps, lambda: None)
            consumer = MemoryConsumer(self, queue, on_delivery, on_lost, answer)
            consumer.subscribe(prefetch)
            self._consumers.append(consumer)
        return consumer

    # -- internals --------------------------------------------------------------------------------

    def _on_reply(self, _tag: int, message: Message) -> None:
        call = self._pending.pop(message.properties.correlation_id, None)
        if call is None:
            log.debug("dropped a reply for unknown correlation id %r", message.properties)
            return
        limit = self._calls.max_message_bytes
        if len(message.body) > limit:
            what = f"reply of {call.method.routing_key}"
            call.finish(b"", PayloadTooLarge.exceeded(what, len(message.body), limit))
            return
        call.finish(message.body, None)

    def _expire(self, call: PendingCall) -> None:
        with self._broker.lock:
            if self._pending.pop(call.correlation_id, None) is not None:
                call.finish(b"", RpcTimeout(call.method.routing_key, call.timeout or 0.0))

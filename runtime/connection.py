"""The connection under every client and server: AMQP topology, calls, confirms, replies.

One ``Connection`` is one pika ``SelectConnection`` shared by any number of clients, threads,
asyncio tasks and servers; ``driving.Driver`` decides which thread runs pika at any moment (a
caller publishes its own request and reads its own reply; a background thread serves the rest).

A call. Its request is published on a confirm channel with ``mandatory=True``. Confirms are
tracked by delivery tag (honouring ``multiple``) and never waited for: RabbitMQ sends
``basic.return`` before the ``basic.ack`` of an unroutable mandatory publish, so the return
alone fails exactly that call with ``UnknownService`` (found through the correlation id in the
returned properties). Replies arrive on the connection's one reply queue and are matched by
correlation id; unknown ids (late replies, duplicates) are acked and dropped. Deadlines sit in
one heap served by one loop timer armed at the earliest of them.

Servers consume through ``rpcgen.runtime.consumer.Consumer`` on the same machinery.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pika
from pika import exceptions as pika_errors
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic
from rpcgen.runtime import context, wire
from rpcgen.runtime.calls import Completion, Confirms, Deadlines, PendingCall
from rpcgen.runtime.driving import Driver
from rpcgen.runtime.errors import PayloadTooLarge, RpcConnectionError, RpcTimeout, UnknownService
from rpcgen.runtime.ioloop import DriverLoop
from rpcgen.runtime.spec import Method
from rpcgen.runtime.uris import describe_error, mask_uri, pika_parameters, resolve_uris

if TYPE_CHECKING:
    from rpcgen.runtime.consumer import Consumer

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "DEFAULT_TIMEOUT", "Connection", "PendingCall"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take in total unless its client says otherwise."""
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest request or reply body (bytes) a connection sends or accepts unless told otherwise."""

_Pika = Any  # pika ships no type hints


class _BatchingConnection(SelectConnection):  # type: ignore[misc]
    """Hands the transport all frames of a turn as one buffer, so a turn costs one ``send()``.

    pika writes each frame separately (three for a publish, one for an ack) and its transport
    makes one system call per buffer; ``Driver.turn`` flushes the outbox instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.outbox: list[bytes] = []
        super().__init__(*args, **kwargs)

    def _adapter_emit_data(self, data: bytes) -> None:
        self.outbox.append(data)

    def flush_outbox(self) -> None:
        outbox = self.outbox
        if outbox:
            data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
            outbox.clear()
            if self._transport is not None:
                self._transport.write(data)


class Connection:
    """A connection to RabbitMQ shared by any number of clients, threads and servers.

    ``uri`` is an ``amqp://`` or ``amqps://`` URI, a list of them tried in order (failover), or
    None for ``$RPCGEN_AMQP_URI`` or ``amqp://guest:guest@localhost:5672/``. It connects at
    once and raises ``RpcConnectionError`` when it cannot. Every peer of a service must use
    the same ``exchange``. ``client_name`` names the reply queue
    (``rpc.reply-<client_name>-<uuid>``) and the call ids of calls made outside handlers;
    ``reply_queue=False`` makes a connection for serving only.

    A request or reply body over ``max_message_bytes`` fails its call with ``PayloadTooLarge``:
    a request before it is published, a reply when it arrives (servers answer with it).
    """

    def __init__(
        self,
        uri: str | Sequence[str] | None = None,
        *,
        exchange: str = wire.DEFAULT_EXCHANGE,
        client_name: str = "rpcgen_client",
        heartbeat: int = 60,
        connect_timeout: float = 10.0,
        reply_queue: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._uris = resolve_uris(uri)
        self._params = [
            pika_parameters(u, heartbeat=heartbeat, connect_timeout=connect_timeout,
                            name=f"rpcgen {client_name}")
            for u in self._uris
        ]  # fmt: skip
        self.exchange = exchange
        self.client_name = client_name
        self.reply_to = str(uuid.uuid4())
        self.reply_queue = wire.reply_queue_name(client_name, self.reply_to)
        self._wants_reply_queue = reply_queue
        self.max_message_bytes = max_message_bytes
        self._loop = DriverLoop()
        self._io = Driver(
            self._loop, needs_background=lambda: bool(self._pending or self._consumers)
        )
        # Protocol state, touched only under the I/O lock.
        self._pika: _BatchingConnection | None = None
        self._channel: _Pika = None
        self._uri_index = 0
        self._open_errors: list[str] = []
        self._ready = False
        self._closing = False
        self._failure: RpcConnectionError | None = None
        self._pending: dict[str, PendingCall] = {}
        self._confirms: Confirms[PendingCall] = Confirms()
        self._deadlines = Deadlines(self._loop, self._expire)
        self._reply_ack_tag = 0
        self._replies_unacked = 0
        self._ack_timer_set = False
        self._consumers: list[Consumer] = []
        self._opened = threading.Event()
        self._io.start(self._connect_next, self._on_crash)
        self._opened.wait()
        if self._failure is not None:
            self._io.join()
            raise self._failure

    @property
    def uri(self) -> str:
        """The URI connected to, password masked."""
        return mask_uri(self._uris[max(0, self._uri_index - 1)])

    def __repr__(self) -> str:
        return f"<Connection {self.uri} exchange={self.exchange!r}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    @property
    def is_open(self) -> bool:
        """False once closed or lost; calls then fail with ``RpcConnectionError``."""
        return self._failure is None

    def close(self) -> None:
        """Close the connection; calls still pending fail with ``RpcConnectionError``."""
        self._io.post(self._begin_close)
        self._io.join()

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None:
        """Read and dispatch in this thread until ``is_done()`` (see ``Driver.drive``)."""
        self._io.drive(is_done, deadline)

    def _post(self, op: Callable[[], None]) -> None:
        """Run ``op`` under the I/O lock, soon (see ``Driver.post``)."""
        self._io.post(op)

    def _on_crash(self, exc: Exception) -> None:
        self._lost(RpcConnectionError(f"I/O thread of {self.uri} crashed: {exc!r}"))

    # -- calls (any thread) -------------------------------------------------------------------

    def call(
        self, method: Method[object], body: bytes, timeout: float | None, on_done: Completion,
        *, will_drive: bool = False,
    ) -> PendingCall:  # fmt: skip
        """Send one request; ``on_done(reply_body, error)`` runs once, under the I/O lock."""
        if self._failure is not None:
            raise self._failure
        if not self._wants_reply_queue:
            raise RpcConnectionError("this connection was opened with reply_queue=False")
        if len(body) > self.max_message_bytes:
            what = f"request to {method.routing_key}"
            raise PayloadTooLarge.exceeded(what, len(body), self.max_message_bytes)
        cid = str(uuid.uuid4())
        props = pika.BasicProperties(
            content_type=wire.CONTENT_TYPE,
            content_encoding=wire.CONTENT_ENCODING,
            delivery_mode=wire.PERSISTENT,
            priority=0,
            correlation_id=cid,
            reply_to=self.reply_to,
            headers=context.outgoing_headers(f"{self.client_name}.call.{cid}"),
            expiration=None if timeout is None else str(math.ceil(timeout * 1000)),
        )
        pending = PendingCall(method, cid, body, props, timeout, on_done)
        # A caller about to drive reads its own reply: no need to rouse the background thread.
        self._io.post(partial(self._publish_call, pending), rouse=not will_drive)
        return pending

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call`` (its waiter gave up); a reply that comes later is dropped."""
        call.done = True
        self._post(partial(self._drop, call))

    # -- connecting -----------------------------------------------------------------------------

    def _connect_next(self) -> None:
        if self._uri_index == len(self._params):
            tried = "; ".join(self._open_errors)
            self._failure = RpcConnectionError(f"cannot connect to RabbitMQ: {tried}")
            self._io.finish()
            self._opened.set()
            return
        params = self._params[self._uri_index]
        self._uri_index += 1
        self._pika = _BatchingConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._loop,
        )
        self._io.output = self._pika

    def _on_open_error(self, _conn: _Pika, error: BaseException) -> None:
        self._open_errors.append(describe_error(self._uris[self._uri_index - 1], error))
        self._connect_next()

    def _on_open(self, conn: _Pika) -> None:
        self._pika = conn
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: _Pika) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        # Nameko's exact flags, or RabbitMQ refuses the re-declare (PRECONDITION_FAILED).
        channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, auto_delete=False,
            internal=False, callback=self._on_exchange_ok,
        )  # fmt: skip

    def _on_exchange_ok(self, _frame: _Pika) -> None:
        if not self._wants_reply_queue:
            self._become_ready()
            return
        self._channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: _Pika) -> None:
        self._channel.queue_declare(
            self.reply_queue, durable=True, exclusive=False, auto_delete=False,
            arguments={"x-expires": wire.REPLY_QUEUE_TTL_MS}, callback=self._on_reply_queue,
        )  # fmt: skip

    def _on_reply_queue(self, _frame: _Pika) -> None:
        self._channel.queue_bind(
            self.reply_queue, self.exchange, routing_key=self.reply_to, callback=self._on_bound
        )

    def _on_bound(self, _frame: _Pika) -> None:
        self._channel.basic_consume(
            self.reply_queue, self._on_reply, auto_ack=False, callback=self._become_ready
        )

    def _become_ready(self, _frame: _Pika = None) -> None:
        self._ready = True
        log.debug("connected to %s, reply queue %s", self.uri, self.reply_queue)
        self._opened.set()

    # -- calls (under the lock) ---------------------------------------------------------------

    def _publish_call(self, call: PendingCall) -> None:
        if self._failure is not None:
            call.finish(b"", self._failure)
            return
        self._pending[call.correlation_id] = call
        if self._reply_ack_tag:
            self._ack_replies()  # rides in the same send() as the request
        try:
            self._channel.basic_publish(
                self.exchange, call.method.routing_key, call.body, call.properties, mandatory=True
            )
        except Exception as exc:
            del self._pending[call.correlation_id]
            call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
            return
        self._confirms.add(call)
        if call.deadline is not None:
            self._deadlines.add(call, call.deadline, len(self._pending))

    def _drop(self, call: PendingCall) -> None:
        self._pending.pop(call.correlation_id, None)

    def _on_confirm(self, frame: _Pika) -> None:
        method = frame.method
        settled = self._confirms.settle(method.delivery_tag, method.multiple)
        if isinstance(method, Basic.Nack):
            for call in settled:
                if self._pending.pop(call.correlation_id, None) is not None:
                    err = f"RabbitMQ refused the request to {call.method.routing_key} (nack)"
                    call.finish(b"", RpcConnectionError(err))

    def _on_return(self, _ch: _Pika, _method: _Pika, props: _Pika, _body: bytes) -> None:
        # Arrives before the publish's ack: no queue is bound for this service at all.
        call = self._pending.pop(props.correlation_id, None)
        if call is not None:
            call.finish(b"", UnknownService(call.method.service))

    def _on_reply(self, _ch: _Pika, deliver: _Pika, props: _Pika, body: bytes) -> None:
        # Replies are acked in batches (multiple=True): with the next request, after 64 of
        # them, or 50 ms later, whichever comes first. A caller never waits for an ack.
        if not self._ack_timer_set:  # one timer at a time: a timer per reply kept waking waiters
            self._ack_timer_set = True
            self._loop.call_later(0.05, self._on_ack_timer)
        self._reply_ack_tag = deliver.delivery_tag
        self._replies_unacked += 1
        if self._replies_unacked >= 64:
            self._ack_replies()
        call = self._pending.pop(props.correlation_id, None)
        if call is None:
            log.debug("dropped a reply for unknown correlation id %r", props.correlation_id)
            return
        if len(body) > self.max_message_bytes:
            what = f"reply of {call.method.routing_key}"
            call.finish(b"", PayloadTooLarge.exceeded(what, len(body), self.max_message_bytes))
            return
        call.finish(body, None)

    def _on_ack_timer(self) -> None:
        self._ack_timer_set = False
        self._ack_replies()

    def _ack_replies(self) -> None:
        tag, self._reply_ack_tag, self._replies_unacked = self._reply_ack_tag, 0, 0
        if tag and self._channel is not None and self._channel.is_open:
            self._channel.basic_ack(tag, multiple=True)

    def _expire(self, call: PendingCall) -> None:
        if self._pending.pop(call.correlation_id, None) is not None:
            call.finish(b"", RpcTimeout(call.method.routing_key, call.timeout or 0.0))

    # -- closing and failures -------------------------------------------------------------------

    def _begin_close(self) -> None:
        if self._closing or self._io.stopped:
            return
        self._closing = True
        self._ack_replies()  # replies already handled must not be redelivered to nobody
        self._fail_all(RpcConnectionError(f"the connection to {self.uri} was closed"))
        if self._pika is not None and self._pika.is_open:
            self._pika.close()  # _on_closed finishes
        elif self._pika is None or self._pika.is_closed:
            self._io.finish()

    def _on_channel_closed(self, _channel: _Pika, reason: BaseException) -> None:
        if self._closing:
            return
        if isinstance(reason, pika_errors.ConnectionClosed):  # the whole connection went
            self._lost(RpcConnectionError(f"lost the connection to {self.uri}: {reason}"))
        else:
            self._lost(RpcConnectionError(f"RabbitMQ closed the channel on {self.uri}: {reason}"))
        if self._pika is not None and self._pika.is_open:
            self._pika.close()

    def _on_closed(self, _conn: _Pika, reason: BaseException) -> None:
        if not self._closing:
            self._lost(RpcConnectionError(f"lost the connection to {self.uri}: {reason}"))
        self._io.finish()

    def _lost(self, error: RpcConnectionError) -> None:
        """The connection became unusable: fail what waits on it (reconnecting is issue 4)."""
        if self._failure is None and self._ready:
            log.error("%s", error)
        self._fail_all(error)
        for consumer in self._consumers:
            consumer._lost(error)
        self._opened.set()

    def _fail_all(self, error: RpcConnectionError) -> None:
        if self._failure is None:
            self._failure = error
        calls, self._pending = list(self._pending.values()), {}
        self._deadlines.clear()
        for call in calls:
            call.finish(b"", error)

    # -- consumers ----------------------------------------------------------------------------

    def _add_consumer(self, consumer: Consumer) -> None:
        """Open ``consumer``'s channel (under the lock); it takes over from there."""
        if self._failure is not None or self._pika is None:
            consumer._lost(self._failure or RpcConnectionError("not connected"))
            return
        self._consumers.append(consumer)
        self._pika.channel(on_open_callback=consumer._on_channel_open)

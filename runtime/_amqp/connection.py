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

Servers consume through ``rpcgen.runtime._amqp.consumer.Consumer`` on the same machinery.

Losing the broker (see README, "Reliability"). Once connected, a lost connection is
re-established by rounds over every URI, spaced by ``reconnect`` (a ``Backoff``), and the
topology is declared again. Calls survive it as follows: a call whose request was confirmed
keeps waiting, because its reply lands in the durable reply queue (same name, ``x-expires``);
a call whose request was not confirmed is published again with the same correlation id once
reconnected (at-least-once: the handler may run twice, the caller sees one reply, later ones
are dropped by correlation id); a call made while disconnected waits for the reconnect, within
its timeout. Before re-declaring the reply queue a reconnect checks it still exists (passive
declare): if it expired meanwhile, the calls waiting on it fail with ``ReplyQueueExpired``; if
its node is down (cluster failover), with ``RpcConnectionError``; the connection then uses a new
reply queue. A nack of a request (a quorum queue whose leader moved) reopens the connection and
republishes the call, three times at most.
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
from rpcgen.runtime import context
from rpcgen.runtime._amqp import pikafix, transport
from rpcgen.runtime._amqp.calls import Completion, Confirms, Deadlines, PendingCall
from rpcgen.runtime._amqp.driving import Driver
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._amqp.uris import (
    Backoff,
    describe_error,
    mask_uri,
    pika_parameters,
    resolve_uris,
)
from rpcgen.runtime._codec import wire
from rpcgen.runtime.errors import (
    PayloadTooLarge,
    ReplyQueueExpired,
    RpcConnectionError,
    RpcTimeout,
    UnknownService,
)
from rpcgen.runtime.spec import Method

if TYPE_CHECKING:
    from rpcgen.runtime._amqp.consumer import Consumer

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "DEFAULT_TIMEOUT", "Backoff", "Connection", "PendingCall"]

log = logging.getLogger(__name__)


DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take in total unless its client says otherwise."""
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest request or reply body (bytes) a connection sends or accepts unless told otherwise."""
MAX_NACKS = 3
"""Publishes of one request RabbitMQ may refuse before the call fails."""
_PUBLISH_LOST = (pika_errors.ChannelWrongStateError, pika_errors.ConnectionWrongStateError)

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
    ``reply_queue=False`` makes a connection for serving only. ``reconnect`` says how a
    connection lost after it was opened is re-established (None: a loss is final);
    ``reply_queue_ttl_ms`` is the reply queue's ``x-expires`` (how long it outlives a loss).

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
        reconnect: Backoff | None = Backoff(),  # noqa: B008 (frozen: one shared instance is fine)
        reply_queue_ttl_ms: int = wire.REPLY_QUEUE_TTL_MS,
    ) -> None:
        pikafix.install()
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
        self._reconnect = reconnect
        self._reply_queue_ttl_ms = reply_queue_ttl_ms
        self._loop = DriverLoop()
        self._io = Driver(
            self._loop,
            needs_background=lambda: bool(self._pending or self._consumers or not self._ready),
        )
        # Protocol state, touched only under the I/O lock.
        self._pika: _BatchingConnection | None = None
        self._channel: _Pika = None
        self._current = 0  # index of the URI in use (or being tried)
        self._round: list[int] = []  # URIs still to try in this round
        self._attempt = 0  # reconnect rounds since the last loss
        self._open_errors: list[str] = []
        self._ready = False
        self._connected_once = False
        self._loss: RpcConnectionError | None = None  # why we are closing a live connection
        self._unsent: list[PendingCall] = []  # pending calls to publish once (re)connected
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
        self._io.start(self._start_round, self._on_crash)
        self._opened.wait()
        if self._failure is not None:
            self._io.join()
            raise self._failure

    @property
    def uri(self) -> str:
        """The URI connected to, password masked."""
        return mask_uri(self._uris[self._current])

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
        """False once closed or given up; calls then fail with ``RpcConnectionError``."""
        return self._failure is None

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while reconnecting)."""
        return self._ready and self._failure is None

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

    def _start_round(self) -> None:
        """Try every URI once, from the current one (the first at start, the lost one later)."""
        count = len(self._params)
        self._round = [(self._current + k) % count for k in range(count)]
        self._open_errors = []
        self._try_next()

    def _try_next(self) -> None:
        if self._closing:
            self._io.finish()
            return
        if not self._round:
            tried = "; ".join(self._open_errors)
            self._round_failed(RpcConnectionError(f"cannot connect to RabbitMQ: {tried}"))
            return
        self._current = self._round.pop(0)
        self._pika = None  # callbacks of the previous connection are stale from here on
        self._pika = _BatchingConnection(
            self._params[self._current],
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._loop,
        )
        self._io.output = self._pika

    def _on_open_error(self, conn: _Pika, error: BaseException) -> None:
        if self._pika is not None and conn is not self._pika:
            return
        self._open_errors.append(describe_error(self._uris[self._current], error))
        self._try_next()

    def _round_failed(self, error: RpcConnectionError) -> None:
        if not self._connected_once:  # the first connect fails at once, with every reason
            self._failure = error
            self._io.finish()
            self._opened.set()
            return
        self._schedule_reconnect(error)

    def _schedule_reconnect(self, error: RpcConnectionError) -> None:
        self._attempt += 1
        backoff = self._reconnect
        if backoff is None or (backoff.attempts is not None and self._attempt > backoff.attempts):
            if backoff is not None:
                error = RpcConnectionError(f"{error} (gave up after {self._attempt - 1} rounds)")
            self._lost(error)
            self._io.finish()
            return
        delay = backoff.delay(self._attempt)
        log.warning("%s; reconnecting in %.1f s", error, delay)
        self._loop.call_later(delay, self._reconnect_round)

    def _reconnect_round(self) -> None:
        if self._closing:
            self._io.finish()
        elif not self._ready and self._failure is None:
            self._start_round()

    def _on_open(self, conn: _Pika) -> None:
        self._pika = conn
        transport.install(conn)  # a send without a poll round, reads without a retry
        if self._connected_once and self._wants_reply_queue:
            conn.channel(on_open_callback=self._on_probe_open)  # did the reply queue survive?
        else:
            conn.channel(on_open_callback=self._on_channel_open)

    def _on_probe_open(self, channel: _Pika) -> None:
        # A passive declare on a channel of its own: a 404 closes the channel it happens on.
        channel.add_on_close_callback(self._on_probe_closed)
        channel.queue_declare(
            self.reply_queue, passive=True, callback=lambda _f: self._probed(channel, None)
        )

    def _on_probe_closed(self, channel: _Pika, reason: BaseException) -> None:
        if isinstance(reason, pika_errors.ChannelClosedByBroker) and reason.reply_code == 404:
            self._probed(channel, reason.reply_text)

    def _probed(self, channel: _Pika, missing: str | None) -> None:
        if channel.is_open:
            channel.close()
        if missing is not None:
            self._reply_queue_gone(missing)
        if self._pika is not None and self._pika.is_open:
            self._pika.channel(on_open_callback=self._on_channel_open)

    def _reply_queue_gone(self, why: str) -> None:
        """Fail the calls whose replies went to a vanished reply queue; use a new one."""
        old = self.reply_queue
        if "down or inaccessible" in why:
            error: RpcConnectionError = RpcConnectionError(
                f"the reply queue {old} is on a RabbitMQ node that is down: its replies are lost"
            )
        else:
            error = ReplyQueueExpired(
                f"the reply queue {old} expired while disconnected: its replies are lost"
            )
        unsent = {call.correlation_id for call in self._unsent}
        waiting = [c for cid, c in self._pending.items() if cid not in unsent]
        for call in waiting:
            del self._pending[call.correlation_id]
            call.finish(b"", error)
        self.reply_to = str(uuid.uuid4())
        self.reply_queue = wire.reply_queue_name(self.client_name, self.reply_to)
        log.warning(
            "%s (%d calls failed); new reply queue %s", error, len(waiting), self.reply_queue
        )

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
            arguments={"x-expires": self._reply_queue_ttl_ms}, callback=self._on_reply_queue,
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
        if self._connected_once:
            log.warning("reconnected to %s, reply queue %s", self.uri, self.reply_queue)
        else:
            log.debug("connected to %s, reply queue %s", self.uri, self.reply_queue)
        self._ready = self._connected_once = True
        self._attempt = 0
        self._loss = None
        self._opened.set()
        unsent, self._unsent = self._unsent, []
        for call in unsent:
            if not call.done:
                self._send(call)
        for consumer in self._consumers:
            consumer._resume()

    # -- calls (under the lock) ---------------------------------------------------------------

    def _publish_call(self, call: PendingCall) -> None:
        if self._failure is not None:
            call.finish(b"", self._failure)
            return
        if call.done:  # forgotten before it could be sent
            return
        self._pending[call.correlation_id] = call
        if call.deadline is not None:
            self._deadlines.add(call, call.deadline, len(self._pending))
        if self._ready:
            self._send(call)
        else:  # reconnecting: sent once reconnected, unless its deadline passes first
            self._unsent.append(call)

    def _send(self, call: PendingCall) -> None:
        call.properties.reply_to = self.reply_to  # the reply queue may be new since the call began
        if self._reply_ack_tag:
            self._ack_replies()  # rides in the same send() as the request
        try:
            transport.publish(
                self._channel, self.exchange, call.method.routing_key, call.body, call.properties,
                mandatory=True,
            )  # fmt: skip
        except _PUBLISH_LOST:  # lost, and not told yet: the loss handler will resend it
            self._unsent.append(call)
            return
        except Exception as exc:
            del self._pending[call.correlation_id]
            call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
            return
        self._confirms.add(call)

    def _drop(self, call: PendingCall) -> None:
        self._pending.pop(call.correlation_id, None)

    def _on_confirm(self, frame: _Pika) -> None:
        method = frame.method
        settled = self._confirms.settle(method.delivery_tag, method.multiple)
        if not isinstance(method, Basic.Nack):
            return
        retry = False
        for call in settled:
            if call.done:
                continue
            call.nacks += 1
            if self._reconnect is not None and call.nacks <= MAX_NACKS:
                self._unsent.append(call)  # a new channel often takes it (quorum leader moved)
                retry = True
            elif self._pending.pop(call.correlation_id, None) is not None:
                err = f"RabbitMQ refused the request to {call.method.routing_key} (nack)"
                call.finish(b"", RpcConnectionError(err))
        if retry:
            self._drop_connection(RpcConnectionError(f"RabbitMQ refused a request on {self.uri}"))

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
        else:  # between attempts, or still opening: nothing to wait for
            if self._pika is not None and not self._pika.is_closed:
                try:
                    self._pika.close()
                except Exception:  # pika cannot close every opening state; dropped with the loop
                    log.debug("closing a connection still opening failed", exc_info=True)
            self._io.finish()

    def _on_channel_closed(self, channel: _Pika, reason: BaseException) -> None:
        if self._closing or channel is not self._channel:
            return
        self._channel = None
        if isinstance(reason, pika_errors.ConnectionClosed):  # _on_closed follows
            return
        error = RpcConnectionError(f"RabbitMQ closed the channel on {self.uri}: {reason}")
        if not self._connected_once:
            self._lost(error)  # a refused topology at connect time is final
        self._drop_connection(error)

    def _drop_connection(self, error: RpcConnectionError) -> None:
        """Close a connection that is no longer usable; ``_on_closed`` reconnects or gives up."""
        self._loss = self._loss or error
        if self._pika is not None and self._pika.is_open:
            self._pika.close()

    def _on_closed(self, conn: _Pika, reason: BaseException) -> None:
        if self._pika is not None and conn is not self._pika:
            return
        if self._closing:
            self._io.finish()
            return
        error = self._loss or RpcConnectionError(f"lost the connection to {self.uri}: {reason}")
        if self._failure is not None or not self._connected_once:
            self._lost(error)
            self._io.finish()
            return
        self._on_connection_lost(error)

    def _on_connection_lost(self, error: RpcConnectionError) -> None:
        """Keep every call that can still complete, then reconnect (``_schedule_reconnect``)."""
        was_ready, self._ready = self._ready, False
        self._loss = None
        self._channel = None
        self._reply_ack_tag = self._replies_unacked = 0  # delivery tags die with the channel
        # Unconfirmed requests may or may not have reached a queue: send them again.
        resend = [call for call in self._confirms.drain() if not call.done]
        self._unsent = resend + [call for call in self._unsent if not call.done]
        for consumer in self._consumers:
            consumer._detach()
        if was_ready:
            log.warning(
                "%s (%d calls pending, %d to resend)", error, len(self._pending), len(resend)
            )
        self._schedule_reconnect(error)

    def _lost(self, error: RpcConnectionError) -> None:
        """The connection is over for good: fail what waits on it."""
        if self._failure is None and self._connected_once and not self._closing:
            log.error("%s", error)
        self._fail_all(error)
        for consumer in self._consumers:
            consumer._lost(error)
        self._opened.set()

    def _fail_all(self, error: RpcConnectionError) -> None:
        if self._failure is None:
            self._failure = error
        calls, self._pending = list(self._pending.values()), {}
        self._unsent = []
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
        if self._ready:  # else it starts once reconnected
            consumer._resume()

    def _open_channel(self, on_open: Callable[[_Pika], None]) -> bool:
        """Open a channel if connected (under the lock); False while reconnecting."""
        if not self._ready or self._pika is None or not self._pika.is_open:
            return False
        self._pika.channel(on_open_callback=on_open)
        return True

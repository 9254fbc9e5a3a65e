"""The connection under every client and server: one pika connection, shared.

One ``Connection`` is one pika ``SelectConnection`` shared by any number of clients, threads,
asyncio tasks and servers. Its parts, each in its own module:

- ``driving.Driver`` decides which thread runs pika at any moment (a caller publishes its own
  request and reads its own reply; a background thread serves the rest);
- ``link.Link`` connects, declares, reconnects and closes, in the states of ``state.State``,
  every phase bounded in time;
- ``client_side.ClientSide`` is the client side: requests, confirms, returns, replies and
  deadlines;
- consumers (``consumer.Consumer``) are ``contract.ChannelUser``s: the connection attaches them
  when it is ready, detaches them when it goes down and fails them when it is over.

``Connection`` is the user's face (and the ``_transport.Transport`` that clients and runners
use); its insides are ``_Core``, the ``contract.ChannelHost`` its consumers talk to and the
``link.LinkOwner`` its link talks to.

Losing the broker (docs/reliability.md): a connection lost after it was opened is
re-established by rounds over every URI, spaced by ``reconnect`` (a ``Backoff``); calls and
consumers carry on as ``client_side`` and ``consumer`` describe. A nack of a request (a quorum
queue whose leader moved) reopens the connection and republishes the call, three times at most.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

from rpcgen.runtime import _calls, _metrics
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._amqp import pikafix
from rpcgen.runtime._amqp.client_side import MAX_NACKS, ClientSide
from rpcgen.runtime._amqp.consumer import Consumer
from rpcgen.runtime._amqp.contract import ChannelUser
from rpcgen.runtime._amqp.driving import Driver, Output
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._amqp.link import Link
from rpcgen.runtime._amqp.pikatypes import Pika
from rpcgen.runtime._amqp.state import State
from rpcgen.runtime._amqp.uris import Backoff, pika_parameters, resolve_uris
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    Completion,
    Delivery,
    PendingCall,
)
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.spec import Event, Method

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_NACKS",
    "Backoff",
    "Connection",
    "State",
]

log = logging.getLogger(__name__)


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

    ``connect_timeout`` bounds every phase of connecting, declaring and closing (see
    ``state``): neither ``Connection()`` nor ``close()`` waits longer than a few of them,
    whatever the broker does. A request or reply body over ``max_message_bytes`` fails its
    call with ``PayloadTooLarge``: a request before it is published, a reply when it arrives.

    While the connection is down and reconnecting, a call that times out says since when
    (``RpcTimeout``: ``...; not connected to the broker since 12:03:07 (reconnecting to
    ...)``); with ``fail_fast=True`` a call or event made meanwhile raises
    ``RpcConnectionError`` at once instead of waiting to be sent after the reconnect.
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
        fail_fast: bool = False,
    ) -> None:
        pikafix.install()
        uris = resolve_uris(uri)
        name = f"rpcgen {client_name}"
        params = [
            pika_parameters(u, heartbeat=heartbeat, connect_timeout=connect_timeout, name=name)
            for u in uris
        ]
        self.client_name = client_name
        self._wants_reply_queue = reply_queue
        self._fail_fast = fail_fast
        self._core = core = _Core(
            uris,
            params,
            exchange=exchange,
            client_name=client_name,
            connect_timeout=connect_timeout,
            reconnect=reconnect,
            reply_queue=reply_queue,
            max_message_bytes=max_message_bytes,
            reply_queue_ttl_ms=reply_queue_ttl_ms,
        )
        self._side = core.side  # the call path's two parts, kept at hand
        self._io = core.io
        core.start()

    @property
    def uri(self) -> str:
        """The URI connected to, password masked."""
        return self._core.link.uri

    @property
    def exchange(self) -> str:
        return self._core.exchange

    @property
    def max_message_bytes(self) -> int:
        return self._side.calls.max_message_bytes

    @property
    def reply_queue(self) -> str:
        """The queue replies to this connection's calls arrive on (renewed if it expires)."""
        return self._side.reply_queue

    @property
    def reply_to(self) -> str:
        return self._side.reply_to

    @property
    def state(self) -> State:
        """Where the connection is in its life (see ``state.State``)."""
        return self._core.link.phase.state

    @property
    def is_open(self) -> bool:
        """False once closed or given up; calls then fail with ``RpcConnectionError``."""
        return self._side.failure is None

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while reconnecting)."""
        return self._core.link.phase.ready and self._side.failure is None

    def __repr__(self) -> str:
        return f"<Connection {self.uri} exchange={self.exchange!r} {self.state.value}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; calls still pending fail with ``RpcConnectionError``.

        Waits for the broker's close handshake at most ``connect_timeout`` seconds.
        """
        self._io.post(self._core.link.close)
        self._io.join()

    # -- the transport: what clients and runners use (``_transport.Transport``) ------------------

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None:
        """Read and dispatch in this thread until ``is_done()`` (see ``Driver.drive``)."""
        self._io.drive(is_done, deadline)

    def call(
        self,
        method: Method[object],
        body: bytes,
        timeout: float | None,
        on_done: Completion,
        *,
        will_drive: bool = False,
    ) -> PendingCall:
        """Send one request; ``on_done(reply_body, error)`` runs once, under the I/O lock."""
        side = self._side
        if side.failure is not None:
            raise side.failure
        self._check_connected()
        if not self._wants_reply_queue:
            raise RpcConnectionError("this connection was opened with reply_queue=False")
        call = _calls.request(
            method,
            body,
            timeout,
            on_done,
            client_name=self.client_name,
            reply_to=side.reply_to,
            max_message_bytes=side.calls.max_message_bytes,
        )
        # A caller about to drive reads its own reply: the background thread may stay parked.
        self._io.post(partial(side.submit, call), wake_background=not will_drive)
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
        """Publish one event; ``on_done(b"", error)`` runs once the broker confirmed it (or not)."""
        side = self._side
        if side.failure is not None:
            raise side.failure
        self._check_connected()
        limit = side.calls.max_message_bytes
        call = _calls.event(event, body, timeout, on_done, max_message_bytes=limit)
        self._io.post(partial(side.submit, call), wake_background=not will_drive)
        return call

    def _check_connected(self) -> None:
        """With ``fail_fast``, refuse a call while the connection is down."""
        if self._fail_fast:
            down = self._side.disconnected()
            if down:
                raise RpcConnectionError(f"{down}; fail_fast is set, so nothing was sent")

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call`` (its waiter gave up); a reply that comes later is dropped."""
        call.done = True
        self._io.post(partial(self._side.drop, call))

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
    ) -> Consumer:
        """Consume ``queue`` on a confirm channel of its own (see ``_transport.Transport``).

        ``on_delivery`` runs under the I/O lock for each request and must hand it off at once;
        the request is settled later with ``Consumer.reply`` or ``Consumer.ack``. Blocks until
        the broker has registered the consumer. ``serve_in_caller`` is not used here.
        """
        declare = topology.declare_steps(queue, self.exchange, binding_key, arguments, setup)
        consumer = Consumer(self._core, queue, declare, prefetch, on_delivery, on_lost)
        self._io.post(partial(self._core.add_user, consumer))
        consumer.ready.wait()
        if consumer.error is not None:
            raise consumer.error
        return consumer


class _Core:
    """A ``Connection``'s insides: its I/O ``Driver``, its ``Link``, its ``ClientSide`` and
    the consumers on it. It is the ``contract.ChannelHost`` of those consumers and the
    ``link.LinkOwner`` of that link; everything here runs under the I/O lock unless said."""

    def __init__(
        self,
        uris: list[str],
        params: list[Any],
        *,
        exchange: str,
        client_name: str,
        connect_timeout: float,
        reconnect: Backoff | None,
        reply_queue: bool,
        max_message_bytes: int,
        reply_queue_ttl_ms: int,
    ) -> None:
        self.exchange = exchange
        self.client_name = client_name
        self._wants_reply_queue = reply_queue
        self.loop = loop = DriverLoop()
        self.io = io = Driver(
            loop, needs_background=self._needs_background, on_fault=self._on_fault
        )
        # ChannelHost.post, any thread: run an operation under the I/O lock, soon. The driver's
        # own method, so that a consumer's reply goes straight to it.
        self.post = io.post
        self.link = link = Link(
            self, loop, uris, params, timeout=connect_timeout, reconnect=reconnect
        )
        self.side = ClientSide(
            loop,
            exchange=exchange,
            client_name=client_name,
            max_message_bytes=max_message_bytes,
            reply_queue_ttl_ms=reply_queue_ttl_ms,
            retry_nacks=reconnect is not None,
            drop=link.drop,
            describe=lambda: link.uri,
        )
        self._users: list[ChannelUser] = []
        self._settled = threading.Event()  # set once ready for the first time, or over

    def start(self) -> None:
        """Any thread: connect; returns once ready, or raises why it cannot be."""
        self.io.start(self.link.start_round, self._on_crash)
        self._settled.wait()
        if self.side.failure is not None:
            self.io.join()
            raise self.side.failure

    # -- ChannelHost: what consumers may ask (contract.py) ----------------------------------------

    @property
    def setup_timeout(self) -> float:
        return self.link.timeout

    @property
    def closing(self) -> bool:
        return self.link.phase.ending

    def add_user(self, user: ChannelUser) -> None:
        if self.side.failure is not None:
            user.fail(self.side.failure)
            return
        self._users.append(user)
        if self.link.phase.ready:  # else it is attached once (re)connected
            user.attach()

    def open_channel(self, on_open: Callable[[Pika], None]) -> bool:
        link = self.link
        if not link.phase.ready or link.pika is None or not link.pika.is_open:
            return False
        link.pika.channel(on_open_callback=on_open)
        return True

    def call_later(self, delay: float, op: Callable[[], None]) -> Any:
        return self.loop.call_later(delay, op)

    def cancel(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def drop(self, error: RpcConnectionError) -> None:
        self.link.drop(error)

    # -- LinkOwner: what the link asks (link.py) --------------------------------------------------

    def topology(self) -> list[topology.Step]:
        # Nameko's exact flags, or RabbitMQ refuses the re-declare (PRECONDITION_FAILED).
        return [topology.exchange(self.exchange), *self.side.steps(self._wants_reply_queue)]

    def wants_probe(self) -> bool:
        return self._wants_reply_queue

    def probe_queue(self) -> str:
        return self.side.reply_queue

    def on_return(self, ch: Pika, method: Pika, props: Pika, body: bytes) -> None:
        self.side.on_return(ch, method, props, body)

    def reply_queue_gone(self, why: str) -> None:
        self.side.reply_queue_gone(why)

    def link_attempt(self, conn: Output) -> None:
        self.io.output = conn

    def link_ready(self, channel: Pika, reconnected: bool) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, True, reconnected)
        queue = f", reply queue {self.side.reply_queue}" if self._wants_reply_queue else ""
        if reconnected:
            log.warning("reconnected to %s%s", self.link.uri, queue)
        else:
            log.debug("connected to %s%s", self.link.uri, queue)
        self._settled.set()
        self.side.up(channel)
        for user in list(self._users):
            user.attach()

    def link_down(self, error: RpcConnectionError) -> str:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        resent = self.side.down()
        for user in list(self._users):
            user.detach()
        pending = len(self.side.calls.pending)
        return f" ({pending} calls pending, {resent} to resend)" if pending or resent else ""

    def link_over(self, error: RpcConnectionError) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        if self.side.failure is None and self.link.opens:
            log.error("%s", error)
        self.side.fail_all(error)
        for user in list(self._users):
            user.fail(error)
        self._settled.set()

    def link_closing(self) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        self.side.ack_replies()  # replies already handled must not be redelivered to nobody
        self.side.fail_all(RpcConnectionError(f"the connection to {self.link.uri} was closed"))
        for user in list(self._users):
            user.detach()  # closing: a user sees ``closing`` and stops waiting

    def link_finished(self) -> None:
        self._settled.set()
        self.io.finish()

    # -- internals --------------------------------------------------------------------------------

    def _needs_background(self) -> bool:
        return bool(self.side.calls.pending or self._users or not self.link.phase.ready)

    def _on_fault(self, exc: Exception) -> None:
        self.link.fault(exc)

    def _on_crash(self, exc: Exception) -> None:
        self.link.crash(RpcConnectionError(f"I/O thread of {self.link.uri} crashed: {exc!r}"))

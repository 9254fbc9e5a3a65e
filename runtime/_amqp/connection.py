"""The connection under every client and server: one pika connection, shared.

One ``Connection`` is one pika ``SelectConnection`` shared by any number of clients, threads,
asyncio tasks and servers. Its parts, each in its own module:

- ``driving.Driver`` decides which thread runs pika at any moment (a caller publishes its own
  request and reads its own reply; a background thread serves the rest);
- ``link.Link`` connects, declares, reconnects and closes, in the states of ``state.State``,
  every phase bounded in time;
- ``calling.Calls`` is the client side: requests, confirms, returns, replies and deadlines;
- consumers (``consumer.Consumer``) are ``contract.ChannelUser``s: the connection attaches them
  when it is ready, detaches them when it goes down and fails them when it is over.

Losing the broker (docs/reliability.md): a connection lost after it was opened is
re-established by rounds over every URI, spaced by ``reconnect`` (a ``Backoff``); calls and
consumers carry on as ``calling`` and ``consumer`` describe. A nack of a request (a quorum queue
whose leader moved) reopens the connection and republishes the call, three times at most.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

from rpcgen.runtime import _metrics
from rpcgen.runtime._amqp import pikafix, topology
from rpcgen.runtime._amqp.calling import MAX_NACKS, Calls
from rpcgen.runtime._amqp.calls import Completion, PendingCall
from rpcgen.runtime._amqp.contract import ChannelUser
from rpcgen.runtime._amqp.driving import Driver, Output
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._amqp.link import Link
from rpcgen.runtime._amqp.state import State
from rpcgen.runtime._amqp.uris import Backoff, pika_parameters, resolve_uris
from rpcgen.runtime._codec import wire
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.spec import Event, Method

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_NACKS",
    "Backoff",
    "Connection",
    "PendingCall",
    "State",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take in total unless its client says otherwise."""
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest request or reply body (bytes) a connection sends or accepts unless told otherwise."""
_Pika = Any  # pika ships no type hints


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
        self._exchange = exchange
        self.client_name = client_name
        self._wants_reply_queue = reply_queue
        self._fail_fast = fail_fast
        self._loop = DriverLoop()
        self._io = Driver(
            self._loop, needs_background=self._needs_background, on_fault=self._on_fault
        )
        self._link = Link(
            self, self._loop, uris, params, timeout=connect_timeout, reconnect=reconnect
        )
        self._calls = Calls(
            self._loop,
            exchange=exchange,
            client_name=client_name,
            max_message_bytes=max_message_bytes,
            reply_queue_ttl_ms=reply_queue_ttl_ms,
            retry_nacks=reconnect is not None,
            drop=self._link.drop,
            describe=lambda: self.uri,
        )
        self._users: list[ChannelUser] = []
        self._settled = threading.Event()  # set once ready for the first time, or over
        self._io.start(self._link.start_round, self._on_crash)
        self._settled.wait()
        if self._calls.failure is not None:
            self._io.join()
            raise self._calls.failure

    # -- the public face --------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The URI connected to, password masked."""
        return self._link.uri

    @property
    def exchange(self) -> str:
        return self._exchange

    @property
    def max_message_bytes(self) -> int:
        return self._calls.max_message_bytes

    @property
    def reply_queue(self) -> str:
        """The queue replies to this connection's calls arrive on (renewed if it expires)."""
        return self._calls.reply_queue

    @property
    def reply_to(self) -> str:
        return self._calls.reply_to

    @property
    def state(self) -> State:
        """Where the connection is in its life (see ``state.State``)."""
        return self._link.phase.state

    @property
    def is_open(self) -> bool:
        """False once closed or given up; calls then fail with ``RpcConnectionError``."""
        return self._calls.failure is None

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while reconnecting)."""
        return self._link.phase.ready and self._calls.failure is None

    def __repr__(self) -> str:
        return f"<Connection {self.uri} exchange={self._exchange!r} {self.state.value}>"

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
        self._io.post(self._link.close)
        self._io.join()

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
        if self._calls.failure is not None:
            raise self._calls.failure
        self._check_connected()
        if not self._wants_reply_queue:
            raise RpcConnectionError("this connection was opened with reply_queue=False")
        call = self._calls.request(method, body, timeout, on_done)
        # A caller about to drive reads its own reply: no need to rouse the background thread.
        self._io.post(partial(self._calls.submit, call), rouse=not will_drive)
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
        if self._calls.failure is not None:
            raise self._calls.failure
        self._check_connected()
        call = self._calls.event(event, body, timeout, on_done)
        self._io.post(partial(self._calls.submit, call), rouse=not will_drive)
        return call

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call`` (its waiter gave up); a reply that comes later is dropped."""
        call.done = True
        self._io.post(partial(self._calls.drop, call))

    # -- ChannelHost: what consumers may ask (contract.py) ----------------------------------------

    @property
    def setup_timeout(self) -> float:
        return self._link.timeout

    @property
    def closing(self) -> bool:
        return self._link.phase.ending

    def post(self, op: Callable[[], None]) -> None:
        """Any thread: run ``op`` under the I/O lock, soon (see ``Driver.post``)."""
        self._io.post(op)

    def add_user(self, user: ChannelUser) -> None:
        if self._calls.failure is not None:
            user.fail(self._calls.failure)
            return
        self._users.append(user)
        if self._link.phase.ready:  # else it is attached once (re)connected
            user.attach()

    def open_channel(self, on_open: Callable[[_Pika], None]) -> bool:
        link = self._link
        if not link.phase.ready or link.pika is None or not link.pika.is_open:
            return False
        link.pika.channel(on_open_callback=on_open)
        return True

    def call_later(self, delay: float, op: Callable[[], None]) -> Any:
        return self._loop.call_later(delay, op)

    def cancel(self, handle: Any) -> None:
        self._loop.remove_timeout(handle)

    def drop(self, error: RpcConnectionError) -> None:
        self._link.drop(error)

    # -- LinkOwner: what the link asks (link.py) --------------------------------------------------

    def topology(self) -> list[topology.Step]:
        # Nameko's exact flags, or RabbitMQ refuses the re-declare (PRECONDITION_FAILED).
        return [topology.exchange(self._exchange), *self._calls.steps(self._wants_reply_queue)]

    def wants_probe(self) -> bool:
        return self._wants_reply_queue

    def probe_queue(self) -> str:
        return self._calls.reply_queue

    def on_return(self, ch: _Pika, method: _Pika, props: _Pika, body: bytes) -> None:
        self._calls.on_return(ch, method, props, body)

    def reply_queue_gone(self, why: str) -> None:
        self._calls.reply_queue_gone(why)

    def link_attempt(self, conn: Output) -> None:
        self._io.output = conn

    def link_ready(self, channel: _Pika, reconnected: bool) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, True, reconnected)
        queue = f", reply queue {self._calls.reply_queue}" if self._wants_reply_queue else ""
        if reconnected:
            log.warning("reconnected to %s%s", self.uri, queue)
        else:
            log.debug("connected to %s%s", self.uri, queue)
        self._settled.set()
        self._calls.up(channel)
        for user in list(self._users):
            user.attach()

    def link_down(self, error: RpcConnectionError) -> str:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        resent = self._calls.down()
        for user in list(self._users):
            user.detach()
        pending = len(self._calls.pending)
        return f" ({pending} calls pending, {resent} to resend)" if pending or resent else ""

    def link_over(self, error: RpcConnectionError) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        if self._calls.failure is None and self._link.opens:
            log.error("%s", error)
        self._fail(error)

    def link_closing(self) -> None:
        if _metrics.meter is not None:
            _metrics.meter.connection_state(self.client_name, False, False)
        self._calls.ack_replies()  # replies already handled must not be redelivered to nobody
        self._calls.fail_all(RpcConnectionError(f"the connection to {self.uri} was closed"))
        for user in list(self._users):
            user.detach()  # closing: a user sees ``closing`` and stops waiting

    def link_finished(self) -> None:
        self._settled.set()
        self._io.finish()

    # -- internals --------------------------------------------------------------------------------

    def _check_connected(self) -> None:
        """With ``fail_fast``, refuse a call while the connection is down."""
        if self._fail_fast:
            down = self._calls.disconnected()
            if down:
                raise RpcConnectionError(f"{down}; fail_fast is set, so nothing was sent")

    def _fail(self, error: RpcConnectionError) -> None:
        self._calls.fail_all(error)
        for user in list(self._users):
            user.fail(error)
        self._settled.set()

    def _needs_background(self) -> bool:
        return bool(self._calls.pending or self._users or not self._link.phase.ready)

    def _on_fault(self, exc: Exception) -> None:
        self._link.fault(exc)

    def _on_crash(self, exc: Exception) -> None:
        self._link.crash(RpcConnectionError(f"I/O thread of {self.uri} crashed: {exc!r}"))

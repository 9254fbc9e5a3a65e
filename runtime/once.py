"""Effectively once: a message that arrives again never runs its handler a second time.

RabbitMQ delivers at least once. A request whose ack was lost with its connection is delivered
again, and an event whose publisher confirm was lost is published again (``docs/reliability.md``).
A server with ``Once`` on remembers which messages each queue has settled, for ``window``
seconds, and settles a copy without running the handler: a request's copy gets the reply body
sent the first time (the caller sees the same result or error), an event's copy is acked.

A message's identity (``identity``):
- a request: its ``correlation_id`` with its ``reply_to`` and method (every caller, Nameko's
  included, sends a new uuid per call, and rpcgen publishes a resent request with the same
  correlation id);
- an event: its ``message_id`` property, which rpcgen's dispatchers set (a uuid, the same on a
  resend); Nameko's dispatchers set none, so their events are handled as before, once or more.

The ids live in a ``OnceStore``: ``LocalStore`` (in this process, the default) or a shared one
for a pool of instances (``rpcgen.redisstore.RedisStore``). A store has three operations, small
enough for a database table: ``claim`` (atomic insert-if-absent of a running mark with a lease),
``done`` (the reply body, kept for the window) and ``release`` (forget: the message runs again).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

from rpcgen.runtime._transport import Delivery

__all__ = ["Claim", "Done", "LocalStore", "Once", "OnceStore", "identity"]

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 3600.0
"""Seconds a settled message's id (and reply) is remembered."""
DEFAULT_LEASE = 60.0
"""Seconds a running mark holds a message's id: a copy arriving meanwhile waits for the first
run's outcome; after it (a handler that ran longer, or an instance that died) a copy runs."""


class Done(NamedTuple):
    """A settled message: the reply body sent the first time, or None (an event, or a request
    that was not answered)."""

    body: bytes | None


Claim = Literal["new", "running"] | Done
"""What ``OnceStore.claim`` found: ``"new"`` (claimed now: run the handler), ``"running"``
(another run holds the lease), or the ``Done`` outcome of an earlier run."""


class OnceStore(Protocol):
    """Where a server keeps the ids of the messages it settled, and their replies."""

    blocking: bool
    """True if calls may wait on the network: an async server then makes them in a thread."""

    def claim(self, key: str, lease: float) -> Claim:
        """Atomically: if ``key`` is unknown (or its running mark is older than its lease),
        mark it running for ``lease`` seconds and return ``"new"``; if it is marked running,
        return ``"running"``; if it is done, return its ``Done``."""

    def done(self, key: str, body: bytes | None, window: float) -> None:
        """Record ``key`` as settled with ``body`` for ``window`` seconds."""

    def release(self, key: str) -> None:
        """Forget ``key`` (its message was handed back and will run again)."""


_RUNNING = object()


class LocalStore:
    """A ``OnceStore`` in this process, bounded by ``max_entries`` ids and ``max_bytes`` of
    cached replies (the oldest go first). It covers what reaches this process again: a
    redelivery after a lost ack (RabbitMQ redelivers to a consumer of the queue, often the
    same one) and a resend that lands on this instance."""

    blocking = False

    def __init__(
        self,
        max_entries: int = 100_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 0:
            raise ValueError("max_entries must be at least 1 and max_bytes at least 0")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (expires at, reply body / None / _RUNNING), oldest first
        self._entries: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: str, lease: float) -> Claim:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                value = entry[1]
                if value is _RUNNING:
                    return "running"
                return Done(value if isinstance(value, bytes) else None)
            self._put(key, now + lease, _RUNNING)
            return "new"

    def done(self, key: str, body: bytes | None, window: float) -> None:
        with self._lock:
            self._put(key, self._clock() + window, body)

    def release(self, key: str) -> None:
        with self._lock:
            self._pop(key)

    def _put(self, key: str, expires: float, value: object) -> None:
        self._pop(key)
        self._entries[key] = (expires, value)
        if isinstance(value, bytes):
            self._bytes += len(value)
        entries = self._entries
        now = self._clock()
        while entries and (
            len(entries) > self.max_entries
            or self._bytes > self.max_bytes
            or next(iter(entries.values()))[0] <= now
        ):
            self._pop(next(iter(entries)))

    def _pop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and isinstance(entry[1], bytes):
            self._bytes -= len(entry[1])


class Once:
    """A server's effectively-once settings: where ids are kept (``store``, default a new
    ``LocalStore``), how long a settled id is remembered (``window`` seconds) and how long a
    running mark holds (``lease`` seconds)."""

    def __init__(
        self,
        store: OnceStore | None = None,
        *,
        window: float = DEFAULT_WINDOW,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        if window <= 0 or lease <= 0:
            raise ValueError("window and lease must be positive")
        self.store: OnceStore = LocalStore() if store is None else store
        self.window = window
        self.lease = lease
        self._lock = threading.Lock()
        self._failures = 0
        self._quiet_until = 0.0

    def __repr__(self) -> str:
        store = type(self.store).__name__
        return f"Once(store={store}, window={self.window:g}, lease={self.lease:g})"

    # What a server does with the store, in a worker thread (or, ``*_async``, in a task on
    # its loop, a blocking store's calls in a thread). A store that fails (Redis down) never
    # stops a message: it is handled as if Once were off (at least once), and logged.

    def settle_or_claim(self, key: str, stopping: threading.Event) -> Claim | None:
        """``"new"`` (run the handler) or the ``Done`` of an earlier run; while another run
        holds ``key``, wait for its outcome (backing off), or None if ``stopping`` is set first
        (hand the message back)."""
        delay = 0.005
        while (seen := self._claim(key)) == "running":
            if stopping.wait(delay):
                return None
            delay = min(2 * delay, 0.5)
        return seen

    async def settle_or_claim_async(self, key: str, stopping: threading.Event) -> Claim | None:
        delay = 0.005
        while True:
            if self.store.blocking:
                seen = await asyncio.to_thread(self._claim, key)
            else:
                seen = self._claim(key)
            if seen != "running":
                return seen
            if stopping.is_set():
                return None
            await asyncio.sleep(delay)
            delay = min(2 * delay, 0.5)

    def done(self, key: str, body: bytes | None) -> None:
        """Record that ``key``'s message was settled with reply ``body`` (None: no reply)."""
        try:
            self.store.done(key, body, self.window)
        except Exception as exc:
            self._failed("record", exc)

    async def done_async(self, key: str, body: bytes | None) -> None:
        if self.store.blocking:
            await asyncio.to_thread(self.done, key, body)
        else:
            self.done(key, body)

    def settled(self, key: str, requeued: bool) -> None:
        """An event's outcome: settled (recorded), or requeued (forgotten: it runs again)."""
        if not requeued:
            self.done(key, None)
            return
        try:
            self.store.release(key)
        except Exception as exc:
            self._failed("release", exc)

    async def settled_async(self, key: str, requeued: bool) -> None:
        if self.store.blocking:
            await asyncio.to_thread(self.settled, key, requeued)
        else:
            self.settled(key, requeued)

    def _claim(self, key: str) -> Claim:
        try:
            return self.store.claim(key, self.lease)
        except Exception as exc:
            self._failed("claim", exc)
            return "new"

    def _failed(self, what: str, exc: Exception) -> None:
        """Log a store failure: the first one, then at most one line per 10 s with a count."""
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if now < self._quiet_until:
                return
            count, self._failures = self._failures, 0
            self._quiet_until = now + 10.0
        log.error(
            "the once store (%s) failed to %s: %r; messages are handled at least once until it "
            "answers again (%d failure%s since the last such line)",
            type(self.store).__name__,
            what,
            exc,
            count,
            "s" * (count != 1),
        )


def identity(queue: str, delivery: Delivery, request: bool) -> str | None:
    """The key of ``delivery`` on ``queue`` in a ``OnceStore``, or None when it has no stable
    identity (a Nameko event: no ``message_id``; a request without a correlation id or
    ``reply_to``): such a message is handled as if ``Once`` were off."""
    props = delivery.properties
    if request:
        cid, reply_to = props.correlation_id, props.reply_to
        if not cid or not reply_to:
            return None
        return f"{queue}\x00{delivery.routing_key}\x00{reply_to}\x00{cid}"
    message_id = props.message_id
    if not message_id:
        return None
    return f"{queue}\x00{message_id}"

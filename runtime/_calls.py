"""Calls before and after any transport carries them: building requests and events, and the
table of calls in flight with their deadlines. Both transports use these, under their own lock.

- ``request`` / ``event``: a ``PendingCall`` ready to publish: its properties (Nameko's, with
  the ``nameko.*`` context headers), correlation id, deadline (cut to what remains of the
  current handler's, ``context.budget``) and the size check.
- ``CallTable``: the calls waiting for a reply, by correlation id, and their deadlines in one
  heap (``Deadlines``). The transport arms one timer at ``Deadlines.next_due`` (a loop timer on
  RabbitMQ, a timer thread in memory) and calls ``expire_due`` when it fires.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
import uuid
from typing import Any

from rpcgen.runtime import context
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import Completion, PendingCall, Properties
from rpcgen.runtime.errors import PayloadTooLarge, RpcTimeout
from rpcgen.runtime.spec import Event, Method

__all__ = ["CallTable", "Deadlines", "event", "request"]

log = logging.getLogger(__name__)


def request(
    method: Method[object],
    body: bytes,
    timeout: float | None,
    on_done: Completion,
    *,
    client_name: str,
    reply_to: str,
    max_message_bytes: int,
) -> PendingCall:
    """A request ready to publish: its properties, correlation id and deadline."""
    if len(body) > max_message_bytes:
        what = f"request to {method.routing_key}"
        raise PayloadTooLarge.exceeded(what, len(body), max_message_bytes)
    timeout, deadline = context.budget(timeout)  # a handler's calls get what remains of its
    cid = str(uuid.uuid4())
    props = Properties(
        content_type=wire.CONTENT_TYPE,
        content_encoding=wire.CONTENT_ENCODING,
        delivery_mode=wire.PERSISTENT,
        priority=0,
        correlation_id=cid,
        reply_to=reply_to,
        headers=context.outgoing_headers(f"{client_name}.call.{cid}", deadline),
        expiration=None if timeout is None else str(math.ceil(timeout * 1000)),
    )
    return PendingCall(method, cid, body, props, timeout, on_done)


def event(
    event: Event[Any],
    body: bytes,
    timeout: float | None,
    on_done: Completion,
    *,
    max_message_bytes: int,
) -> PendingCall:
    """An event ready to publish: persistent, ``nameko.*`` context headers, no reply."""
    if len(body) > max_message_bytes:
        what = f"event {event.label}"
        raise PayloadTooLarge.exceeded(what, len(body), max_message_bytes)
    props = Properties(
        content_type=wire.CONTENT_TYPE,
        content_encoding=wire.CONTENT_ENCODING,
        delivery_mode=wire.PERSISTENT,
        priority=0,
        headers=context.event_headers(),
        # The event's identity, the same on a resend: a server with ``Once`` handles it once.
        message_id=str(uuid.uuid4()),
    )
    key = props.message_id  # tracks it here: an event has no correlation id on the wire
    assert key is not None
    return PendingCall(event, key, body, props, timeout, on_done, exchange=event.exchange)


class Deadlines:
    """Call deadlines in one heap; finished calls are dropped lazily, in bulk."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, PendingCall]] = []
        self._seq = itertools.count()

    def add(self, call: PendingCall, live: int) -> bool:
        """Track ``call`` (which has a deadline); ``live`` (calls still pending) decides when
        to purge finished ones. True if it is now the earliest (a timer must be re-armed)."""
        assert call.deadline is not None
        heap = self._heap
        heapq.heappush(heap, (call.deadline, next(self._seq), call))
        if len(heap) > 2 * live + 256:
            heap[:] = [entry for entry in heap if not entry[2].done]
            heapq.heapify(heap)
        return heap[0][2] is call

    def next_due(self) -> float | None:
        """The earliest deadline still tracked (``time.monotonic()`` seconds), if any."""
        return self._heap[0][0] if self._heap else None

    def due(self) -> list[PendingCall]:
        """Take the unfinished calls whose deadline has passed (and drop finished ones ahead)."""
        heap, now, due = self._heap, time.monotonic(), []
        while heap and (heap[0][0] <= now or heap[0][2].done):
            call = heapq.heappop(heap)[2]
            if not call.done:
                due.append(call)
        return due

    def clear(self) -> None:
        self._heap.clear()


class CallTable:
    """Calls waiting for their outcome, by correlation id, and their deadlines."""

    __slots__ = ("deadlines", "max_message_bytes", "pending")

    def __init__(self, max_message_bytes: int) -> None:
        self.pending: dict[str, PendingCall] = {}
        self.deadlines = Deadlines()
        self.max_message_bytes = max_message_bytes

    def add(self, call: PendingCall) -> bool:
        """Track ``call``; True if its deadline is now the earliest (re-arm the timer)."""
        self.pending[call.correlation_id] = call
        return call.deadline is not None and self.deadlines.add(call, len(self.pending))

    def pop(self, correlation_id: str | None) -> PendingCall | None:
        return self.pending.pop(correlation_id or "", None)

    def reply(self, correlation_id: str | None, body: bytes) -> None:
        """A reply arrived: complete its call (a late or unknown one is dropped)."""
        call = self.pending.pop(correlation_id or "", None)
        if call is None:
            log.debug("dropped a reply for unknown correlation id %r", correlation_id)
            return
        limit = self.max_message_bytes
        if len(body) > limit:
            what = f"reply of {call.method.routing_key}"
            call.finish(b"", PayloadTooLarge.exceeded(what, len(body), limit))
            return
        call.finish(body, None)

    def expire_due(self, detail: str = "") -> None:
        """Fail the calls whose deadline passed with ``RpcTimeout`` (``detail``: why, if known)."""
        for call in self.deadlines.due():
            if self.pending.pop(call.correlation_id, None) is not None:
                timeout = call.timeout or 0.0
                call.finish(b"", RpcTimeout(call.method.routing_key, timeout, detail))

    def fail_all(self, error: BaseException) -> None:
        """Fail every call waiting with ``error``."""
        calls, self.pending = list(self.pending.values()), {}
        self.deadlines.clear()
        for call in calls:
            call.finish(b"", error)

"""Bookkeeping for calls in flight: pending calls, publisher confirms, deadlines.

Everything here is touched only under the connection's I/O lock (see ``driving``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime.spec import Event, Method

__all__ = ["Completion", "Confirms", "Deadlines", "PendingCall"]

log = logging.getLogger("rpcgen.runtime._amqp.connection")

Completion = Callable[[bytes, BaseException | None], None]
"""``on_done(reply_body, error)``: the reply body (b"" on error) or the error that ended a call."""
T = TypeVar("T")


class PendingCall:
    """One call between its request and its reply; owned by the I/O lock once submitted."""

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
        properties: Any,
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
        except Exception:  # a broken waiter must not take the connection's I/O down
            log.exception("completion of %s failed", self.method.routing_key)


class Confirms(Generic[T]):
    """Publisher-confirm bookkeeping for one channel: delivery tag -> what was published."""

    __slots__ = ("_last_tag", "_waiting")

    def __init__(self) -> None:
        self._last_tag = 0
        self._waiting: OrderedDict[int, T] = OrderedDict()

    def add(self, item: T) -> None:
        """Record the channel's next publish (tags count publishes from 1)."""
        self._last_tag += 1
        self._waiting[self._last_tag] = item

    def settle(self, tag: int, multiple: bool) -> list[T]:
        """The items confirmed by an ack or nack of ``tag``."""
        if not multiple:
            item = self._waiting.pop(tag, None)
            return [] if item is None else [item]
        settled = []
        while self._waiting and next(iter(self._waiting)) <= tag:
            settled.append(self._waiting.popitem(last=False)[1])
        return settled

    def drain(self) -> list[T]:
        """Everything not yet confirmed, oldest first; the channel is gone, tags start over."""
        items = list(self._waiting.values())
        self._waiting.clear()
        self._last_tag = 0
        return items

    def __len__(self) -> int:
        return len(self._waiting)


class Deadlines:
    """Call deadlines in one heap, served by a single pika timer armed at the earliest."""

    def __init__(self, ioloop: DriverLoop, on_expired: Callable[[PendingCall], None]) -> None:
        self._ioloop = ioloop
        self._on_expired = on_expired
        self._heap: list[tuple[float, int, PendingCall]] = []
        self._seq = itertools.count()
        self._timer: Any = None
        self._armed_at = math.inf

    def add(self, call: PendingCall, deadline: float, live: int) -> None:
        """Track ``call``; ``live`` (calls still pending) decides when to purge finished ones."""
        heapq.heappush(self._heap, (deadline, next(self._seq), call))
        if deadline < self._armed_at:
            self._arm(deadline)
        if len(self._heap) > 2 * live + 256:  # finished calls are dropped lazily, in bulk
            self._heap = [entry for entry in self._heap if not entry[2].done]
            heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
        self._timer, self._armed_at = None, math.inf

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
        self._armed_at = deadline
        self._timer = self._ioloop.call_later(max(0.0, deadline - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        heap, now = self._heap, time.monotonic()
        while heap and (heap[0][0] <= now or heap[0][2].done):
            call = heapq.heappop(heap)[2]
            if not call.done:
                self._on_expired(call)
        if heap:
            self._arm(heap[0][0])

"""A pika I/O loop that any thread may drive, one non-blocking cycle at a time.

pika's own ``IOLoop`` belongs to the thread that runs ``start()``: every other thread has to wake
it through a pipe and wait for it, and each such hand-over costs a thread wake-up (tens to a
hundred microseconds on a busy machine). This loop implements pika's documented
``AbstractSelectorIOLoop`` interface but never blocks while dispatching: ``run_once()`` polls with
a zero timeout, dispatches the ready handlers, due timers and queued callbacks, and returns. The
connection runs it under its I/O lock from whichever thread holds that lock: the background I/O
thread, a caller that has just published a request (and so flushes it itself), or a caller
waiting for its reply (and so reads it itself). Waiting for readiness happens outside the lock,
in ``wait()``, on a snapshot of the file descriptors of interest.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["DriverLoop"]

Handler = Callable[[int, int], None]


class _Timer:
    __slots__ = ("callback", "deadline", "seq")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], Any] | None) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback

    def __lt__(self, other: _Timer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class DriverLoop:
    """pika's ``AbstractSelectorIOLoop``, driven by ``run_once`` under an external lock.

    Every method but ``add_callback``, ``wake`` and ``wait`` must be called with that lock held.
    """

    READ = select.POLLIN
    WRITE = select.POLLOUT
    ERROR = select.POLLERR

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._interest: dict[int, int] = {}
        self._poller = select.poll()
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._callbacks: deque[Callable[[], Any]] = deque()
        self._waits: dict[int, float] = {}  # thread -> when its wait() times out
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.add_handler(self._wake_r.fileno(), self._on_wake, self.READ)
        self.wait_set: list[tuple[int, int]] = list(self._interest.items())
        """The descriptors ``wait`` watches: a snapshot taken by ``snapshot()`` under the lock."""

    # -- AbstractSelectorIOLoop ---------------------------------------------------------------

    def close(self) -> None:
        self._timers.clear()
        self._callbacks.clear()
        self._wake_r.close()
        self._wake_w.close()

    def start(self) -> None:
        raise NotImplementedError("DriverLoop is driven with run_once(), never started")

    def stop(self) -> None:
        self.wake()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> _Timer:
        timer = _Timer(time.monotonic() + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        if timer.deadline < min(self._waits.values(), default=math.inf):
            self.wake()  # a thread waiting in wait() computed its timeout before this timer
        return timer

    def remove_timeout(self, timeout_handle: _Timer) -> None:
        timeout_handle.callback = None  # dropped from the heap when it comes up

    def add_callback(self, callback: Callable[[], Any]) -> None:
        """Thread-safe: run ``callback`` in the next turn, waking a waiter if needed."""
        self._callbacks.append(callback)
        self.wake()

    def add_handler(self, fd: int, handler: Handler, events: int) -> None:
        self._handlers[fd] = handler
        self._interest[fd] = events
        self._poller.register(fd, events)

    def update_handler(self, fd: int, events: int) -> None:
        self._interest[fd] = events
        self._poller.modify(fd, events)

    def remove_handler(self, fd: int) -> None:
        self._handlers.pop(fd, None)
        if self._interest.pop(fd, None) is not None:
            self._poller.unregister(fd)

    # -- driving ------------------------------------------------------------------------------

    @property
    def writing(self) -> bool:
        """Whether some descriptor waits to become writable (unsent output)."""
        return any(events & self.WRITE for events in self._interest.values())

    def run_once(self) -> None:
        """Dispatch whatever is ready now, then due timers and queued callbacks; never blocks."""
        ready = self._poller.poll(0)
        for fd, events in ready:
            interest = self._interest.get(fd)
            if interest is None:  # removed by an earlier handler of this turn
                continue
            if events & select.POLLHUP:
                events |= self.READ  # let the reader see the end of the stream
            events &= interest
            if events:
                self._handlers[fd](fd, events)
        self._run_timers()
        for _ in range(len(self._callbacks)):  # those added meanwhile wait for the next turn
            self._callbacks.popleft()()

    def _run_timers(self) -> None:
        timers, now = self._timers, time.monotonic()
        while timers and timers[0].deadline <= now:
            callback = heapq.heappop(timers).callback
            if callback is not None:
                callback()

    def next_timeout(self) -> float | None:
        """Seconds until a timer or callback needs a turn; None if nothing is scheduled."""
        if self._callbacks:
            return 0.0
        timers = self._timers
        while timers and timers[0].callback is None:
            heapq.heappop(timers)
        return max(0.0, timers[0].deadline - time.monotonic()) if timers else None

    def snapshot(self) -> None:
        """Record the descriptors of interest for ``wait`` (call before releasing the lock)."""
        self.wait_set = list(self._interest.items())

    def wait(self, timeout: float | None) -> None:
        """Block until a descriptor of the last snapshot is ready, ``wake()``, or ``timeout``.

        Called without the lock; it only waits, the next ``run_once`` dispatches.
        """
        poller = select.poll()
        for fd, events in self.wait_set:
            poller.register(fd, events)
        me = threading.get_ident()
        self._waits[me] = math.inf if timeout is None else time.monotonic() + timeout
        try:
            poller.poll(None if timeout is None else max(0, int(timeout * 1000) + 1))
        finally:
            del self._waits[me]

    def wake(self) -> None:
        """Thread-safe: end any ``wait`` in progress now."""
        # A full pipe means a wake-up is pending already; a closed one, that nobody waits.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _on_wake(self, _fd: int, _events: int) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError once drained
            while self._wake_r.recv(4096):
                pass

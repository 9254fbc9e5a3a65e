"""Call deadlines of a memory connection: one heap, one daemon thread started on first use."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from rpcgen.runtime._amqp.calls import PendingCall

__all__ = ["Deadlines"]


class Deadlines:
    """Call deadlines in one heap, kept by one daemon thread started on first use."""

    def __init__(self, on_expired: Callable[[PendingCall], None]) -> None:
        self._on_expired = on_expired
        self._heap: list[tuple[float, int, PendingCall]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, call: PendingCall, live: int) -> None:
        assert call.deadline is not None
        with self._wake:
            if self._closed:
                return
            heapq.heappush(self._heap, (call.deadline, next(self._seq), call))
            if len(self._heap) > 2 * live + 256:  # finished calls are dropped lazily, in bulk
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rpcgen-memory-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is call:
                self._wake.notify()

    def close(self) -> None:
        with self._wake:  # the thread sees it and ends (not joined: close may run under a lock)
            self._closed = True
            self._heap.clear()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                expired = self._due()
                while not expired and not self._closed:
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(delay)
                    expired = self._due()
                if self._closed:
                    return
            for call in expired:
                self._on_expired(call)

    def _due(self) -> list[PendingCall]:
        heap, now, due = self._heap, time.monotonic(), []
        while heap and (heap[0][0] <= now or heap[0][2].done):
            call = heapq.heappop(heap)[2]
            if not call.done:
                due.append(call)
        return due

"""A runner's settlement bookkeeping: what runs now, which deliveries are claimed, the drain.

Each delivery a ``ServiceRunner`` takes is settled once: by the worker thread or asyncio task
that ran it (ack, reply, requeue, dead-letter), or by a drain cut short that hands it back. Who
settles is decided here, under one lock; the settling itself (the consumers, the logs) stays
with the runner. No I/O, no callbacks.
"""

from __future__ import annotations

import threading
from typing import TypeAlias

from rpcgen.runtime._handling import EventEntrypoint
from rpcgen.runtime._transport import Delivery

__all__ = ["Settlement", "Taken", "delivery_of"]

Taken: TypeAlias = Delivery | tuple[EventEntrypoint, Delivery]
"""What a runner takes: a request, or an event with the entrypoint that handles it."""


def delivery_of(item: Taken) -> Delivery:
    return item if isinstance(item, Delivery) else item[1]


class Settlement:
    """The deliveries running, by worker thread id or asyncio task, and those claimed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Guards this bookkeeping; the runner also counts its duplicates under it."""
        self._draining = False  # set by drain(): workers hand back what they take
        self._running: dict[object, Taken] = {}
        # Ids of running deliveries whose settling is claimed, by their worker (ack, reply) or by
        # a drain cut short (requeue): each is settled once.
        self._claimed: set[int] = set()
        self.unstarted_handed_back = 0
        """Deliveries handed back to the broker before they started."""

    def drain(self) -> None:
        """From now on ``begin`` refuses: what a worker or task takes is handed back."""
        with self.lock:
            self._draining = True

    def begin(self, key: object, item: Taken) -> bool:
        """Register ``item`` as run by ``key`` (a worker thread id or an asyncio task), unless
        a drain began: then False (the caller hands it back, not started)."""
        with self.lock:  # with drain(): one or the other
            if self._draining:
                return False
            self._running[key] = item
            return True

    def end(self, key: object, item: Taken) -> None:
        with self.lock:
            del self._running[key]
            self._claimed.discard(id(delivery_of(item)))

    def claim(self, delivery: Delivery, key: object) -> bool:
        """Whether the worker (thread id) or task ``key`` that ran ``delivery`` may settle it:
        False if the drain handed it back meanwhile (its outcome is then dropped)."""
        with self.lock:
            if id(delivery) in self._claimed:
                return False
            running = self._running.get(key)
            if running is not None and delivery_of(running) is delivery:
                # Only a worker's or task's delivery can be handed back; it forgets the claim.
                self._claimed.add(id(delivery))
            return True

    def claim_running(self) -> list[tuple[object, Taken]]:
        """Claim, for a drain cut short, what runs and is not claimed yet; ``(key, item)`` each.
        One that finishes later finds its delivery claimed and drops the outcome."""
        with self.lock:
            running = [
                (key, item)
                for key, item in self._running.items()
                if id(delivery_of(item)) not in self._claimed
            ]
            for _key, item in running:
                self._claimed.add(id(delivery_of(item)))
        return running

    def handed_back_unstarted(self) -> None:
        with self.lock:
            self.unstarted_handed_back += 1

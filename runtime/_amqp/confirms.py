"""Publisher-confirm bookkeeping for one channel: delivery tag -> what was published.

Touched only under the connection's I/O lock (see ``driving``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["Confirms"]

T = TypeVar("T")


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

    def take(self, tag: int, multiple: bool) -> list[T]:
        """Take the items an ack or nack of ``tag`` confirms."""
        if not multiple:
            item = self._waiting.pop(tag, None)
            return [] if item is None else [item]
        confirmed = []
        while self._waiting and next(iter(self._waiting)) <= tag:
            confirmed.append(self._waiting.popitem(last=False)[1])
        return confirmed

    def drain(self) -> list[T]:
        """Everything not yet confirmed, oldest first; the channel is gone, tags start over."""
        items = list(self._waiting.values())
        self._waiting.clear()
        self._last_tag = 0
        return items

    def __len__(self) -> int:
        return len(self._waiting)

"""What a connection and the consumers on it may ask of each other, and nothing more.

A ``Connection`` is a ``ChannelHost``; a ``Consumer`` (and, later, any other user of a channel
of its own, such as an event handler) is a ``ChannelUser``. Neither reaches into the other: the
connection tells its users when it is ready, down or over; a user asks its host for a channel,
a timer, or to run something under the I/O lock. Every method runs under the connection's I/O
lock unless its docstring says "any thread".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rpcgen.runtime.errors import RpcConnectionError

__all__ = ["ChannelHost", "ChannelUser"]


class ChannelUser(Protocol):
    """Something with a channel of its own on a connection (a consumer)."""

    def attach(self) -> None:
        """The connection is ready (first time or after a reconnect): open a channel, set up."""

    def detach(self) -> None:
        """The connection went down: the channel is gone, unacked deliveries are requeued."""

    def fail(self, error: RpcConnectionError) -> None:
        """The connection is over for good (closed, or reconnecting was given up)."""


class ChannelHost(Protocol):
    """The connection as its channel users see it."""

    @property
    def exchange(self) -> str:
        """The RPC exchange every peer of a service uses."""

    @property
    def setup_timeout(self) -> float:
        """Seconds a user's channel set-up may take before the connection is dropped."""

    @property
    def closing(self) -> bool:
        """Whether the connection is being closed on purpose, or is closed."""

    def post(self, op: Callable[[], None]) -> None:
        """Any thread: run ``op`` under the I/O lock, soon."""

    def add_user(self, user: ChannelUser) -> None:
        """Attach ``user`` now if ready, else once ready; ``fail`` it if the connection is over."""

    def open_channel(self, on_open: Callable[[Any], None]) -> bool:
        """Open a channel if ready; False while not (the user is attached again once ready)."""

    def call_later(self, delay: float, op: Callable[[], None]) -> Any:
        """Run ``op`` under the lock after ``delay`` seconds; returns a handle for ``cancel``."""

    def cancel(self, handle: Any) -> None:
        """Cancel a ``call_later`` that has not run yet."""

    def drop(self, error: RpcConnectionError) -> None:
        """The connection is unusable (a set-up stalled): close it and reconnect."""

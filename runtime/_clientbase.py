"""What the sync and the asyncio client share: a connection, a timeout, and who closes what."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from rpcgen.runtime._transport import DEFAULT_TIMEOUT

__all__ = ["BaseClient"]

ConnT = TypeVar("ConnT")
_B = TypeVar("_B", bound="BaseClient[Any]")


class BaseClient(Generic[ConnT]):
    """Base of ``Client`` and ``AsyncClient``; generated clients set ``service_name``.

    A client holds no state besides its connection and timeout, so any number of threads or
    tasks may share one. ``connect`` (a sync or async context manager on each shell) opens a
    connection that the client owns and closes; a client built on a shared connection never
    closes it.
    """

    service_name: ClassVar[str]
    _dispatch_only: ClassVar[bool] = False
    """True on generated event dispatchers: ``connect`` then opens a connection without a reply
    queue (a dispatcher never waits for a reply)."""

    def __init__(self, connection: ConnT, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._connection = connection
        self._timeout = timeout
        self._owns_connection = False

    @classmethod
    def _owning(cls: type[_B], connection: Any, timeout: float | None) -> _B:
        client = cls(connection, timeout=timeout)
        client._owns_connection = True
        return client

    def with_timeout(self: _B, timeout: float | None) -> _B:
        """A client on the same connection whose calls use ``timeout`` (seconds, None = wait)."""
        return type(self)(self._connection, timeout=timeout)

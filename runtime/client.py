"""Sync and futures clients: thin shells over the connection core.

A client holds no state of its own besides its timeout, so one client (or many clients on one
``Connection``) can be used from any number of threads at once. A call encodes its request in
the caller's thread, which also publishes it; waiting on the ``RpcFuture`` reads the reply in
that same thread when no other thread is reading (``Connection.drive``), and decodes it there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from rpcgen.runtime import _tracing
from rpcgen.runtime._clientbase import BaseClient
from rpcgen.runtime._connect import open_connection
from rpcgen.runtime._transport import DEFAULT_TIMEOUT, Transport
from rpcgen.runtime.errors import RpcTimeout
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.spec import Event, Method

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DEFAULT_TIMEOUT", "Client", "RpcFuture"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
P = TypeVar("P")
_C = TypeVar("_C", bound="Client")


class _Decodes(Protocol[R_co]):
    def decode_reply(self, body: bytes) -> R_co: ...


class _Awaited(Protocol[R_co]):
    """What a future waits for: a call's reply (``Method``) or an event's confirm (``Event``)."""

    @property
    def routing_key(self) -> str: ...

    @property
    def codec(self) -> _Decodes[R_co]: ...


class RpcFuture(Generic[R_co]):
    """The pending result of one call, like Nameko's ``call_async`` reply.

    The call's own deadline (its client's timeout) still applies: when it passes, ``result()``
    raises ``RpcTimeout`` however long one waits.
    """

    __slots__ = ("_body", "_connection", "_error", "_finished", "_lock", "_method", "_value")

    def __init__(self, method: _Awaited[R_co], connection: Transport) -> None:
        self._method = method
        self._connection = connection
        self._lock = threading.Lock()
        self._lock.acquire()  # released once, when the outcome is known
        self._finished = False
        self._body = b""
        self._error: BaseException | None = None
        self._value: Any = _UNSET

    def done(self) -> bool:
        """Whether the reply (or the call's failure) has arrived."""
        return self._finished

    def result(self, timeout: float | None = None) -> R_co:
        """The call's result; raises its remote or local error.

        ``timeout`` bounds this wait only (seconds); if it passes first, ``RpcTimeout`` is
        raised and the call stays pending, so ``result()`` may be asked again.
        """
        if not self._finished:
            deadline = None if timeout is None else time.monotonic() + timeout
            # Read the reply in this thread if nobody else is reading: no hand-over to wait for.
            self._connection.drive(self.done, deadline)
            left = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self._lock.acquire(timeout=left):
                raise RpcTimeout(self._method.routing_key, timeout or 0.0)
            self._lock.release()  # let any other waiter through
        if self._error is not None:
            raise self._error
        if self._value is _UNSET:
            try:
                self._value = self._method.codec.decode_reply(self._body)
            except BaseException as exc:
                self._error = exc
                raise
        return cast(R_co, self._value)

    def _resolve(self, body: bytes, error: BaseException | None) -> None:
        """The completion callback (runs under the connection's I/O lock)."""
        self._body = body
        self._error = error
        self._finished = True
        self._lock.release()


_UNSET: Any = object()


class Client(BaseClient[Transport]):
    """Base of generated ``<Name>Client`` classes: thread-safe, shares a ``Connection`` (or a
    ``memory://`` one, see ``open_connection``)."""

    @classmethod
    @contextmanager
    def connect(
        cls: type[_C],
        uri: str | Sequence[str] | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        **options: Unpack[ConnectionOptions],
    ) -> Iterator[_C]:
        """A client on a connection of its own (``options``: see ``Connection``), closed when
        the block ends; ``memory://NAME`` connects to an in-process broker (tests)."""
        connection = open_connection(uri, **options)
        try:
            yield cls._owning(connection, timeout)
        finally:
            connection.close()

    def close(self) -> None:
        """Close the connection if this client opened it (``connect``); a shared one stays."""
        if self._owns_connection:
            self._connection.close()

    def _invoke(self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
        return self._invoke_async(method, args, kwargs, will_drive=True).result()

    def _invoke_async(
        self,
        method: Method[R],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        *,
        will_drive: bool = False,
    ) -> RpcFuture[R]:
        body = method.codec.encode_request(args, kwargs)
        future: RpcFuture[R] = RpcFuture(method, self._connection)
        if _tracing.tracer is not None:
            with _tracing.tracer.send(method, future._resolve) as on_done:
                self._connection.call(method, body, self._timeout, on_done, will_drive=will_drive)
            return future
        self._connection.call(method, body, self._timeout, future._resolve, will_drive=will_drive)
        return future

    def _publish(self, event: Event[P], payload: P) -> None:
        """Dispatch one event; returns once the broker has confirmed it (generated ``*Events``)."""
        body = event.codec.encode(payload)
        future: RpcFuture[None] = RpcFuture(event, self._connection)
        if _tracing.tracer is not None:
            with _tracing.tracer.send(event, future._resolve) as on_done:
                self._connection.dispatch(event, body, self._timeout, on_done, will_drive=True)
        else:
            self._connection.dispatch(event, body, self._timeout, future._resolve, will_drive=True)
        future.result()

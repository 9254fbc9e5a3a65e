"""Asyncio client: the same connection core, with completions handed to the event loop.

A call registers an asyncio future with the connection. Completions, which happen in whatever
thread is running the connection's I/O at the time (see ``driving``), are handed to
the loop in batches: the first one of a batch schedules a single ``call_soon_threadsafe`` and
the rest ride along, so thousands of concurrent awaits cost few loop wake-ups. Cancelling an
awaiting task only forgets its call: a reply that still comes is dropped like any late reply,
and the connection carries on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from rpcgen.runtime import _metrics, _tracing
from rpcgen.runtime._clientbase import BaseClient
from rpcgen.runtime._connect import open_connection
from rpcgen.runtime._transport import DEFAULT_TIMEOUT, Completion, PendingCall, Transport
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.spec import Event, Method

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncClient", "AsyncConnection"]

R = TypeVar("R")
P = TypeVar("P")
_A = TypeVar("_A", bound="AsyncClient")
_Outcome = tuple["asyncio.Future[bytes]", bytes, "BaseException | None"]


class _LoopBridge:
    """Delivers call outcomes from the I/O side to one event loop, one wake-up per batch."""

    __slots__ = ("_outcomes", "_scheduled", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._outcomes: deque[_Outcome] = deque()
        self._scheduled = False

    def resolve(
        self, future: asyncio.Future[bytes], body: bytes, error: BaseException | None
    ) -> None:
        """Runs under the connection's I/O lock, in any thread."""
        self._outcomes.append((future, body, error))
        if not self._scheduled:
            self._scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._flush)
            except RuntimeError:  # the loop is closed: nobody is left to wait
                self._outcomes.clear()

    def _flush(self) -> None:
        self._scheduled = False
        outcomes = self._outcomes
        while outcomes:
            future, body, error = outcomes.popleft()
            if future.done():  # cancelled meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(body)


class AsyncConnection:
    """An asyncio face of a ``Connection``; ``async with AsyncConnection.open(uri) as conn``.

    Wrapping an existing ``Connection`` shares its socket and reply queue with sync clients.
    """

    def __init__(self, connection: Transport) -> None:
        self.connection = connection
        self._owned = False
        self._bridge: _LoopBridge | None = None

    @classmethod
    async def open(
        cls,
        uri: str | Sequence[str] | None = None,
        *,
        reply_queue: bool = True,
        **options: Unpack[ConnectionOptions],
    ) -> AsyncConnection:
        """Connect without blocking the event loop; the result owns (and closes) its connection.

        ``options``: see ``Connection``; ``reply_queue=False`` for a connection that never calls.
        """
        loop = asyncio.get_running_loop()
        connect = partial(open_connection, uri, reply_queue=reply_queue, **options)
        self = cls(await loop.run_in_executor(None, connect))
        self._owned = True
        return self

    async def close(self) -> None:
        """Close the underlying connection if this object opened it."""
        if self._owned:
            await asyncio.get_running_loop().run_in_executor(None, self.connection.close)

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _bridge_here(self) -> _LoopBridge:
        loop = asyncio.get_running_loop()
        bridge = self._bridge
        if bridge is None or bridge.loop is not loop:
            bridge = self._bridge = _LoopBridge(loop)
        return bridge


class AsyncClient(BaseClient[AsyncConnection]):
    """Base of generated ``<Name>AsyncClient`` classes; any number of tasks may share one."""

    def __init__(
        self, connection: AsyncConnection | Transport, *, timeout: float | None = DEFAULT_TIMEOUT
    ) -> None:
        if not isinstance(connection, AsyncConnection):
            connection = AsyncConnection(connection)
        super().__init__(connection, timeout=timeout)

    @classmethod
    @asynccontextmanager
    async def connect(
        cls: type[_A],
        uri: str | Sequence[str] | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        **options: Unpack[ConnectionOptions],
    ) -> AsyncIterator[_A]:
        """A client on a connection of its own (``options``: see ``Connection``), closed when
        the block ends."""
        connection = await AsyncConnection.open(uri, reply_queue=not cls._dispatch_only, **options)
        try:
            yield cls._owning(connection, timeout)
        finally:
            await connection.close()

    async def close(self) -> None:
        """Close the connection if this client opened it (``connect``); a shared one stays."""
        if self._owns_connection:
            await self._connection.close()

    async def _call(
        self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]
    ) -> R:
        body = method.codec.encode_request(args, kwargs)
        bridge = self._connection._bridge_here()
        future: asyncio.Future[bytes] = bridge.loop.create_future()
        core = self._connection.connection
        resolve: Completion = partial(bridge.resolve, future)
        if _metrics.meter is not None:
            resolve = _metrics.meter.calling(method, resolve)
        if _tracing.tracer is not None:
            result: R = await self._traced(
                _tracing.tracer, method, core.call, body, resolve, future
            )
            return result
        call = core.call(method, body, self._timeout, resolve)
        try:
            raw = await future
        except asyncio.CancelledError:
            core.forget(call)
            raise
        return method.codec.decode_reply(raw)

    async def _publish(self, event: Event[P], payload: P) -> None:
        """Dispatch one event; returns once the broker has confirmed it."""
        body = event.codec.encode(payload)
        bridge = self._connection._bridge_here()
        future: asyncio.Future[bytes] = bridge.loop.create_future()
        core = self._connection.connection
        if _tracing.tracer is not None:
            resolve = partial(bridge.resolve, future)
            await self._traced(_tracing.tracer, event, core.dispatch, body, resolve, future)
            return
        call = core.dispatch(event, body, self._timeout, partial(bridge.resolve, future))
        try:
            await future
        except asyncio.CancelledError:
            core.forget(call)
            raise

    async def _traced(
        self,
        tracer: _tracing.Tracer,
        target: Any,
        send: Callable[..., PendingCall],
        body: bytes,
        resolve: Completion,
        future: asyncio.Future[bytes],
    ) -> Any:
        """``_call`` / ``_publish`` inside a tracer's span (``_tracing``): the span is current
        while the request is built, and ends with the outcome, or when the caller gives up."""
        core = self._connection.connection
        span = tracer.send(target, resolve)
        with span as on_done:
            call = send(target, body, self._timeout, on_done)
        try:
            raw = await future
        except asyncio.CancelledError as exc:
            core.forget(call)
            span.abandon(exc)
            raise
        return target.codec.decode_reply(raw) if isinstance(target, Method) else None

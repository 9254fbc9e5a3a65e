"""The tracing seam: where an installed tracer sees calls, events and handlers; no dependencies.

rpcgen itself never imports OpenTelemetry. The optional extra (``rpcgen.otel``, installed with
``pip install 'rpcgen[otel]'``) implements ``Tracer`` and puts it in ``tracer`` when the user
calls ``rpcgen.otel.instrument()``. Until then ``tracer`` is None and each call, request and
event pays one ``is None`` test (``bench/otel_overhead.py`` measures it).

Where the runtime asks (the parts both transports share):
- clients (``client.Client._invoke_async`` / ``_publish``, ``aio.AsyncClient._call`` /
  ``_publish``): ``send`` wraps the publish in a span that is current while the request's
  headers are built and ends when the completion runs;
- headers (``context.outgoing_headers`` / ``event_headers``): ``inject`` writes the current
  span's trace context as ``nameko.<field>`` headers (``nameko.traceparent``, ...);
- servers (``_dispatch.Dispatcher``, ``_handling.EventEntrypoint.handle``): ``serve`` /
  ``consume`` wrap one handler run, ``rejected`` tells of a request no handler ran for.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rpcgen.runtime._handling import EventEntrypoint, Outcome
    from rpcgen.runtime.context import CallContext
    from rpcgen.runtime.spec import Event, Method

__all__ = ["Completion", "Incoming", "Outgoing", "Tracer", "tracer"]

Completion = Callable[[bytes, "BaseException | None"], None]
"""A call's completion callback: the reply body (or ``b""``) and the local error, if any."""


class Outgoing(Protocol):
    """A CLIENT (call) or PRODUCER (event) span, from ``Tracer.send``, used as
    ``with tracer.send(method, on_done) as on_done: connection.call(..., on_done)``."""

    def __enter__(self) -> Completion:
        """Make the span current (the request's headers carry it); the completion to pass on,
        which ends the span with the call's outcome and then calls the original one."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """The span is no longer current; an exception leaving the block (the request was never
        sent) ends it as failed."""

    def abandon(self, exc: BaseException) -> None:
        """The caller stopped waiting (a cancelled asyncio call): end the span with ``exc``."""


class Incoming(Protocol):
    """A SERVER (request) or CONSUMER (event) span around one handler run; current inside the
    ``with`` block, ended when it leaves."""

    def __enter__(self) -> Incoming: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def wrap(self, handler: Callable[..., object]) -> Callable[..., object]:
        """``handler``, recording what it raises on the span; an awaitable it returns runs with
        the span current (async handlers run on the server's loop thread)."""

    def reply(self, body: bytes) -> bytes:
        """Note an error reply the handler did not raise (a result that could not be sent);
        returns ``body``."""

    def outcome(self, outcome: Outcome) -> Outcome:
        """Note an event's outcome (ack, requeue); returns it."""


class Tracer(Protocol):
    """What an installed tracer does; every method is called only while it is installed."""

    def send(self, target: Method[Any] | Event[Any], on_done: Completion) -> Outgoing:
        """A span for one call (``Method``) or one event dispatch (``Event``)."""

    def serve(self, service: str, method: Method[Any], ctx: CallContext) -> Incoming:
        """A span for one request that reaches its handler; ``ctx.data`` holds its context."""

    def consume(self, entrypoint: EventEntrypoint, ctx: CallContext) -> Incoming:
        """A span for one event that reaches its handler."""

    def rejected(self, service: str, routing_key: str, headers: object, exc: BaseException) -> None:
        """A request answered with an error before any handler ran (``MethodNotFound``, ...)."""

    def inject(self, headers: dict[str, object]) -> None:
        """Write the current trace context into a request's or event's ``nameko.*`` headers."""


tracer: Tracer | None = None
"""The installed tracer, or None (the default: nothing is traced)."""

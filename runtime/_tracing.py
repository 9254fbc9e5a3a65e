"""The tracing seam: where an installed tracer sees calls, events and handlers; no dependencies.

rpcgen itself never imports OpenTelemetry. The optional extra (``rpcgen.otel``, installed with
``pip install 'rpcgen[otel]'``) implements ``Tracer`` and installs it (``install``) when the
user calls ``rpcgen.otel.instrument()``. Until then ``tracer`` is None and ``outermost`` is
empty (``bench/otel_overhead.py`` measures what the seam costs).

Where the runtime asks (the parts both transports share):
- clients (``client.Client._invoke_async`` / ``_publish``, ``aio.AsyncClient._call`` /
  ``_publish``): ``send`` wraps the publish in a span that is current while the request's
  headers are built and ends when the completion runs;
- headers (``context.outgoing_headers`` / ``event_headers``): ``inject`` writes the current
  span's trace context as ``nameko.<field>`` headers (``nameko.traceparent``, ...);
- servers: the tracer's ``middleware`` (a ``middleware.Middleware``, in ``outermost``) goes
  outside every server's own around each handler run (``_dispatch.Dispatcher``,
  ``_handling.EventEntrypoint``): its ``around`` / ``around_async`` hold the span,
  ``finished`` ends it with the outcome; ``rejected`` tells of a request answered before any
  handler or middleware ran (``MethodNotFound``, ...), which no middleware sees.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rpcgen.runtime.middleware import Middleware
    from rpcgen.runtime.spec import Event, Method

__all__ = ["Completion", "Outgoing", "Tracer", "install", "outermost", "tracer"]

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


class Tracer(Protocol):
    """What an installed tracer does; every method is called only while it is installed."""

    def send(self, target: Method[Any] | Event[Any], on_done: Completion) -> Outgoing:
        """A span for one call (``Method``) or one event dispatch (``Event``)."""

    @property
    def middleware(self) -> Middleware:
        """The outermost middleware of every server: a SERVER (request) or CONSUMER (event)
        span around each handler run, current while it runs, ended in ``finished``."""

    def rejected(self, service: str, routing_key: str, headers: object, exc: BaseException) -> None:
        """A request answered with an error before any handler ran (``MethodNotFound``, ...)."""

    def inject(self, headers: dict[str, object]) -> None:
        """Write the current trace context into a request's or event's ``nameko.*`` headers."""


tracer: Tracer | None = None
"""The installed tracer, or None (the default: nothing is traced)."""

outermost: tuple[Middleware, ...] = ()
"""``(tracer.middleware,)`` while a tracer is installed, else (): put outside every server's
own middleware (``outermost + own``, as cheap as an ``is None`` test when empty)."""


def install(new: Tracer | None) -> None:
    """Install ``new`` as the tracer (None: none), its middleware with it."""
    global tracer, outermost
    tracer = new
    outermost = () if new is None else (new.middleware,)

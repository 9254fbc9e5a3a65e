"""OpenTelemetry for rpcgen: spans for calls, requests and events, trace context Nameko's way.

Install the extra (``pip install 'rpcgen[otel]'``), set up a tracer provider as usual, then::

    import rpcgen.otel
    rpcgen.otel.instrument()          # or instrument(tracer_provider=provider)

Importing this module changes nothing; ``instrument()`` puts a tracer in the runtime's seam
(``rpcgen.runtime._tracing``) and ``uninstrument()`` takes it out again. In servers the tracer
is a middleware (``rt.Middleware``), the outermost around every handler run. What is traced:

- a call: a CLIENT span ``<service>/<method>`` in the caller, a SERVER span of the same name in
  the server, its child (``rpc.system`` = ``nameko``, ``rpc.service``, ``rpc.method``); a
  failed call has status ERROR and ``error.type`` = the error's wire path
  (``exc_path``, e.g. ``hello.DivisionByZero``), on both sides, and an ``exception`` event;
- an event: a PRODUCER span ``publish <service>.<event>`` in the dispatcher and a CONSUMER span
  ``process <service>.<event>`` in each handler, its child (``messaging.system`` = ``rabbitmq``,
  ``messaging.destination.name`` = the exchange, ``messaging.rabbitmq.destination.routing_key``
  = the event type, ``messaging.operation.name`` = ``publish`` / ``process``).

The trace context travels as ``opentelemetry-instrumentation-nameko`` carries it: the global
propagator (W3C Trace Context and Baggage unless configured otherwise) writes its fields into
the call's Nameko context data, so they go out as ``nameko.traceparent``,
``nameko.tracestate`` and ``nameko.baggage`` headers, and a server reads its parent from the
incoming context data. A handler's own calls and events carry its span on, replacing the
incoming fields (which an uninstrumented hop passes on unchanged, like any context data).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from rpcgen import __version__
from rpcgen.runtime import _tracing, errors
from rpcgen.runtime._codec import wire
from rpcgen.runtime.middleware import HandlerCall, Middleware
from rpcgen.runtime.spec import Event, Method

__all__ = ["RPC_SYSTEM", "instrument", "is_instrumented", "uninstrument"]

RPC_SYSTEM = "nameko"
"""The ``rpc.system`` of rpcgen's spans: the wire protocol, shared with Nameko services."""

_OK_TAIL = b'"error": null}'
"""How a successful reply body ends (rpcgen's and Nameko's): other bodies are parsed."""


def instrument(tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace rpcgen's calls, requests and events from now on, with ``tracer_provider`` (the
    global one if None). Calling it again replaces the provider."""
    tracer = trace.get_tracer(__name__, __version__, tracer_provider=tracer_provider)
    _tracing.install(_Tracer(tracer))


def uninstrument() -> None:
    """Stop tracing (spans already started still end)."""
    _tracing.install(None)


def is_instrumented() -> bool:
    """Whether ``instrument()`` is in force."""
    return isinstance(_tracing.tracer, _Tracer)


class _Tracer:
    """``_tracing.Tracer`` on OpenTelemetry."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._spans = _Spans(tracer)

    def send(self, target: Method[Any] | Event[Any], on_done: _tracing.Completion) -> _Outgoing:
        if isinstance(target, Event):
            name = f"publish {target.label}"
            kind = SpanKind.PRODUCER
            attributes = _event_attributes(target.exchange, target.name, "publish", "send")
        else:
            name = f"{target.service}/{target.name}"
            kind = SpanKind.CLIENT
            attributes = _rpc_attributes(target.service, target.name)
        span = self._tracer.start_span(name, kind=kind, attributes=attributes)
        return _Outgoing(span, on_done, isinstance(target, Method))

    @property
    def middleware(self) -> _Spans:
        return self._spans

    def rejected(self, service: str, routing_key: str, headers: object, exc: BaseException) -> None:
        data = wire.headers_to_context(headers if isinstance(headers, Mapping) else None)
        method = routing_key.rpartition(".")[2]
        attributes = _rpc_attributes(service, method)
        parent = propagate.extract(_carrier(data))
        name = f"{service}/{method}"
        span = self._tracer.start_span(name, parent, kind=SpanKind.SERVER, attributes=attributes)
        _fail(span, exc)
        span.end()

    def inject(self, headers: dict[str, object]) -> None:
        propagator = propagate.get_global_textmap()
        for field in propagator.fields:  # the incoming request's, passed on in its context
            headers.pop(wire.HEADER_PREFIX + field, None)
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
        for key, value in carrier.items():
            headers[wire.HEADER_PREFIX + key] = value


class _Outgoing:
    """A CLIENT or PRODUCER span: current while the request is built, ended by its completion."""

    __slots__ = ("_ended", "_is_call", "_lock", "_on_done", "_span", "_token")

    def __init__(self, span: Span, on_done: _tracing.Completion, is_call: bool) -> None:
        self._span = span
        self._on_done = on_done
        self._is_call = is_call
        self._ended = False
        self._lock = threading.Lock()
        self._token: object = None

    def __enter__(self) -> _tracing.Completion:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._done

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if exc is not None:
            self._end(exc, None)

    def abandon(self, exc: BaseException) -> None:
        self._end(exc, None)

    def _done(self, body: bytes, error: BaseException | None) -> None:
        """The completion: end the span with the outcome, then complete the call."""
        self._end(error, body if self._is_call and error is None else None)
        self._on_done(body, error)

    def _end(self, error: BaseException | None, body: bytes | None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        try:
            if error is not None:
                _fail(self._span, error)
            elif body is not None and not body.endswith(_OK_TAIL):
                _fail_reply(self._span, body)
        finally:
            self._span.end()


class _Spans(Middleware):
    """The outermost middleware of every server: a SERVER or CONSUMER span around each handler
    run (and the middleware inside), current while it runs, ended once the outcome is final."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def around(self, call: HandlerCall, proceed: Callable[[], object]) -> object:
        span = self._start(call)
        token = otel_context.attach(span.context)
        try:
            return proceed()
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            otel_context.detach(token)

    async def around_async(
        self, call: HandlerCall, proceed: Callable[[], Awaitable[object]]
    ) -> object:
        span = self._start(call)
        token = otel_context.attach(span.context)
        try:
            return await proceed()
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            otel_context.detach(token)

    def finished(self, call: HandlerCall) -> None:
        span = call.state.pop(_SPAN, None)
        if isinstance(span, _Incoming):
            span.end(call)

    def _start(self, call: HandlerCall) -> _Incoming:
        ctx = call.context
        if call.kind == "rpc":
            name, kind = f"{call.service}/{call.name}", SpanKind.SERVER
            attributes = _rpc_attributes(call.service, call.name)
        else:
            label = f"{call.source}.{call.event}"
            name, kind = f"process {label}", SpanKind.CONSUMER
            exchange = wire.event_exchange(str(call.source))
            attributes = _event_attributes(exchange, str(call.event), "process", "process")
            attributes.update(
                {
                    "messaging.destination.subscription.name": call.queue,
                    "rpcgen.handler": f"{call.service}.{call.name}",
                    "rpcgen.handler_type": call.handler_type,
                }
            )
        attributes["rpcgen.call_id"] = ctx.call_id
        parent = propagate.extract(_carrier(ctx.data))
        span = self._tracer.start_span(name, parent, kind=kind, attributes=attributes)
        call.state[_SPAN] = started = _Incoming(span, trace.set_span_in_context(span, parent))
        return started


_SPAN = "rpcgen.otel.span"
"""Where ``_Spans`` keeps a run's span in ``HandlerCall.state`` until ``finished``."""


class _Incoming:
    """A SERVER or CONSUMER span of one handler run."""

    __slots__ = ("_failed", "_span", "context")

    def __init__(self, span: Span, ctx: otel_context.Context) -> None:
        self._span = span
        self.context = ctx
        self._failed = False

    def fail(self, exc: BaseException) -> None:
        """The handler (or a middleware inside) raised ``exc``."""
        self._failed = True
        _fail(self._span, exc)

    def end(self, call: HandlerCall) -> None:
        """End the span with the run's final outcome."""
        reply = call.reply
        if reply is not None and not self._failed and not reply.endswith(_OK_TAIL):
            _fail_reply(self._span, reply)  # an error reply nobody raised: a result not sent
        elif call.outcome == "requeue":
            self._span.set_attribute("rpcgen.event.requeued", True)
        self._span.end()


def _rpc_attributes(service: str, method: str) -> dict[str, Any]:
    return {"rpc.system": RPC_SYSTEM, "rpc.service": service, "rpc.method": method}


def _event_attributes(
    exchange: str, event: str, operation: str, operation_type: str
) -> dict[str, Any]:
    return {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": exchange,
        "messaging.rabbitmq.destination.routing_key": event,
        "messaging.operation.name": operation,
        "messaging.operation.type": operation_type,
    }


def _carrier(data: Mapping[str, object]) -> dict[str, str]:
    """The string values of a context: what a propagator can read (``traceparent``, ...)."""
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _fail(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: ``error.type`` is its wire path, as the caller sees it."""
    path = str(errors.serialize_exception(exc).get("exc_path", type(exc).__qualname__))
    span.set_attribute("error.type", path)
    span.record_exception(exc, attributes={"exception.type": path})
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def _fail_reply(span: Span, body: bytes) -> None:
    """Mark ``span`` failed by the remote error in a reply body (unparsable bodies: as such)."""
    try:
        _, error = wire.parse_reply(body)
    except Exception as exc:
        _fail(span, exc)
        return
    if not error:
        return
    exc_type = str(error.get("exc_type", "RemoteError"))
    path = str(error.get("exc_path") or exc_type)
    value = str(error.get("value", ""))
    span.set_attribute("error.type", path)
    span.add_event(
        "exception",
        {"exception.type": path, "exception.message": value},
    )
    span.set_status(Status(StatusCode.ERROR, f"{exc_type}: {value}"))

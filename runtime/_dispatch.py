"""Request dispatch: one delivered request in, one reply body out (or None: nobody to answer).

Runs in a server's worker threads and does no I/O. Nothing a request carries can raise out of
here, and every request is settled exactly once (acked, never requeued), so a poison message
cannot loop:

- no ``reply_to``: acked and logged, nobody to answer (Nameko crash-loops on it, issue #753);
- a body over ``max_message_bytes``: ``PayloadTooLarge``, before anything is decoded;
- a ``content_type`` other than ``application/json`` (pickle included: never deserialised), or a
  ``content_encoding`` other than UTF-8: ``MalformedRequest``;
- an unknown method: ``MethodNotFound``; invalid UTF-8 or JSON, a body that is not an object or
  lacks ``args``/``kwargs``: ``MalformedRequest``; arguments of the wrong type:
  ``IncorrectSignature``;
- a header pika cannot decode (a timestamp past year 9999) reaches us as its number of seconds
  (``_amqp.pikafix``) instead of dropping the connection and looping through redeliveries; a
  header table too deep, too big or not decodable at all reaches us as ``UndecodedHeaders``
  (empty, ``wire.undecoded`` says why): ``MalformedRequest`` saying why;
- headers pika could not send on (a key too long once prefixed, any value it cannot encode)
  are left out of the handler's context, so the calls it makes do not fail; a
  ``call_id_stack`` that is not a list of strings is read leniently (``context.incoming``);
- an exception in a handler becomes an error reply the Nameko way, and a reply body (result or
  error) over ``max_message_bytes`` is replaced by a ``PayloadTooLarge`` error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rpcgen.runtime import _metrics, _tracing, context
from rpcgen.runtime._asyncrun import HandlerLoop, awaited, is_async
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import DEFAULT_MAX_MESSAGE_BYTES, Delivery, Properties
from rpcgen.runtime.errors import MalformedRequest, MethodNotFound, PayloadTooLarge, ServiceError
from rpcgen.runtime.middleware import (
    HandlerCall,
    Middleware,
    finish,
    middleware_of,
    run_async,
    run_sync,
)
from rpcgen.runtime.once import identity
from rpcgen.runtime.spec import Method

if TYPE_CHECKING:
    from rpcgen.runtime.server import Server

__all__ = ["Dispatcher", "reply_properties"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Turns one request into one reply body: ``reply_for`` in a worker thread (any handler),
    ``reply_for_async`` in a task on the handler loop (async handlers)."""

    def __init__(
        self,
        server: Server,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.service = server.service_name
        self.queue = wire.service_queue(self.service)
        self.server = server
        self.max_message_bytes = max_message_bytes
        self.expired = 0  # requests not run because they arrived after their deadline
        self.loop: HandlerLoop | None = None  # runs async handlers (set by the runner)
        self.running: dict[object, str] = {}
        """The call id of each handler running now, by worker thread id or asyncio task (the
        runner logs it when a drain cuts the handler off)."""
        self.middleware = middleware_of(server, middleware)
        self._routes: dict[str, tuple[Method[object], Callable[..., object], bool]] = {}
        for attr, method in server.methods.items():
            handler = getattr(server, attr)
            self._routes[method.routing_key] = (method, handler, is_async(handler))

    def is_async(self, routing_key: str) -> bool:
        """Whether the request with ``routing_key`` goes to an ``async def`` handler."""
        route = self._routes.get(routing_key)
        return route is not None and route[2]

    def reply_for(self, request: Delivery) -> bytes | None:
        """The reply body, or None when the request is not answered (no ``reply_to``, or it
        arrived after its deadline: acked, logged at debug, counted in ``expired``)."""
        ready = self._prepare(request)
        if not isinstance(ready, _Ready):
            return ready
        key, started = threading.get_ident(), self._started(ready)
        self.running[key] = ready.call.context.call_id
        chain = _tracing.outermost + self.middleware  # an installed tracer's span: outermost
        try:
            body, outcome = self._serve(ready, chain)
        except BaseException:
            if chain:  # cut off (a cancelled task, KeyboardInterrupt): no outcome
                finish(chain, ready.call, None, None)
            raise
        finally:
            del self.running[key]
        if chain:
            finish(chain, ready.call, outcome, body)
        self._handled(ready, outcome, started)
        return self._bounded(body, request.routing_key)

    async def reply_for_async(self, request: Delivery) -> bytes | None:
        """``reply_for`` for an async handler, run in a task on the handler loop."""
        ready = self._prepare(request)
        if not isinstance(ready, _Ready):
            return ready
        key, started = asyncio.current_task(), self._started(ready)
        self.running[key] = ready.call.context.call_id
        chain = _tracing.outermost + self.middleware
        try:
            body, outcome = await self._serve_async(ready, chain)
        except BaseException:
            if chain:  # cut off (a cancelled task, KeyboardInterrupt): no outcome
                finish(chain, ready.call, None, None)
            raise
        finally:
            del self.running[key]
        if chain:
            finish(chain, ready.call, outcome, body)
        self._handled(ready, outcome, started)
        return self._bounded(body, request.routing_key)

    def _started(self, ready: _Ready) -> float:
        """Tell the installed meter (``_metrics``) a handler starts; when, for ``_handled``."""
        if _metrics.meter is None:
            return 0.0
        _metrics.meter.request_started(self.service, ready.method.name)
        return time.perf_counter()

    def _handled(self, ready: _Ready, outcome: str, started: float) -> None:
        """Tell the meter the handler ``_started`` is done (not if none was installed then)."""
        meter = _metrics.meter
        if meter is not None and started:
            seconds = time.perf_counter() - started
            meter.request_handled(self.service, ready.method.name, outcome, seconds)

    def _count(self, routing_key: str, outcome: str) -> None:
        """Count a request no handler ran for (the method is ``unknown`` if it is not ours, so
        that a stream of made-up names cannot grow the metrics without bound)."""
        if _metrics.meter is not None:
            route = self._routes.get(routing_key)
            name = "unknown" if route is None else route[0].name
            _metrics.meter.request_handled(self.service, name, outcome, 0.0)

    def _prepare(self, request: Delivery) -> bytes | _Ready | None:
        """A request ready to run, or its final answer (an error body, or None: no reply)."""
        props = request.properties
        if not props.reply_to:
            log.warning(
                "dropped a request to %s without reply_to (correlation id %r): nobody to answer",
                request.routing_key,
                props.correlation_id,
            )
            self._count(request.routing_key, "rejected")
            return None
        deadline = context.deadline_of(props.headers)
        if deadline is not None and time.time() > deadline:
            self.expired += 1  # its caller gave up: running it would only load the server
            log.debug("skipped %s: it arrived after its deadline", request.routing_key)
            self._count(request.routing_key, "expired")
            return None
        try:
            method, handler, asynchronous, args, kwargs = self._decode(request)
        except Exception as exc:  # a protocol error, answered as Nameko answers it
            log.info("bad request to %s: %r", request.routing_key, exc)
            if _tracing.tracer is not None:
                _tracing.tracer.rejected(self.service, request.routing_key, props.headers, exc)
            self._count(request.routing_key, "rejected")
            return self._bounded(wire.error_reply(exc), request.routing_key)
        call_id = wire.new_call_id(self.service, method.name)
        ctx = context.incoming(_sendable(props.headers), call_id)
        call = HandlerCall(  # positional: keywords would cost a dict (~0.2 µs) per request
            self.service, method.name, "rpc", "rpc", self.server, tuple(args), kwargs, ctx,
            asynchronous, None, identity(self.queue, request, True), {}, None, self.queue,
        )  # fmt: skip
        return _Ready(method, handler, call)

    def _decode(
        self, request: Delivery
    ) -> tuple[Method[object], Callable[..., object], bool, Sequence[object], dict[str, object]]:
        if len(request.body) > self.max_message_bytes:
            what = f"request to {request.routing_key}"
            raise PayloadTooLarge.exceeded(what, len(request.body), self.max_message_bytes)
        undecodable = wire.undecoded(request.properties.headers)
        if undecodable is not None:
            raise MalformedRequest(f"headers not decoded: {undecodable}")
        content_type = request.properties.content_type
        if content_type != wire.CONTENT_TYPE:
            raise MalformedRequest(
                f"unsupported content type {content_type!r}: only {wire.CONTENT_TYPE} is accepted"
            )
        encoding = request.properties.content_encoding
        if encoding is not None and encoding.lower() not in _UTF8:
            raise MalformedRequest(f"unsupported content encoding {encoding!r}: only utf-8")
        route = self._routes.get(request.routing_key)
        if route is None:
            raise MethodNotFound(request.routing_key.rpartition(".")[2])
        method, handler, asynchronous = route
        args, kwargs = wire.parse_request(request.body)
        args, kwargs = method.codec.decode_args(args, kwargs)
        return method, handler, asynchronous, args, kwargs

    def _serve(self, ready: _Ready, chain: tuple[Middleware, ...]) -> tuple[bytes, str]:
        """Run the handler inside ``chain`` in this thread (an async one on the loop, waited
        for here): the reply body and the outcome (``_metrics.SERVER_OUTCOMES``)."""
        call = ready.call
        token = context.enter(call.context)
        try:
            if call.is_async:
                runs = run_async(chain, call, ready.handler)  # type: ignore[arg-type]
                result = awaited(runs, self.loop, call.context)
            else:
                result = run_sync(chain, call, ready.handler)
        except Exception as exc:
            return _error(call, exc)
        finally:
            context.leave(token)
        return _encode(ready.method, result, call)

    async def _serve_async(self, ready: _Ready, chain: tuple[Middleware, ...]) -> tuple[bytes, str]:
        """Run an async handler inside ``chain`` in this task: the reply body and the outcome."""
        call = ready.call
        token = context.enter(call.context)
        try:
            result = await run_async(chain, call, ready.handler)  # type: ignore[arg-type]
        except Exception as exc:
            return _error(call, exc)
        finally:
            context.leave(token)
        return _encode(ready.method, result, call)

    def _bounded(self, body: bytes, routing_key: str) -> bytes:
        """``body``, or a ``PayloadTooLarge`` error reply in its place if it is over the limit."""
        if len(body) <= self.max_message_bytes:
            return body
        too_large = PayloadTooLarge.exceeded(
            f"reply of {routing_key}", len(body), self.max_message_bytes
        )
        log.warning("%s", too_large)
        return wire.error_reply(too_large)


_UTF8 = frozenset({"utf-8", "utf8"})


class _Ready:
    """A decoded request about to run."""

    __slots__ = ("call", "handler", "method")

    def __init__(
        self, method: Method[object], handler: Callable[..., object], call: HandlerCall
    ) -> None:
        self.method = method
        self.handler = handler
        self.call = call


def _error(call: HandlerCall, exc: Exception) -> tuple[bytes, str]:
    if isinstance(exc, ServiceError):  # declared in the IDL: an ordinary outcome
        log.debug("%s raised %r", call.context.call_id, exc)
        return wire.error_reply(exc), "declared_error"
    log.error("%s failed", call.context.call_id, exc_info=exc)  # undeclared: alert-worthy
    return wire.error_reply(exc), "error"


def _encode(method: Method[object], result: object, call: HandlerCall) -> tuple[bytes, str]:
    try:
        return method.codec.encode_result(result), "ok"
    except Exception as exc:  # UnserializableValueError: an error reply nobody raised
        log.warning("%s returned a result that cannot be sent: %r", call.context.call_id, exc)
        return wire.error_reply(exc), "error"


def _sendable(headers: Mapping[str, object] | None) -> Mapping[str, object] | None:
    """``headers`` without the entries that could not be encoded again when a handler calls on.

    AMQP decoders read more field types than pika encodes (floats, ints over 64 bits), and the
    context travels on with every call a handler makes, every key as ``nameko.<key>`` (which
    may no longer fit a short string): such a header would make those calls fail. Nameko's own
    headers (strings and lists of strings) and 64-bit ints skip the full check
    (``wire.is_plain_header``: checking rpcgen's usual two headers by encoding them cost 11 µs a
    request, against 4).
    """
    if not headers or all(wire.is_plain_header(k, v) for k, v in headers.items()):
        return headers
    kept: dict[str, object] = {}
    for key, value in headers.items():
        if not wire.is_encodable_header(key, value):
            log.info("ignored header %r: it cannot be sent on (%s)", key, type(value).__name__)
            continue
        kept[key] = value
    return kept


def reply_properties(request: Any) -> Properties:
    """Nameko's reply properties: ``headers`` present and empty, correlation id copied."""
    return Properties(
        content_type=wire.CONTENT_TYPE,
        content_encoding=wire.CONTENT_ENCODING,
        delivery_mode=wire.PERSISTENT,
        priority=0,
        correlation_id=request.correlation_id,
        headers={},
    )

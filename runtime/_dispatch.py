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

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rpcgen.runtime import _metrics, _tracing, context
from rpcgen.runtime._asyncrun import HandlerLoop, awaited
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import DEFAULT_MAX_MESSAGE_BYTES, Delivery, Properties
from rpcgen.runtime.errors import MalformedRequest, MethodNotFound, PayloadTooLarge, ServiceError
from rpcgen.runtime.spec import Method

if TYPE_CHECKING:
    from rpcgen.runtime.server import Server

__all__ = ["Dispatcher", "reply_properties"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Turns one request into one reply body; runs in a worker thread."""

    def __init__(self, server: Server, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.service = server.service_name
        self.max_message_bytes = max_message_bytes
        self.expired = 0  # requests not run because they arrived after their deadline
        self.loop: HandlerLoop | None = None  # runs async handlers (set by the runner)
        self.running: dict[int, str] = {}  # thread id -> call id of the handler it runs
        self._routes: dict[str, tuple[Method[object], Callable[..., object]]] = {
            method.routing_key: (method, getattr(server, attr))
            for attr, method in server.methods.items()
        }

    def reply_for(self, request: Delivery) -> bytes | None:
        """The reply body, or None when the request is not answered (no ``reply_to``, or it
        arrived after its deadline: acked, logged at debug, counted in ``expired``)."""
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
            method, handler, args, kwargs = self._decode(request)
        except Exception as exc:  # a protocol error, answered as Nameko answers it
            log.info("bad request to %s: %r", request.routing_key, exc)
            body = wire.error_reply(exc)
            if _tracing.tracer is not None:
                _tracing.tracer.rejected(self.service, request.routing_key, props.headers, exc)
            self._count(request.routing_key, "rejected")
        else:
            body = self._run(method, handler, args, kwargs, _sendable(props.headers))
        return self._bounded(body, request.routing_key)

    def _decode(
        self, request: Delivery
    ) -> tuple[Method[object], Callable[..., object], Sequence[object], dict[str, object]]:
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
        method, handler = route
        args, kwargs = wire.parse_request(request.body)
        args, kwargs = method.codec.decode_args(args, kwargs)
        return method, handler, args, kwargs

    def _run(
        self,
        method: Method[object],
        handler: Callable[..., object],
        args: Sequence[object],
        kwargs: dict[str, object],
        headers: Mapping[str, object] | None,
    ) -> bytes:
        ctx = context.incoming(headers, wire.new_call_id(self.service, method.name))
        ident = threading.get_ident()
        self.running[ident] = ctx.call_id
        meter, started = _metrics.meter, 0.0
        if meter is not None:
            meter.request_started(self.service, method.name)
            started = time.perf_counter()
        try:
            if _tracing.tracer is not None:  # a SERVER span around the run (``_tracing``)
                with _tracing.tracer.serve(self.service, method, ctx) as span:
                    body, outcome = self._serve(method, span.wrap(handler), args, kwargs, ctx)
                    body = span.reply(body)
            else:
                body, outcome = self._serve(method, handler, args, kwargs, ctx)
        finally:
            del self.running[ident]
        if meter is not None:
            meter.request_handled(self.service, method.name, outcome, time.perf_counter() - started)
        return body

    def _count(self, routing_key: str, outcome: str) -> None:
        """Count a request no handler ran for (the method is ``unknown`` if it is not ours, so
        that a stream of made-up names cannot grow the metrics without bound)."""
        if _metrics.meter is not None:
            route = self._routes.get(routing_key)
            name = "unknown" if route is None else route[0].name
            _metrics.meter.request_handled(self.service, name, outcome, 0.0)

    def _serve(
        self,
        method: Method[object],
        handler: Callable[..., object],
        args: Sequence[object],
        kwargs: dict[str, object],
        ctx: context.CallContext,
    ) -> tuple[bytes, str]:
        """The reply body and the outcome (``_metrics.SERVER_OUTCOMES``)."""
        token = context.enter(ctx)
        try:
            result = awaited(handler(*args, **kwargs), self.loop, ctx)
        except ServiceError as exc:  # declared in the IDL: an ordinary outcome
            log.debug("%s raised %r", ctx.call_id, exc)
            return wire.error_reply(exc), "declared_error"
        except Exception as exc:
            log.error("%s failed", ctx.call_id, exc_info=True)  # undeclared: alert-worthy
            return wire.error_reply(exc), "error"
        finally:
            context.leave(token)
        try:
            return method.codec.encode_reply(result), "ok"
        except Exception as exc:  # UnserializableValueError, or a result of the wrong type
            log.warning("%s returned a result that cannot be sent: %r", ctx.call_id, exc)
            return wire.error_reply(exc), "error"

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

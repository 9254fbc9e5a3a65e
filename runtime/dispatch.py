"""Request dispatch: one delivered request in, one reply body out (or None: nobody to answer).

Runs in a server's worker threads and does no I/O. Nothing a request carries can raise out of
here: a request without ``reply_to`` is dropped (Nameko crashes on it, issue #753); a foreign or
missing ``content_type``, a body that is not a request, an unknown method or arguments of the
wrong type get the matching error reply; an exception in a handler becomes an error reply the
Nameko way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pika
from rpcgen.runtime import context, wire
from rpcgen.runtime.consumer import Delivery
from rpcgen.runtime.errors import MalformedRequest, MethodNotFound, ServiceError
from rpcgen.runtime.spec import Method

if TYPE_CHECKING:
    from rpcgen.runtime.server import Server

__all__ = ["Dispatcher", "reply_properties"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Turns one request into one reply body; runs in a worker thread."""

    def __init__(self, server: Server) -> None:
        self.service = server.service_name
        self._routes: dict[str, tuple[Method[object], Callable[..., object]]] = {
            method.routing_key: (method, getattr(server, attr))
            for attr, method in server.methods.items()
        }

    def reply_for(self, request: Delivery) -> bytes | None:
        """The reply body, or None when the request cannot be answered (no ``reply_to``)."""
        props = request.properties
        if not props.reply_to:
            log.warning(
                "dropped a request to %s without reply_to (correlation id %r): nobody to answer",
                request.routing_key, props.correlation_id,
            )  # fmt: skip
            return None
        try:
            method, handler, args, kwargs = self._decode(request)
        except Exception as exc:  # a protocol error, answered as Nameko answers it
            log.info("bad request to %s: %r", request.routing_key, exc)
            return wire.error_reply(exc)
        return self._run(method, handler, args, kwargs, props.headers)

    def _decode(
        self, request: Delivery
    ) -> tuple[Method[object], Callable[..., object], Sequence[object], dict[str, object]]:
        content_type = request.properties.content_type
        if content_type != wire.CONTENT_TYPE:
            raise MalformedRequest(
                f"unsupported content type {content_type!r}: only {wire.CONTENT_TYPE} is accepted"
            )
        route = self._routes.get(request.routing_key)
        if route is None:
            raise MethodNotFound(request.routing_key.rpartition(".")[2])
        method, handler = route
        args, kwargs = wire.parse_request(request.body)
        args, kwargs = method.codec.decode_args(args, kwargs)
        return method, handler, args, kwargs

    def _run(
        self, method: Method[object], handler: Callable[..., object], args: Sequence[object],
        kwargs: dict[str, object], headers: Mapping[str, object] | None,
    ) -> bytes:  # fmt: skip
        ctx = context.incoming(headers, wire.new_call_id(self.service, method.name))
        token = context.enter(ctx)
        try:
            result = handler(*args, **kwargs)
        except ServiceError as exc:  # declared in the IDL: an ordinary outcome
            log.debug("%s raised %r", ctx.call_id, exc)
            return wire.error_reply(exc)
        except Exception as exc:
            log.warning("%s failed", ctx.call_id, exc_info=True)
            return wire.error_reply(exc)
        finally:
            context.leave(token)
        try:
            return method.codec.encode_reply(result)
        except Exception as exc:  # UnserializableValueError, or a result of the wrong type
            log.warning("%s returned a result that cannot be sent: %r", ctx.call_id, exc)
            return wire.error_reply(exc)


def reply_properties(request: Any) -> Any:
    """Nameko's reply properties: ``headers`` present and empty, correlation id copied."""
    return pika.BasicProperties(
        content_type=wire.CONTENT_TYPE,
        content_encoding=wire.CONTENT_ENCODING,
        delivery_mode=wire.PERSISTENT,
        priority=0,
        correlation_id=request.correlation_id,
        headers={},
    )

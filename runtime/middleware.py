"""Server middleware: code that wraps every RPC handler call and every event handler run.

A ``Middleware`` sees one ``HandlerCall`` (the service, the method or event handler, its kind,
the decoded arguments or payload, the call context) and the outcome (the result, a declared
error, or any other exception). It can reject the call by raising (the caller gets that error,
as if the handler had raised it: a declared ``ServiceError`` as its class, anything else as a
``RemoteError``) and provide per-request resources around the handler (``HandlerCall.state``,
reachable from the handler through ``current_call()``).

Override ``before`` and ``after`` for what runs before and after the handler (they serve sync and
async handlers alike), or ``around`` and ``around_async`` to wrap the handler in a ``with`` block
(a database session, a span). This is Nameko's ``DependencyProvider.worker_setup`` /
``worker_result`` / ``worker_teardown`` lifecycle, in gRPC's and FastStream's onion shape.

Order: a runner's middleware (``ServiceRunner(..., middleware=[...])``, ``serve``) come first,
then the server's ``middleware`` (a class attribute, or set on the instance by a ``rpcgen
serve`` factory); the
first is the outermost: its ``before`` runs first and its ``after`` last. Only decoded requests
reach middleware: a request that cannot be decoded is answered with its protocol error before
(``MethodNotFound``, ``IncorrectSignature``, ...), and an event that cannot be decoded is
dead-lettered.

A middleware that raises is the call's outcome, never a lost message: the request gets an error
reply and is acked; the event is acked (or requeued with ``requeue_on_error``) as if its handler
had raised. If ``before`` raises, the handler and the inner middleware do not run, and the
middleware's own ``after`` is not called (the outer ones' are, with the error).

Once the outcome is final (an RPC method's reply encoded: a result that cannot be sent is an
error reply the handler did not raise; an event to be acked or requeued), every middleware of
the chain gets ``finished(call)``, the innermost first, with ``call.outcome`` (and
``call.reply``) set: the place for what needs the outcome the caller sees, such as metrics or
ending a span. It is called once per decoded request or event, whether or not the handler ran.

An installed tracer (``rpcgen.otel.instrument()``, through ``_tracing``) contributes one more
middleware, outside all of these: its span covers the whole chain.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rpcgen.runtime.context import CallContext

__all__ = ["HandlerCall", "Middleware", "current_call"]

log = logging.getLogger(__name__)


@dataclass
class HandlerCall:
    """One handler run, as middleware see it."""

    service: str
    """The service's name (``service_name``)."""
    name: str
    """The RPC method's name, or the event handler's attribute name."""
    kind: Literal["rpc", "event"]
    handler_type: str
    """``"rpc"`` for a method; ``"service_pool"``, ``"singleton"`` or ``"broadcast"`` for an
    event handler."""
    server: object
    """The server instance."""
    args: tuple[Any, ...]
    """The decoded positional arguments (an event handler: ``(payload,)``)."""
    kwargs: dict[str, Any]
    """The decoded keyword arguments."""
    context: CallContext
    """The call context: ``data``, ``call_id``, ``call_id_stack``, ``deadline``."""
    is_async: bool
    """Whether the handler is ``async def``."""
    event: str | None = None
    """The event type an event handler runs for (None for an RPC method)."""
    message_key: str | None = None
    """The message's identity, the same for every copy of it (a redelivery, a resend), unique
    to its queue: what ``Once`` remembers (``rpcgen.runtime.once.identity``). None when it has
    none (an event from a Nameko dispatcher)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Per-request resources: what middleware put here, for the handler and later middleware."""
    source: str | None = None
    """The service that dispatches the event (None for an RPC method)."""
    queue: str | None = None
    """The queue the request or event was consumed from: ``rpc-<service>``, or the event
    handler's own queue."""
    outcome: str | None = field(default=None, init=False)
    """Set once the outcome is final, for ``finished``: ``"ok"``, ``"declared_error"`` or
    ``"error"`` for an RPC method (what its caller gets), ``"ack"`` or ``"requeue"`` for an
    event; None while the handler runs, and if the run was cut off (a cancelled task)."""
    reply: bytes | None = field(default=None, init=False)
    """An RPC method's encoded reply body (its result or error), set with ``outcome``."""


class Middleware:
    """Wraps handler runs; subclass it and override what you need (each default does nothing).

    ``before`` and ``after`` run in the handler's own thread or task, with the call context
    current; ``around`` (sync handlers) and ``around_async`` (async handlers) call them by
    default, and may be overridden to wrap ``proceed()`` in a ``with`` block.
    """

    def before(self, call: HandlerCall) -> None:
        """Before the handler: raise to reject the call (the caller gets the error)."""

    def after(self, call: HandlerCall, result: object, error: BaseException | None) -> None:
        """After the handler (or an inner middleware) returned ``result`` or raised ``error``;
        raising here replaces the outcome with this error."""

    def around(self, call: HandlerCall, proceed: Callable[[], object]) -> object:
        """Run a sync handler: ``proceed()`` runs the inner middleware and the handler."""
        self.before(call)
        try:
            result = proceed()
        except BaseException as exc:
            self.after(call, None, exc)
            raise
        self.after(call, result, None)
        return result

    async def around_async(
        self, call: HandlerCall, proceed: Callable[[], Awaitable[object]]
    ) -> object:
        """Run an async handler: ``await proceed()`` runs the inner middleware and the handler."""
        self.before(call)
        try:
            result = await proceed()
        except BaseException as exc:
            self.after(call, None, exc)
            raise
        self.after(call, result, None)
        return result

    def finished(self, call: HandlerCall) -> None:
        """The outcome is final (``call.outcome``, ``call.reply``), the reply not sent yet, the
        event not yet acked; called for every decoded request or event, whether or not this
        middleware's ``before`` ran. What it raises is logged and ignored."""


_current: contextvars.ContextVar[HandlerCall | None] = contextvars.ContextVar(
    "rpcgen_handler_call", default=None
)


def current_call() -> HandlerCall | None:
    """The handler run in progress (its ``state`` holds what middleware provided), or None."""
    return _current.get()


def middleware_of(server: object, extra: Sequence[Middleware] = ()) -> tuple[Middleware, ...]:
    """``extra`` (a runner's) then the server's ``middleware`` (its class's, or one a factory
    set on the instance), checked."""
    own = getattr(server, "middleware", ())
    if not isinstance(own, (list, tuple)):
        own = ()  # e.g. an RPC method that happens to be called ``middleware``
    found = (*extra, *own)
    for item in found:
        if not isinstance(item, Middleware):
            raise TypeError(
                f"{item!r} is not an rpcgen.runtime.Middleware: subclass it and override "
                "before/after or around/around_async"
            )
    return found


def run_sync(
    chain: Sequence[Middleware], call: HandlerCall, handler: Callable[..., object]
) -> object:
    """``handler(*call.args, **call.kwargs)`` inside ``chain`` (the first outermost)."""
    token = _current.set(call)
    try:
        if not chain:
            return handler(*call.args, **call.kwargs)

        def step(i: int) -> object:
            if i == len(chain):
                return handler(*call.args, **call.kwargs)
            return chain[i].around(call, lambda: step(i + 1))

        return step(0)
    finally:
        _current.reset(token)


async def run_async(
    chain: Sequence[Middleware],
    call: HandlerCall,
    handler: Callable[..., Awaitable[object]],
) -> object:
    """``await handler(*call.args, **call.kwargs)`` inside ``chain`` (the first outermost)."""
    token = _current.set(call)
    try:
        if not chain:
            return await handler(*call.args, **call.kwargs)

        async def step(i: int) -> object:
            if i == len(chain):
                return await handler(*call.args, **call.kwargs)
            return await chain[i].around_async(call, lambda: step(i + 1))

        return await step(0)
    finally:
        _current.reset(token)


def finish(
    chain: Sequence[Middleware], call: HandlerCall, outcome: str | None, reply: bytes | None
) -> None:
    """Set ``call.outcome`` and ``call.reply`` and tell each of ``chain``, innermost first."""
    call.outcome = outcome
    call.reply = reply
    for middleware in reversed(chain):
        try:
            middleware.finished(call)
        except Exception:
            log.exception("%r failed in finished() for %s", middleware, call.context.call_id)

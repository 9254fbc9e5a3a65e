"""The call context: what a handler knows about the call it serves, and what it passes on.

Nameko keeps a per-worker context (the incoming ``nameko.*`` headers with the prefix stripped)
and a call-id stack. Every RPC a worker makes carries both on: the context keys as
``nameko.<key>`` headers and ``nameko.call_id_stack`` = the worker's own stack, i.e. the parent
stack (trimmed to the last ``PARENT_CALLS_TRACKED`` ids) plus the worker's own call id.

rpcgen keeps the same data in a ``ContextVar``. The server sets it around each handler, in the
worker thread that runs it, so any client call the handler makes, from any client object,
continues the chain. Outside a handler a call sends a fresh one-element stack
``["<client_name>.call.<correlation id>"]`` (a new id per call, like Nameko 3; reusing the
correlation id ties the trace to the message).

Deadlines travel the same way (``docs/wire.md`` §6.4): a call sends the wall-clock time after
which its caller stops waiting as the context key ``rpcgen_deadline_ms`` (Unix ms), which
Nameko passes on like any other context key. A call made inside a handler gets at most the time
that remains of the handler's deadline (``budget``), and a server does not run a request that
arrives after its deadline. Clocks of different machines differ: a deadline is early by the
receiver's clock lag, late by its lead; keep timeouts well above the skew (NTP keeps it to
milliseconds).

Callers may add context data of their own (like Nameko's ``context_data``) for the calls made
inside a ``with context_data(language="en"):`` block; it is per thread and per asyncio task.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from rpcgen.runtime import _tracing
from rpcgen.runtime._codec import wire

__all__ = ["DEADLINE_KEY", "CallContext", "context_data", "current_context"]

DEADLINE_KEY = "rpcgen_deadline_ms"
"""The context key of a call's deadline: Unix time in whole milliseconds (AMQP tables as pika
writes them carry no floats), sent as ``nameko.rpcgen_deadline_ms``."""


@dataclass(frozen=True, slots=True)
class CallContext:
    """The context of the request a handler is serving."""

    data: Mapping[str, object]
    """Incoming context keys without the ``nameko.`` prefix, ``call_id_stack`` excluded."""
    call_id_stack: tuple[str, ...]
    """The worker's stack: the tracked parent ids followed by its own call id."""
    deadline: float | None = None
    """Unix time after which the caller no longer waits for this request, if it said."""

    @property
    def call_id(self) -> str:
        """This worker's own call id, ``<service>.<method>.<uuid4>``."""
        return self.call_id_stack[-1]

    @property
    def parent_call_id(self) -> str | None:
        """The caller's call id, if the caller sent a stack."""
        return self.call_id_stack[-2] if len(self.call_id_stack) > 1 else None


_current: ContextVar[CallContext | None] = ContextVar("rpcgen_call_context", default=None)
_extra: ContextVar[Mapping[str, object] | None] = ContextVar("rpcgen_context_data", default=None)


def current_context() -> CallContext | None:
    """The context of the request being served by this thread or task, or None."""
    return _current.get()


@contextmanager
def context_data(**data: object) -> Iterator[None]:
    """Send ``data`` as ``nameko.<key>`` headers on every call made inside the block.

    Keys given here override the same keys of a handler's incoming context; ``None`` values
    are dropped on the wire, as Nameko drops them. ``call_id_stack`` cannot be set this way.
    """
    if "call_id_stack" in data:
        raise ValueError("call_id_stack is managed by rpcgen and cannot be set as context data")
    token = _extra.set({**(_extra.get() or {}), **data})
    try:
        yield
    finally:
        _extra.reset(token)


def enter(ctx: CallContext) -> Token[CallContext | None]:
    """Make ``ctx`` current (the server does this around each handler)."""
    return _current.set(ctx)


def leave(token: Token[CallContext | None]) -> None:
    """Undo the matching ``enter``."""
    _current.reset(token)


def incoming(
    headers: Mapping[str, object] | None, call_id: str, *, adopt_deadline: bool = True
) -> CallContext:
    """Build a worker's context from a request's headers and the worker's own call id.

    An event handler passes ``adopt_deadline=False``: an event is handled on its own time, so a
    deadline a Nameko dispatcher copied into the event's headers from the call it was serving is
    dropped (the rest of the context data and the call-id stack are kept, as Nameko keeps them).
    """
    data = wire.headers_to_context(headers)
    # wire is laxer than Nameko here: a stack of the wrong type never splits into characters.
    stack = wire.child_call_id_stack(data.pop("call_id_stack", None), call_id)
    if not adopt_deadline:
        data.pop(DEADLINE_KEY, None)
        return CallContext(data=data, call_id_stack=tuple(stack))
    return CallContext(data=data, call_id_stack=tuple(stack), deadline=deadline_of(data))


def deadline_of(data: Mapping[str, object] | None) -> float | None:
    """The deadline in a context (or in headers, under its ``nameko.`` name), if valid."""
    if not data:
        return None
    value = data.get(DEADLINE_KEY, data.get(wire.HEADER_PREFIX + DEADLINE_KEY))
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value / 1000


def budget(timeout: float | None) -> tuple[float | None, float | None]:
    """A call's timeout and deadline (Unix time): ``timeout``, cut to what remains of the
    current handler's deadline."""
    ctx = _current.get()
    inherited = None if ctx is None else ctx.deadline
    if timeout is None and inherited is None:
        return None, None
    now = time.time()
    deadlines = [
        d for d in (inherited, None if timeout is None else now + timeout) if d is not None
    ]
    deadline = min(deadlines)
    return max(0.0, deadline - now), deadline


def outgoing_headers(own_call_id: str, deadline: float | None = None) -> dict[str, object]:
    """The ``nameko.*`` headers of a request made now; ``own_call_id`` is used outside handlers,
    ``deadline`` comes from ``budget``."""
    ctx = _current.get()
    extra = _extra.get()
    if ctx is None and not extra:
        headers: dict[str, object] = {"nameko.call_id_stack": [own_call_id]}
        if deadline is not None:
            headers[_DEADLINE_HEADER] = math.ceil(deadline * 1000)
    else:
        data: dict[str, object] = dict(ctx.data) if ctx is not None else {}
        data.update(extra or {})
        data["call_id_stack"] = list(ctx.call_id_stack) if ctx is not None else [own_call_id]
        data[DEADLINE_KEY] = None if deadline is None else math.ceil(deadline * 1000)
        headers = wire.context_to_headers(data)
    if _tracing.tracer is not None:  # the call's span, as nameko.traceparent (``_tracing``)
        _tracing.tracer.inject(headers)
    return headers


_DEADLINE_HEADER = wire.HEADER_PREFIX + DEADLINE_KEY


def event_headers() -> dict[str, object]:
    """The ``nameko.*`` headers of an event dispatched now (``docs/wire.md`` §7.2).

    Inside a handler: its context and its call-id stack, as Nameko's ``EventDispatcher`` sends
    them; outside: only ``context_data``, as Nameko's standalone ``event_dispatcher`` (no stack).
    """
    ctx = _current.get()
    extra = _extra.get()
    data: dict[str, object] = dict(ctx.data) if ctx is not None else {}
    data.update(extra or {})
    data.pop(DEADLINE_KEY, None)  # an event is handled on its own time, not its dispatcher's
    if ctx is not None:
        data["call_id_stack"] = list(ctx.call_id_stack)
    headers = wire.context_to_headers(data)
    if _tracing.tracer is not None:
        _tracing.tracer.inject(headers)
    return headers

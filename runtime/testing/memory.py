"""Testing without a broker: the in-memory broker, and one handler called alone.

``MemoryBroker`` (from ``rpcgen.runtime._memory``) is reached by ``memory://NAME`` URIs wherever
a URI is taken; the pytest plugin's ``memory_broker`` / ``rpc_uri`` fixtures make one per test.

``worker_factory`` and ``entrypoint`` test one handler the way Nameko's ``worker_factory`` and
``entrypoint_hook`` do, without any broker: build the server with the collaborators of your
choice, then call one method as a request would, through the same request encoding, argument
validation (``IncorrectSignature``), call context, ``Dispatcher`` and reply encoding as a real
call, getting back the decoded result or the declared error::

    from generated.hello import DivisionByZero, HelloServiceServer
    from rpcgen.runtime.testing import entrypoint, worker_factory

    class Hello(HelloServiceServer):
        def __init__(self, greeting: str = "hello") -> None:
            self.greeting = greeting

        def test(self, name: str) -> str:
            return f"{self.greeting}, {name}"

        def compute(self, a: int, b: int) -> int:
            return a + b

        def divide(self, a: int, b: int) -> float:
            if b == 0:
                raise DivisionByZero("no")
            return a / b

    hello = worker_factory(Hello, greeting="hi")
    assert entrypoint(hello.test, context_data={"user": "ann"})("bob") == "hi, bob"
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import textwrap
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from rpcgen.runtime import context
from rpcgen.runtime._amqp import as_received
from rpcgen.runtime._asyncrun import HandlerLoop, any_async
from rpcgen.runtime._codec import wire
from rpcgen.runtime._dispatch import Dispatcher
from rpcgen.runtime._handling import EventEntrypoint, event_entrypoints
from rpcgen.runtime._memory import MemoryBroker
from rpcgen.runtime._transport import Delivery, Properties
from rpcgen.runtime.errors import MalformedRequest, RpcConnectionError, RpcTimeout
from rpcgen.runtime.middleware import Middleware, middleware_of
from rpcgen.runtime.server import Server

__all__ = ["TRANSPORTS", "MemoryBroker", "entrypoint", "worker_factory"]

TRANSPORTS = ("memory", "rabbitmq")
"""The values of the plugin's ``rpc_transport`` fixture: in memory, and a real RabbitMQ vhost."""

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=Server)


def worker_factory(cls: type[S], /, *args: Any, **replace: object) -> S:
    """An instance of the server class ``cls`` with collaborators replaced.

    Keyword arguments that ``cls``'s constructor takes are passed to it (with ``args``); the
    others are set as attributes afterwards, so collaborators that a start hook would make
    (clients on the server's connection) can be given directly. Hooks are not run: there is no
    connection. Raises ``TypeError`` for an attribute the instance does not have.
    """
    accepted = inspect.signature(cls).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    given = {k: v for k, v in replace.items() if takes_any or k in accepted}
    server = cls(*args, **given)
    known = _annotations(cls) | _hook_attributes(cls)
    for name, value in replace.items():
        if name in given:
            continue
        if not hasattr(server, name) and name not in known:
            raise TypeError(
                f"{cls.__name__} has no attribute or parameter {name!r} to replace (nor does a "
                "start hook set it)"
            )
        setattr(server, name, value)
    return server


@overload
def entrypoint(  # an async method: its result, not a coroutine
    handler: Callable[P, Coroutine[Any, Any, R]],
    *,
    context_data: Mapping[str, object] | None = None,
    call_id_stack: Sequence[str] = (),
    timeout: float | None = None,
    middleware: Sequence[Middleware] | None = None,
) -> Callable[P, R]: ...


@overload
def entrypoint(
    handler: Callable[P, R],
    *,
    context_data: Mapping[str, object] | None = None,
    call_id_stack: Sequence[str] = (),
    timeout: float | None = None,
    middleware: Sequence[Middleware] | None = None,
) -> Callable[P, R]: ...


def entrypoint(
    handler: Callable[P, Any],
    *,
    context_data: Mapping[str, object] | None = None,
    call_id_stack: Sequence[str] = (),
    timeout: float | None = None,
    middleware: Sequence[Middleware] | None = None,
) -> Callable[P, Any]:
    """``handler`` (a bound method of a server) callable as one request would reach it.

    The call's arguments are encoded as the generated client encodes them, the server's
    ``Dispatcher`` decodes and validates them, runs the handler with the call context
    (``current_context()``: ``context_data``, the caller's ``call_id_stack`` grown by the
    handler's own call id, a deadline ``timeout`` seconds away) and encodes the reply, which is
    decoded as a client decodes it: the result, or the declared error raised as its class
    (``RemoteError`` for others). Headers that could not travel fail as they would on the wire.
    A request already past its deadline is not run (``RpcTimeout``). ``async def`` handlers run
    on a loop of their own, as in a runner.

    An event handler (``@Event.handler``) is called with its payload the same way: encoded as
    a dispatcher encodes it, decoded and validated as the handler's queue would (a payload
    that would be dead-lettered raises ``MalformedRequest``), run with the event's context; an
    exception of the handler is raised (a runner would log it, then ack or requeue the event).

    ``middleware``: None runs the server class's own ``middleware`` around the handler, as a
    runner does; a list runs exactly those instead (``[]``: none).
    """
    chain = None if middleware is None else middleware_of(None, middleware)
    server = getattr(handler, "__self__", None)
    name = getattr(handler, "__name__", "")
    methods: Mapping[str, Any] = getattr(type(server), "methods", {})
    method = methods.get(name)
    if isinstance(server, Server) and method is None:
        entries = [e for e in event_entrypoints(server, server.service_name) if e.attr == name]
        if entries:
            return _event_call(server, entries[0], context_data, call_id_stack, chain)
    if not isinstance(server, Server) or method is None:
        raise TypeError(f"{handler!r} is not an RPC method or event handler of a Server instance")

    def call(*args: P.args, **kwargs: P.kwargs) -> Any:
        body = method.codec.encode_request(args, kwargs)
        try:
            props = _properties(call_id_stack, context_data, timeout)
        except Exception as exc:  # what cannot be put in a header table
            raise RpcConnectionError(f"this context cannot be sent: {exc!r}") from exc
        delivery = Delivery(1, method.routing_key, props, body)
        dispatcher = Dispatcher(server)
        if chain is not None:
            dispatcher.middleware = chain
        loop = HandlerLoop(f"rpcgen-{server.service_name}-test") if any_async([handler]) else None
        dispatcher.loop = loop
        try:
            reply = dispatcher.reply_for(delivery)
        finally:
            if loop is not None:
                loop.close()
        if reply is None:
            raise RpcTimeout(method.routing_key, timeout or 0.0)
        return method.codec.decode_reply(reply)

    return call


def _event_call(
    server: Server,
    entry: EventEntrypoint,
    context_data: Mapping[str, object] | None,
    call_id_stack: Sequence[str],
    chain: tuple[Middleware, ...] | None,
) -> Callable[..., Any]:
    """An event handler called as one event would reach it (``EventEntrypoint.handle``)."""

    def call(payload: object) -> None:
        raised: list[BaseException] = []
        original = entry.handler

        def handler(value: object) -> object:
            try:
                return original(value)
            except BaseException as exc:
                raised.append(exc)
                raise

        async def async_handler(value: object) -> object:
            try:
                return await original(value)  # type: ignore[misc]
            except BaseException as exc:
                raised.append(exc)
                raise

        body = entry.spec.event.codec.encode(payload)
        try:
            props = _properties(call_id_stack, context_data, None)
        except Exception as exc:
            raise RpcConnectionError(f"this context cannot be sent: {exc!r}") from exc
        props.reply_to = props.correlation_id = None  # an event has neither
        delivery = Delivery(1, entry.spec.event.name, props, body)
        is_async = any_async([original])
        traced = dataclasses.replace(entry, handler=async_handler if is_async else handler)
        loop = HandlerLoop(f"rpcgen-{server.service_name}-test") if is_async else None
        try:
            own = middleware_of(server) if chain is None else chain
            outcome, reason = traced.handle(delivery, loop, own)
        finally:
            if loop is not None:
                loop.close()
        if raised:
            raise raised[0]
        if outcome == "dead":
            raise MalformedRequest(f"the event would be dead-lettered: {reason}")

    return call


def _properties(
    stack: Sequence[str], data: Mapping[str, object] | None, timeout: float | None
) -> Any:
    own = f"test.call.{uuid.uuid4()}"
    headers: dict[str, object] = dict(data or {})
    headers["call_id_stack"] = list(stack) or [own]
    if timeout is not None:
        headers[context.DEADLINE_KEY] = math.ceil((time.time() + timeout) * 1000)
    props = Properties(
        content_type=wire.CONTENT_TYPE,
        content_encoding=wire.CONTENT_ENCODING,
        delivery_mode=wire.PERSISTENT,
        correlation_id=own,
        reply_to="test",
        headers=wire.context_to_headers(headers),
    )
    return as_received(props)


def _hook_attributes(cls: type) -> set[str]:
    """The attributes that ``cls``'s start hooks set on ``self`` (``self.name = ...``)."""
    names: set[str] = set()
    for attr in dir(cls):
        hook = getattr(cls, attr, None)
        if hook is None or getattr(hook, "__rpcgen_hook__", None) != "start":
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(hook)))
        except (OSError, TypeError, SyntaxError):  # no source: any name the code stores
            names.update(getattr(getattr(hook, "__code__", None), "co_names", ()))
            continue
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id == "self"
                    ):
                        names.add(sub.attr)
    return names


def _annotations(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    return names

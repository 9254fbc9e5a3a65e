"""Sync and futures clients: thin shells over the connection core.

``remote`` is the decorator on each sync client method. A generated sync client declares its
methods at class level (``help()``, outlines and go-to-definition find them) as static methods
with no body: the declaration is the signature the caller writes, without ``self``, so that mypy
names the method the caller called (``"add" of "ShopClient"``) in its messages (docs/design.md,
"Generated code", says why this and not a ``self`` method). ``client.add`` is a
``RemoteMethod``: calling it sends the call and waits for the result; ``client.add.call_async``
sends it and returns an ``RpcFuture``.

A client holds no state of its own besides its timeout, so one client (or many clients on one
``Connection``) can be used from any number of threads at once. A call encodes its request in
the caller's thread, which also publishes it; waiting on the ``RpcFuture`` reads the reply in
that same thread when no other thread is reading (``Connection.drive``), and decodes it there.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from rpcgen.runtime import _metrics, _tracing
from rpcgen.runtime._clientbase import BaseClient
from rpcgen.runtime._connect import open_connection
from rpcgen.runtime._transport import DEFAULT_TIMEOUT, Completion, Transport
from rpcgen.runtime.errors import RpcTimeout
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.spec import OMITTED, Event, Method

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_TIMEOUT",
    "Client",
    "RemoteDescriptor",
    "RemoteMethod",
    "RpcFuture",
    "remote",
]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
P = TypeVar("P")
_C = TypeVar("_C", bound="Client")
PS = ParamSpec("PS")
F = TypeVar("F", bound=Callable[..., object])
_D = TypeVar("_D", bound="RemoteDescriptor[Any]")
_Pack = Callable[..., tuple[tuple[object, ...], dict[str, object]]]


class _Decodes(Protocol[R_co]):
    def decode_reply(self, body: bytes) -> R_co: ...


class _Awaited(Protocol[R_co]):
    """What a future waits for: a call's reply (``Method``) or an event's confirm (``Event``)."""

    @property
    def routing_key(self) -> str: ...

    @property
    def codec(self) -> _Decodes[R_co]: ...


class RpcFuture(Generic[R_co]):
    """The pending result of one call, like Nameko's ``call_async`` reply.

    The call's own deadline (its client's timeout) still applies: when it passes, ``result()``
    raises ``RpcTimeout`` however long one waits.
    """

    __slots__ = ("_body", "_connection", "_error", "_finished", "_lock", "_method", "_value")

    def __init__(self, method: _Awaited[R_co], connection: Transport) -> None:
        self._method = method
        self._connection = connection
        self._lock = threading.Lock()
        self._lock.acquire()  # released once, when the outcome is known
        self._finished = False
        self._body = b""
        self._error: BaseException | None = None
        self._value: Any = _UNSET

    def done(self) -> bool:
        """Whether the reply (or the call's failure) has arrived."""
        return self._finished

    def result(self, timeout: float | None = None) -> R_co:
        """The call's result; raises its remote or local error.

        ``timeout`` bounds this wait only (seconds); if it passes first, ``RpcTimeout`` is
        raised and the call stays pending, so ``result()`` may be asked again.
        """
        if not self._finished:
            deadline = None if timeout is None else time.monotonic() + timeout
            # Read the reply in this thread if nobody else is reading: no hand-over to wait for.
            self._connection.drive(self.done, deadline)
            left = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self._lock.acquire(timeout=left):
                raise RpcTimeout(self._method.routing_key, timeout or 0.0)
            self._lock.release()  # let any other waiter through
        if self._error is not None:
            raise self._error
        if self._value is _UNSET:
            try:
                self._value = self._method.codec.decode_reply(self._body)
            except BaseException as exc:
                self._error = exc
                raise
        return cast(R_co, self._value)

    def _resolve(self, body: bytes, error: BaseException | None) -> None:
        """The completion callback (runs under the connection's I/O lock)."""
        self._body = body
        self._error = error
        self._finished = True
        self._lock.release()


_UNSET: Any = object()


class Client(BaseClient[Transport]):
    """Base of generated ``<Name>Client`` classes: thread-safe, shares a ``Connection`` (or a
    ``memory://`` one, see ``open_connection``)."""

    @classmethod
    @contextmanager
    def connect(
        cls: type[_C],
        uri: str | Sequence[str] | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        **options: Unpack[ConnectionOptions],
    ) -> Iterator[_C]:
        """A client on a connection of its own (``options``: see ``Connection``), closed when
        the block ends; ``memory://NAME`` connects to an in-process broker (tests)."""
        connection = open_connection(uri, reply_queue=not cls._dispatch_only, **options)
        try:
            yield cls._owning(connection, timeout)
        finally:
            connection.close()

    def close(self) -> None:
        """Close the connection if this client opened it (``connect``); a shared one stays."""
        if self._owns_connection:
            self._connection.close()

    def _invoke(self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
        return self._invoke_async(method, args, kwargs, will_drive=True).result()

    def _invoke_async(
        self,
        method: Method[R],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        *,
        will_drive: bool = False,
    ) -> RpcFuture[R]:
        body = method.codec.encode_request(args, kwargs)
        future: RpcFuture[R] = RpcFuture(method, self._connection)
        resolve: Completion = future._resolve
        if _metrics.meter is not None:
            resolve = _metrics.meter.calling(method, resolve)
        if _tracing.tracer is not None:
            with _tracing.tracer.send(method, resolve) as on_done:
                self._connection.call(method, body, self._timeout, on_done, will_drive=will_drive)
            return future
        self._connection.call(method, body, self._timeout, resolve, will_drive=will_drive)
        return future

    def _publish(self, event: Event[P], payload: P) -> None:
        """Dispatch one event; returns once the broker has confirmed it (generated ``*Events``)."""
        self._publish_async(event, payload, will_drive=True).result()

    def dispatch_async(self, event: Event[P], payload: P) -> RpcFuture[None]:
        """Dispatch ``event`` without waiting: the future resolves once the broker has
        confirmed it (``result()`` returns None) or fails with the reason it did not.

        ``events.dispatch_async(OrdersEvent.order_created, payload)`` pipelines dispatches from
        one thread while keeping the guarantee of the blocking form, per event, for whoever
        waits on its future. mypy checks ``payload`` against the event's payload type.
        """
        return self._publish_async(event, payload)

    def _publish_async(
        self, event: Event[P], payload: P, *, will_drive: bool = False
    ) -> RpcFuture[None]:
        body = event.codec.encode(payload)
        future: RpcFuture[None] = RpcFuture(event, self._connection)
        if _tracing.tracer is not None:
            with _tracing.tracer.send(event, future._resolve) as on_done:
                self._connection.dispatch(
                    event, body, self._timeout, on_done, will_drive=will_drive
                )
        else:
            self._connection.dispatch(
                event, body, self._timeout, future._resolve, will_drive=will_drive
            )
        return future


def remote(declaration: F) -> RemoteDescriptor[F]:
    """Make a ``self``-less method declaration of a generated sync client a remote call."""
    return RemoteDescriptor(declaration)


class RemoteDescriptor(Generic[F]):
    """The class attribute behind ``client.<method>``; documented as its declaration.

    The method's ``rt.Method`` is looked up on first use in the client class's ``methods``
    (generated modules fill it in after the classes, where the descriptors are defined).
    """

    def __init__(self, declaration: F) -> None:
        # A staticmethod (what generated code declares) in a class body; its function elsewhere.
        declaration = getattr(declaration, "__func__", declaration)
        # What help(), inspect.signature and editors read: the declaration's name, docstring
        # and (through __wrapped__) signature.
        self.__wrapped__ = declaration
        self.__name__: str = declaration.__name__
        self.__qualname__: str = declaration.__qualname__
        self.__doc__ = declaration.__doc__
        self._name = declaration.__name__
        self._pack = _packer(declaration)

    @overload
    def __get__(self: _D, client: None, owner: type[Client]) -> _D: ...

    @overload
    def __get__(self, client: Client, owner: type[Client]) -> RemoteMethod[F]: ...

    def __get__(self: _D, client: Client | None, owner: type[Client]) -> _D | RemoteMethod[F]:
        if client is None:
            return self
        methods: Mapping[str, Method[object]] = getattr(owner, "methods")  # noqa: B009
        bound: RemoteMethod[F] = RemoteMethod(client, methods[self._name], self._pack)
        if hasattr(client, "__dict__"):
            # Cached on the instance (a non-data descriptor yields to it): later lookups are free.
            client.__dict__[self._name] = bound
        return bound

    if not TYPE_CHECKING:  # callable only so that inspect.signature (help, editors) follows

        def __call__(self, *args, **kwargs):  # __wrapped__; type checkers report the mistake
            raise TypeError(f"{self.__qualname__} is a remote method; call it on a client")


class RemoteMethod(Generic[F]):
    """``client.<method>``: call it to send the call and wait, or use ``call_async``.

    To type checkers calling it is calling the declaration ``F``, so their messages name the
    generated client's method.
    """

    __slots__ = ("_client", "_method", "_pack")

    def __init__(self, client: Client, method: Method[object], pack: _Pack) -> None:
        self._client = client
        self._method = method
        self._pack = pack

    def call_async(
        self: RemoteMethod[Callable[PS, R]], *args: PS.args, **kwargs: PS.kwargs
    ) -> RpcFuture[R]:
        """Send the call now; the returned future's ``result()`` waits for the reply."""
        wire_args, wire_kwargs = self._pack(*args, **kwargs)
        future = self._client._invoke_async(self._method, wire_args, wire_kwargs)
        return cast(RpcFuture[R], future)

    def _send(self, *args: object, **kwargs: object) -> object:
        wire_args, wire_kwargs = self._pack(*args, **kwargs)
        return self._client._invoke(self._method, wire_args, wire_kwargs)

    if TYPE_CHECKING:  # calling it is calling the declaration, to type checkers

        @property
        def __call__(self) -> F: ...

    else:  # and a plain method call at run time (a property would cost a call more)
        __call__ = _send

    def __repr__(self) -> str:
        return f"<remote method {self._method.routing_key} of {self._client!r}>"


def _packer(declaration: Callable[..., object]) -> _Pack:
    """A function with the declaration's parameters that returns Nameko's ``(args, kwargs)``.

    Positional-or-keyword parameters travel in ``args``, keyword-only ones in ``kwargs``; a
    parameter the caller left out is ``OMITTED``, which the runtime does not send (so the server
    applies its default, as with Nameko's callers). Python's own argument binding does the work
    (and words the ``TypeError`` of a wrong call), so the function is compiled once per method,
    as ``dataclasses`` compiles ``__init__``; ``inspect.Signature.bind`` costs 30 times more per
    call.
    """
    name = declaration.__name__
    params = list(inspect.signature(declaration).parameters.values())
    defaults = {f"_default_{p.name}": OMITTED for p in params if p.default is not p.empty}
    decls: list[str] = []
    for p in params:
        if p.kind is p.KEYWORD_ONLY and "*" not in decls:
            decls.append("*")
        decls.append(p.name if p.default is p.empty else f"{p.name}=_default_{p.name}")
    args = "".join(f"{p.name}, " for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
    kwargs = ", ".join(f"{p.name!r}: {p.name}" for p in params if p.kind is p.KEYWORD_ONLY)
    source = f"def {name}({', '.join(decls)}):\n    return ({args}), {{{kwargs}}}\n"
    namespace: dict[str, Any] = {}
    exec(source, dict(defaults), namespace)  # names are IDL identifiers, checked by rpcgen build
    return cast(_Pack, namespace[name])

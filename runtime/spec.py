"""Typed descriptors of services and methods, the link between generated code and the runtime.

Generated modules build one ``Method`` per IDL method at import time; clients and servers hand
it to the runtime, which uses it for the routing key, argument and result codecs and the
declared errors. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

if TYPE_CHECKING:
    from rpcgen.runtime._codec.codec import EventCodec, MethodCodec
    from rpcgen.runtime.errors import ServiceError

__all__ = ["OMITTED", "Event", "EventHandler", "HandlerType", "Method", "Param"]

R = TypeVar("R", covariant=True)
P = TypeVar("P")
_S = TypeVar("_S")
_T = TypeVar("_T")
HandlerType = Literal["service_pool", "singleton", "broadcast"]


class _Omitted:
    """The type of ``OMITTED``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<omitted>"

    def __reduce__(self) -> str:
        return "OMITTED"


OMITTED: Any = _Omitted()
"""What a generated client passes for a parameter the caller left out: the request is sent
without it (``MethodCodec.encode_request`` drops it), as Nameko's callers send only what the
caller gave, so the server applies its own default, and a server that predates the parameter
still accepts the call. Typed as ``Any`` so that it stands in for a parameter of any type."""


@dataclass(frozen=True, slots=True)
class Param:
    """One IDL parameter: its name, its type expression, and how it is passed."""

    name: str
    type: object
    keyword_only: bool = False
    has_default: bool = False


class Method(Generic[R]):
    """One RPC method of one service; ``R`` is its declared result type."""

    __slots__ = ("_codec", "errors", "name", "params", "result", "routing_key", "service")

    def __init__(
        self,
        service: str,
        name: str,
        params: Sequence[Param],
        result: object,
        errors: Sequence[type[ServiceError]] = (),
    ) -> None:
        self.service = service
        self.name = name
        self.params = tuple(params)
        self.result = result
        self.errors = tuple(errors)
        self.routing_key = f"{service}.{name}"
        self._codec: MethodCodec[R] | None = None

    def __repr__(self) -> str:
        return f"Method({self.routing_key!r})"

    @property
    def codec(self) -> MethodCodec[R]:
        """The compiled argument/result codec, built on first use (see ``codec.MethodCodec``).

        Built lazily so that importing a generated module costs nothing per method; an
        unsupported parameter or result type raises ``TypeError`` here.
        """
        codec = self._codec
        if codec is None:
            from rpcgen.runtime._codec.codec import MethodCodec

            codec = self._codec = MethodCodec(self)
        return codec


class Event(Generic[P]):
    """One event a service dispatches: its source service, its type (name) and payload type."""

    __slots__ = ("_codec", "exchange", "label", "name", "payload", "service")

    def __init__(self, service: str, name: str, payload: object) -> None:
        self.service = service
        self.name = name
        self.payload = payload
        self.exchange = f"{service}.events"
        self.label = f"{service}.{name}"
        self._codec: EventCodec[P] | None = None

    def __repr__(self) -> str:
        return f"Event({self.label!r})"

    @property
    def routing_key(self) -> str:
        return self.name

    @property
    def codec(self) -> EventCodec[P]:
        """The payload codec, built on first use (see ``codec.EventCodec``)."""
        codec = self._codec
        if codec is None:
            from rpcgen.runtime._codec.codec import EventCodec

            codec = self._codec = EventCodec(self)
        return codec

    def handler(
        self,
        handler_type: HandlerType = "service_pool",
        *,
        reliable_delivery: bool = True,
        requeue_on_error: bool = False,
        broadcast_identifier: str | Callable[[Any], str] | None = None,
        prefetch: int | None = None,
    ) -> Callable[[Callable[[_S, P], _T]], Callable[[_S, P], _T]]:
        """Register the decorated method of a server class as a handler of this event.

        mypy checks the method's payload parameter against the event's payload type. The
        options are Nameko's ``@event_handler`` options, with its queue names and flags
        (``docs/wire.md`` §7.3): a ``broadcast`` handler with the default (random) identifier
        cannot be reliable, as in Nameko. ``broadcast_identifier`` is a string, or a function
        of the server instance that returns one when the runner starts (Nameko's overridable
        property): e.g. ``lambda server: server.host_id``, stable per instance, so that with
        ``reliable_delivery=True`` a restarted instance gets the broadcasts it missed.
        """
        if handler_type not in get_args(HandlerType):
            raise ValueError(f"unknown handler_type {handler_type!r}")
        if handler_type == "broadcast" and broadcast_identifier is None and reliable_delivery:
            raise ValueError(
                "a broadcast handler with the default identifier cannot be reliable: pass"
                " reliable_delivery=False, or a broadcast_identifier that is stable per instance"
            )
        options = EventHandler(
            self, handler_type, reliable_delivery, requeue_on_error, broadcast_identifier, prefetch
        )

        def register(method: Callable[[_S, P], _T]) -> Callable[[_S, P], _T]:
            method.__rpcgen_event_handler__ = options  # type: ignore[attr-defined]
            return method

        return register


@dataclass(frozen=True)
class EventHandler:
    """How one server method handles one event (set by ``Event.handler``)."""

    event: Event[Any]
    handler_type: HandlerType
    reliable_delivery: bool
    requeue_on_error: bool
    broadcast_identifier: str | Callable[[Any], str] | None
    prefetch: int | None

"""Typed descriptors of services and methods, the link between generated code and the runtime.

Generated modules build one ``Method`` per IDL method at import time; clients and servers hand
it to the runtime, which uses it for the routing key, argument and result codecs and the
declared errors. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from rpcgen.runtime._codec.codec import MethodCodec
    from rpcgen.runtime.errors import ServiceError

__all__ = ["Method", "Param"]

R = TypeVar("R", covariant=True)


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


AnyMethod = Method[object]
MethodTable = Mapping[str, AnyMethod]

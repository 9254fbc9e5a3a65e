"""The contract of the Nameko services in ../nameko_side/greeter.py, as rpcgen IDL.

The interop tests build this folder with ``rpcgen build`` at test time (it is not part of
``idl/``): a typed rpcgen client calls the real Nameko ``greeter``, and an rpcgen server that
implements it must look exactly like Nameko's to Nameko callers.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Protocol, TypedDict
from uuid import UUID

from rpcgen import raises, service


class InsufficientFunds(Exception):
    """The balance does not cover the amount (registered with Nameko's deserialize_to_instance)."""


class Samples(TypedDict):
    """One value of every supported type (nameko_side/greeter.py SAMPLES)."""

    text: str
    count: int
    big: int
    ratio: float
    flag: bool
    nothing: None
    items: list[int | str | list[float]]
    nested: dict[str, dict[str, list[bool | None]]]
    when: datetime
    naive_when: datetime
    day: date
    clock: time
    amount: Decimal
    ident: UUID
    utf8_bytes: bytes
    binary: bytes


class Inspected(TypedDict):
    """``repr`` of each argument as the Nameko service received it."""

    args: list[str]
    kwargs: dict[str, str]


class ContextEcho(TypedDict):
    """A worker's context data (without the stack), its call-id stack and its own call id."""

    context_data: dict[str, str | int]
    call_id_stack: list[str]
    call_id: str


@service("greeter")
class Greeter(Protocol):
    """Nameko's greeter: every type, both kinds of error, context data and a hop."""

    def hello(self, name: str, greeting: str = "hello") -> str: ...

    def compute(self, a: int, b: int) -> int: ...

    def echo(self, value: Samples) -> Samples:
        """Returns what arrived: every type makes a round trip through kombu."""
        ...

    def inspect(self, value: Samples) -> Inspected: ...

    def samples(self) -> Samples: ...

    @raises(InsufficientFunds)
    def withdraw(self, balance: int, amount: int) -> int: ...

    def fail_unregistered(self, message: str) -> None:
        """Raises an error the IDL does not declare: the caller gets RemoteError."""
        ...

    def fail_builtin(self) -> None: ...

    def unserializable(self) -> list[int]:
        """Nameko returns a set, which kombu cannot encode: UnserializableValueError."""
        ...

    def context(self) -> ContextEcho: ...

    def hop(self, method: str) -> ContextEcho:
        """Calls ``relay.<method>()`` (or $GREETER_HOP_TARGET's) from inside a worker."""
        ...

    def strict(self, a: int, b: int) -> int:
        """Nameko's ``strict`` takes one argument: this call gets IncorrectSignature."""
        ...

    def missing(self) -> None:
        """Not a method of the Nameko service: MethodNotFound."""
        ...

    def sleep(self, seconds: float) -> float: ...


@service("relay")
class Relay(Protocol):
    """The default hop target."""

    def context(self) -> ContextEcho: ...

    def hello(self, name: str, greeting: str = "hello") -> str: ...


@service("ghost")
class Ghost(Protocol):
    """No such service runs: calls fail with UnknownService."""

    def hello(self) -> str: ...

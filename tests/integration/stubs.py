"""Hand-written stand-in for generated code, in the shape the generator emits (docs/design.md).

The integration tests of the runtime use these typed stubs so that they do not depend on the
generator; the services are tiny and exist only for the tests.
"""

# mypy: disable-error-code="empty-body"
from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

import rpcgen.runtime as rt

__all__ = [
    "GhostClient",
    "InsufficientFunds",
    "ItestAsyncClient",
    "ItestClient",
    "ItestServer",
    "RelayClient",
    "RelayServer",
    "StaleItestClient",
]


class InsufficientFunds(rt.ServiceError):
    """Declared error of ``itest.withdraw``."""


_hello: rt.Method[str] = rt.Method("itest", "hello", params=(rt.Param("name", str),), result=str)
_compute: rt.Method[int] = rt.Method(
    "itest",
    "compute",
    params=(rt.Param("a", int), rt.Param("b", int, keyword_only=True, has_default=True)),
    result=int,
)
_withdraw: rt.Method[int] = rt.Method(
    "itest", "withdraw", params=(rt.Param("amount", int),), result=int, errors=(InsufficientFunds,)
)
_fail: rt.Method[None] = rt.Method("itest", "fail", params=(rt.Param("message", str),), result=None)
_sleep: rt.Method[float] = rt.Method(
    "itest", "sleep", params=(rt.Param("seconds", float),), result=float
)
_context: rt.Method[dict[str, str]] = rt.Method(
    "itest", "context", params=(), result=dict[str, str]
)
_relay: rt.Method[dict[str, str]] = rt.Method("relay", "relay", params=(), result=dict[str, str])


_nope: rt.Method[None] = rt.Method("itest", "nope", params=(), result=None)
_stale_hello: rt.Method[str] = rt.Method(
    "itest", "hello", params=(rt.Param("name", int),), result=str
)
_ghost_wait: rt.Method[None] = rt.Method("ghost", "wait", params=(), result=None)
_ghost_haunt: rt.Method[None] = rt.Method("ghost", "haunt", params=(), result=None)


class ItestClient(rt.Client):
    service_name: ClassVar[str] = "itest"
    methods: ClassVar[Mapping[str, rt.Method[object]]]  # filled in after ItestServer

    @rt.remote
    @staticmethod
    def hello(name: str) -> str: ...

    @rt.remote
    @staticmethod
    def compute(a: int, *, b: int = 1) -> int: ...

    @rt.remote
    @staticmethod
    def withdraw(amount: int) -> int: ...

    @rt.remote
    @staticmethod
    def fail(message: str) -> None: ...

    @rt.remote
    @staticmethod
    def sleep(seconds: float) -> float: ...

    @rt.remote
    @staticmethod
    def context() -> dict[str, str]: ...


class StaleItestClient(rt.Client):
    """``itest`` as an out-of-date IDL has it: a method the server lacks, ``hello(int)``."""

    service_name: ClassVar[str] = "itest"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {"nope": _nope, "hello": _stale_hello}

    @rt.remote
    @staticmethod
    def nope() -> None: ...

    @rt.remote
    @staticmethod
    def hello(name: int) -> str: ...


class GhostClient(rt.Client):
    """A client of ``ghost``, a service nobody serves."""

    service_name: ClassVar[str] = "ghost"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {
        "wait": _ghost_wait,
        "haunt": _ghost_haunt,
    }

    @rt.remote
    @staticmethod
    def wait() -> None: ...

    @rt.remote
    @staticmethod
    def haunt() -> None: ...


class ItestAsyncClient(rt.AsyncClient):
    service_name: ClassVar[str] = "itest"

    async def hello(self, name: str) -> str:
        return await self._call(_hello, (name,), {})

    async def compute(self, a: int, *, b: int = 1) -> int:
        return await self._call(_compute, (a,), {"b": b})

    async def sleep(self, seconds: float) -> float:
        return await self._call(_sleep, (seconds,), {})


class ItestServer(rt.Server):
    service_name: ClassVar[str] = "itest"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {
        "hello": _hello,
        "compute": _compute,
        "withdraw": _withdraw,
        "fail": _fail,
        "sleep": _sleep,
        "context": _context,
    }

    @abc.abstractmethod
    def hello(self, name: str) -> str: ...

    @abc.abstractmethod
    def compute(self, a: int, *, b: int = 1) -> int: ...

    @abc.abstractmethod
    def withdraw(self, amount: int) -> int: ...

    @abc.abstractmethod
    def fail(self, message: str) -> None: ...

    @abc.abstractmethod
    def sleep(self, seconds: float) -> float: ...

    @abc.abstractmethod
    def context(self) -> dict[str, str]: ...


class RelayClient(rt.Client):
    service_name: ClassVar[str] = "relay"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {"relay": _relay}

    @rt.remote
    @staticmethod
    def relay() -> dict[str, str]: ...


class RelayServer(rt.Server):
    service_name: ClassVar[str] = "relay"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {"relay": _relay}

    @abc.abstractmethod
    def relay(self) -> dict[str, str]: ...


ItestClient.methods = ItestServer.methods

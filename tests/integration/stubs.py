"""Hand-written stand-in for generated code, in the shape docs/design.md gives it.

The integration tests of the runtime use these typed stubs so that they do not depend on the
generator; the services are tiny and exist only for the tests.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar, Final

import rpcgen.runtime as rt

__all__ = [
    "InsufficientFunds",
    "ItestAsyncClient",
    "ItestClient",
    "ItestServer",
    "RelayClient",
    "RelayServer",
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


class _Hello(rt.BoundMethod[str]):
    def __call__(self, name: str) -> str:
        return self._call((name,), {})

    def call_async(self, name: str) -> rt.RpcFuture[str]:
        return self._call_async((name,), {})


class _Compute(rt.BoundMethod[int]):
    def __call__(self, a: int, *, b: int = 1) -> int:
        return self._call((a,), {"b": b})

    def call_async(self, a: int, *, b: int = 1) -> rt.RpcFuture[int]:
        return self._call_async((a,), {"b": b})


class _Withdraw(rt.BoundMethod[int]):
    def __call__(self, amount: int) -> int:
        return self._call((amount,), {})

    def call_async(self, amount: int) -> rt.RpcFuture[int]:
        return self._call_async((amount,), {})


class _Fail(rt.BoundMethod[None]):
    def __call__(self, message: str) -> None:
        return self._call((message,), {})

    def call_async(self, message: str) -> rt.RpcFuture[None]:
        return self._call_async((message,), {})


class _Sleep(rt.BoundMethod[float]):
    def __call__(self, seconds: float) -> float:
        return self._call((seconds,), {})

    def call_async(self, seconds: float) -> rt.RpcFuture[float]:
        return self._call_async((seconds,), {})


class _Context(rt.BoundMethod[dict[str, str]]):
    def __call__(self) -> dict[str, str]:
        return self._call((), {})

    def call_async(self) -> rt.RpcFuture[dict[str, str]]:
        return self._call_async((), {})


class ItestClient(rt.Client):
    service_name: ClassVar[str] = "itest"

    def __init__(self, connection: rt.Connection, *, timeout: float | None = rt.DEFAULT_TIMEOUT):
        super().__init__(connection, timeout=timeout)
        self.hello: Final = _Hello(self, _hello)
        self.compute: Final = _Compute(self, _compute)
        self.withdraw: Final = _Withdraw(self, _withdraw)
        self.fail: Final = _Fail(self, _fail)
        self.sleep: Final = _Sleep(self, _sleep)
        self.context: Final = _Context(self, _context)


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


class _Relay(rt.BoundMethod[dict[str, str]]):
    def __call__(self) -> dict[str, str]:
        return self._call((), {})


class RelayClient(rt.Client):
    service_name: ClassVar[str] = "relay"

    def __init__(self, connection: rt.Connection, *, timeout: float | None = rt.DEFAULT_TIMEOUT):
        super().__init__(connection, timeout=timeout)
        self.relay: Final = _Relay(self, _relay)


class RelayServer(rt.Server):
    service_name: ClassVar[str] = "relay"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {"relay": _relay}

    @abc.abstractmethod
    def relay(self) -> dict[str, str]: ...

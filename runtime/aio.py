"""Asyncio client shell. STUB: signatures are the contract with generated code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar, TypeVar

from rpcgen.runtime.spec import Method

__all__ = ["AsyncClient"]

R = TypeVar("R")
_A = TypeVar("_A", bound="AsyncClient")


class AsyncConnection:
    """Placeholder."""


class AsyncClient:
    """Base of generated ``<Name>AsyncClient`` classes."""

    service_name: ClassVar[str]

    def __init__(self, connection: AsyncConnection, *, timeout: float | None = 30.0) -> None:
        self._connection = connection
        self._timeout = timeout

    @classmethod
    @asynccontextmanager
    async def connect(
        cls: type[_A], uri: str | Sequence[str] | None = None, *, timeout: float | None = 30.0
    ) -> AsyncIterator[_A]:
        raise NotImplementedError
        yield

    def with_timeout(self: _A, timeout: float | None) -> _A:
        return type(self)(self._connection, timeout=timeout)

    async def _call(self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
        raise NotImplementedError

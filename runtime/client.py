"""Sync and futures client shells. STUB: signatures are the contract with generated code."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import ClassVar, Generic, TypeVar

from rpcgen.runtime.spec import Method

__all__ = ["BoundMethod", "Client", "RpcFuture"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
_C = TypeVar("_C", bound="Client")

DEFAULT_TIMEOUT = 30.0


class RpcFuture(Generic[R_co]):
    """The pending result of one call, like Nameko's ``call_async`` reply."""

    def result(self, timeout: float | None = None) -> R_co:
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError


class Connection:
    """Placeholder; the real one lives in ``rpcgen.runtime.connection``."""


class Client:
    """Base of generated ``<Name>Client`` classes: thread-safe, shares a ``Connection``."""

    service_name: ClassVar[str]

    def __init__(self, connection: Connection, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._connection = connection
        self._timeout = timeout

    @classmethod
    @contextmanager
    def connect(
        cls: type[_C],
        uri: str | Sequence[str] | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Iterator[_C]:
        raise NotImplementedError
        yield

    def with_timeout(self: _C, timeout: float | None) -> _C:
        """A client on the same connection whose calls use ``timeout`` (seconds, None = wait)."""
        return type(self)(self._connection, timeout=timeout)

    def _invoke(self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
        raise NotImplementedError

    def _invoke_async(
        self, method: Method[R], args: tuple[object, ...], kwargs: dict[str, object]
    ) -> RpcFuture[R]:
        raise NotImplementedError


class BoundMethod(Generic[R]):
    """Base of the generated per-method callables: ``client.compute(1, 2)`` and ``.call_async``."""

    __slots__ = ("_client", "_method")

    def __init__(self, client: Client, method: Method[R]) -> None:
        self._client = client
        self._method = method

    def _call(self, args: tuple[object, ...], kwargs: dict[str, object]) -> R:
        return self._client._invoke(self._method, args, kwargs)

    def _call_async(self, args: tuple[object, ...], kwargs: dict[str, object]) -> RpcFuture[R]:
        return self._client._invoke_async(self._method, args, kwargs)

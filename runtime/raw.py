"""Calls without generated code: any service's methods by name, the result as JSON data.

``RawClient`` is what ``rpcgen call`` uses. ``call`` sends JSON arguments to a method known only
by name (any Nameko service, no IDL) and returns the reply's result as it arrived, kombu markers
included; remote errors are raised as by a typed client (``RemoteError``, ``MethodNotFound``...).
``call_method`` sends the typed arguments of an IDL method (a ``Method``) exactly as its generated
client would, re-raises its declared errors, checks the result against the declared type
(``ResultTypeError``) and returns it as JSON data too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rpcgen.runtime._codec.codec import MethodCodec
from rpcgen.runtime.client import Client, RpcFuture
from rpcgen.runtime.errors import ServiceError
from rpcgen.runtime.spec import Method

__all__ = ["RawClient", "RawMethod"]


class RawMethod(Method[object]):
    """A method known by name: its replies' results are returned as JSON data, undecoded.

    ``check``, when given, is the IDL's ``Method``: the result is validated against its
    declared type first (``ResultTypeError``), and its declared errors are re-raised.
    """

    __slots__ = ("_json",)

    def __init__(self, service: str, name: str, *, check: Method[Any] | None = None) -> None:
        errors: Sequence[type[ServiceError]] = () if check is None else check.errors
        super().__init__(service, name, (), None, errors)
        self._json = _JsonResult(self, check)

    @property
    def codec(self) -> MethodCodec[object]:
        return self._json


class _JsonResult(MethodCodec[object]):
    """Encodes requests as any ``MethodCodec`` does; a reply's result stays JSON data."""

    __slots__ = ("_check",)

    def __init__(self, method: RawMethod, check: Method[Any] | None) -> None:
        super().__init__(method)  # no parameters, result None: nothing of them is used
        self._check = check

    def encode_request(self, args: tuple[object, ...], kwargs: dict[str, object]) -> bytes:
        # As the IDL method's own codec sends it (parameters left out are not sent).
        if self._check is not None:
            return self._check.codec.encode_request(args, kwargs)
        return super().encode_request(args, kwargs)

    def decode_args(
        self, args: list[object], kwargs: dict[str, object]
    ) -> tuple[list[object], dict[str, object]]:
        if self._check is None:
            return list(args), dict(kwargs)
        return self._check.codec.decode_args(args, kwargs)

    def decode_result(self, raw: object) -> object:
        if self._check is not None:
            self._check.codec.decode_result(raw)  # raises ResultTypeError
        return raw


class RawClient(Client):
    """A client for any service: ``RawClient.connect(uri)`` or ``RawClient(connection)``.

    Thread-safe, with a timeout, ``with_timeout`` and ``context_data`` like every client.
    """

    service_name: ClassVar[str] = ""

    def call(
        self,
        service: str,
        method: str,
        args: Sequence[object] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        """``service.method(*args, **kwargs)``; the result as JSON data (kombu markers kept)."""
        return self.call_async(service, method, args, kwargs).result()

    def call_async(
        self,
        service: str,
        method: str,
        args: Sequence[object] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> RpcFuture[object]:
        """The future form of ``call``."""
        return self._invoke_async(RawMethod(service, method), tuple(args), dict(kwargs or {}))

    def call_method(
        self,
        method: Method[Any],
        args: Sequence[object] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        """An IDL method called with typed values (sent as its generated client sends them).

        Declared errors are re-raised as their classes, the result is checked against the
        declared type and returned as JSON data, as it arrived.
        """
        raw = RawMethod(method.service, method.name, check=method)
        return self._invoke(raw, tuple(args), dict(kwargs or {}))

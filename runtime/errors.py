"""Every error rpcgen raises, and their Nameko wire form (``docs/wire.md`` §5).

The tree::

    RpcError                      root of everything rpcgen raises
     ├── ServiceError             base of the generated classes for errors declared with @raises
     ├── RemoteError              any other remote exception (.exc_type, .exc_path, .value)
     ├── BadRequest               the server refused the request          (nameko.exceptions.*)
     │    ├── MethodNotFound          no such method on the service
     │    ├── IncorrectSignature      arguments do not fit the method's parameters or types
     │    └── MalformedRequest        the body is not a request (bad UTF-8/JSON, missing keys)
     ├── UnserializableValueError the server could not encode a result   (nameko.exceptions.*)
     ├── MalformedReply           client: a reply that cannot be read
     │    └── ResultTypeError         client: the result does not match the declared type
     ├── RetryableError           client: no answer, for a reason that may pass
     │    ├── UnknownService          no queue is bound for the service (mandatory publish)
     │    ├── RpcTimeout              no reply within the call's time limit (a TimeoutError)
     │    └── RpcConnectionError      the broker connection was lost (a ConnectionError)
     │         └── ReplyQueueExpired      the reply queue expired while calls were pending
     └── PayloadTooLarge          a request or reply over the configured size limit

``RpcTimeout`` is also Python's ``TimeoutError`` and ``RpcConnectionError`` its
``ConnectionError``, so code that catches the builtins catches them too.

On the wire an error is ``{"exc_type", "exc_path", "exc_args", "value"}``. rpcgen's protocol errors
travel under Nameko's paths (``nameko.exceptions.MethodNotFound``...) so that Nameko clients rebuild
them; a generated error travels under its class's ``exc_path`` (set in the IDL, by default
``<idl module>.<Class>``), which a Nameko caller registers to rebuild it. A client maps replies
back to the classes above, declared errors by ``exc_path`` or ``exc_type`` among the method's
declared classes, and anything else to ``RemoteError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BadRequest",
    "IncorrectSignature",
    "MalformedReply",
    "MalformedRequest",
    "MethodNotFound",
    "PayloadTooLarge",
    "RemoteError",
    "ReplyQueueExpired",
    "ResultTypeError",
    "RetryableError",
    "RpcConnectionError",
    "RpcError",
    "RpcTimeout",
    "ServiceError",
    "UnknownService",
    "UnserializableValueError",
    "deserialize_error",
    "safe_for_serialization",
    "serialize_exception",
]


class RpcError(Exception):
    """Root of every error rpcgen raises."""


class ServiceError(RpcError):
    """Base of the generated classes for errors declared in the IDL with ``@raises``."""


class RemoteError(RpcError):
    """A remote exception that is neither declared nor a protocol error.

    ``str()`` is ``"<exc_type> <value>"``, as Nameko's ``RemoteError``.
    """

    def __init__(
        self,
        exc_type: str,
        value: str,
        *,
        exc_path: str = "",
        exc_args: Sequence[object] = (),
    ) -> None:
        super().__init__(f"{exc_type} {value}")
        self.exc_type = exc_type
        self.exc_path = exc_path
        self.exc_args = list(exc_args)
        self.value = value

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_remote, (self.exc_type, self.value, self.exc_path, self.exc_args))


def _rebuild_remote(
    exc_type: str, value: str, exc_path: str, exc_args: list[object]
) -> RemoteError:
    return RemoteError(exc_type, value, exc_path=exc_path, exc_args=exc_args)


class BadRequest(RpcError):
    """The server refused the request before running the method."""


class MethodNotFound(BadRequest):
    """The service has no such method; the argument is the method name."""


class IncorrectSignature(BadRequest):
    """The arguments do not bind to the method's parameters, or a value has the wrong type."""


class MalformedRequest(BadRequest):
    """The request body could not be read as ``{"args": [...], "kwargs": {...}}``."""


class UnserializableValueError(RpcError):
    """A method returned a value that cannot be encoded; sent with ``exc_args []`` as Nameko."""

    def __init__(self, value: object) -> None:
        super().__init__()
        try:
            self.repr_value = repr(value)
        except Exception:
            self.repr_value = "[__repr__ failed]"

    def __str__(self) -> str:
        return f"Unserializable value: `{self.repr_value}`"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unserializable, (self.repr_value,))


def _rebuild_unserializable(repr_value: str) -> UnserializableValueError:
    error = UnserializableValueError(None)
    error.repr_value = repr_value
    return error


class MalformedReply(RpcError):
    """A reply arrived but could not be read (bad JSON, not an object, no result)."""


class ResultTypeError(MalformedReply):
    """The reply's result does not match the method's declared result type."""


class RetryableError(RpcError):
    """The call got no answer for a reason that may pass, so trying again may succeed.

    The call may still have run (its reply was lost, or came too late): retry only what is
    safe to run twice.
    """


class UnknownService(RetryableError):
    """No queue is bound for the service: the mandatory request was returned by the broker."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service

    def __str__(self) -> str:
        return f"Unknown service `{self.service}`"


class RpcTimeout(RetryableError, TimeoutError):
    """No reply arrived within the time allowed, measured from the call."""

    def __init__(self, routing_key: str, timeout: float, detail: str = "") -> None:
        more = f"; {detail}" if detail else ""
        super().__init__(f"{routing_key}: no reply within {timeout:g} s{more}")
        self.routing_key = routing_key
        self.timeout = timeout
        self.detail = detail
        """Why, when the client knows: e.g. ``not connected to the broker since 12:03:07
        (reconnecting to amqp://...)``."""

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.routing_key, self.timeout, self.detail))


class RpcConnectionError(RetryableError, ConnectionError):
    """The connection to the broker was lost, so the reply to this call cannot arrive."""


class ReplyQueueExpired(RpcConnectionError):
    """The reply queue expired while calls were pending; their replies are lost."""


class PayloadTooLarge(RpcError):
    """A request or reply body is over the configured size limit."""

    size: int | None = None  # also set on instances rebuilt without __init__
    limit: int | None = None

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit

    @classmethod
    def exceeded(cls, what: str, size: int, limit: int) -> PayloadTooLarge:
        """E.g. ``exceeded("request to hello.compute", 2_000_000, 1_048_576)``."""
        return cls(
            f"{what} is {size} bytes, over the limit of {limit} bytes", size=size, limit=limit
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_too_large, (str(self), self.size, self.limit))


def _rebuild_too_large(message: str, size: int | None, limit: int | None) -> PayloadTooLarge:
    return PayloadTooLarge(message, size=size, limit=limit)


# rpcgen classes that travel under Nameko's exc_path, so a Nameko client treats them as its own.
_NAMEKO = "nameko.exceptions."
_WIRE_PATHS: dict[type[BaseException], str] = {
    cls: _NAMEKO + cls.__name__
    for cls in (
        BadRequest,
        MethodNotFound,
        IncorrectSignature,
        MalformedRequest,
        UnserializableValueError,
        RemoteError,
        UnknownService,
        RpcTimeout,
    )
}
# What a client rebuilds by exc_path: Nameko's registered ones, plus rpcgen's size limit.
_REBUILT: dict[str, type[RpcError]] = {
    _NAMEKO + "BadRequest": BadRequest,
    _NAMEKO + "MethodNotFound": MethodNotFound,
    _NAMEKO + "IncorrectSignature": IncorrectSignature,
    _NAMEKO + "MalformedRequest": MalformedRequest,
    f"{PayloadTooLarge.__module__}.PayloadTooLarge": PayloadTooLarge,
}

# Deeper than this, values are stringified instead of walked; it also stops self-containing lists.
_MAX_DEPTH = 64


def safe_for_serialization(value: object) -> object:
    """A JSON-safe copy of ``value`` by Nameko's rules (§5.2).

    Strings are kept, dicts have keys and values made safe, other iterables (bytes included)
    become lists of safe items, and anything else becomes ``str(value)`` (``"[__unicode__
    failed]"`` if that raises). Unlike Nameko this never raises: an iterable that fails to iterate,
    a key that becomes a list, or nesting deeper than 64 falls back to ``str()``.
    """
    return _safe(value, 0)


def _safe(value: object, depth: int) -> object:
    if isinstance(value, str):
        return value
    if depth < _MAX_DEPTH:
        try:
            if isinstance(value, dict):
                return {_safe_key(k, depth + 1): _safe(v, depth + 1) for k, v in value.items()}
            if isinstance(value, Iterable):
                return [_safe(item, depth + 1) for item in value]
        except Exception:  # a broken __iter__ or items(): describe the value instead
            pass
    return _text(value)


def _safe_key(key: object, depth: int) -> str:
    safe = _safe(key, depth)
    # Nameko would fail here on an unhashable key; JSON keys are strings anyway.
    return safe if isinstance(safe, str) else _text(key)


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return "[__unicode__ failed]"


def serialize_exception(exc: BaseException) -> dict[str, object]:
    """The wire form of ``exc`` (§5.1): ``exc_type``, ``exc_path``, ``exc_args``, ``value``.

    ``exc_type`` is the class name. ``exc_path`` is, for a ``ServiceError`` subclass that
    defines its own ``exc_path`` (as every generated one does), that; for rpcgen's protocol errors,
    Nameko's paths, so that Nameko clients rebuild them; else ``module.Name``.
    """
    cls = type(exc)
    exc_path = _WIRE_PATHS.get(cls) or _own_exc_path(cls) or f"{cls.__module__}.{cls.__name__}"
    try:
        exc_args = [safe_for_serialization(arg) for arg in exc.args]
    except Exception:  # a custom .args that is not iterable
        exc_args = []
    return {
        "exc_type": cls.__name__,
        "exc_path": exc_path,
        "exc_args": exc_args,
        "value": safe_for_serialization(exc),
    }


def _own_exc_path(cls: type[BaseException]) -> str | None:
    """A ServiceError class's own ``exc_path``; a subclass does not inherit its base's, since a
    path names one class (a Nameko caller would rebuild the base)."""
    if not issubclass(cls, ServiceError):
        return None
    path = vars(cls).get("exc_path")
    return path if isinstance(path, str) and path else None


def deserialize_error(
    data: Mapping[str, object], declared: Sequence[type[ServiceError]] = ()
) -> RpcError:
    """The exception a client raises for a reply's ``error`` object; never raises itself.

    Nameko's protocol errors (and rpcgen's ``PayloadTooLarge``) are rebuilt by ``exc_path``; a
    declared error is the one of ``declared`` whose own ``exc_path`` is the reply's, else the
    first whose name is its ``exc_type`` (built with the stringified ``exc_args``, as Nameko
    rebuilds its registered classes); anything else, malformed data included, is a
    ``RemoteError``.
    """
    if not isinstance(data, Mapping):
        return RemoteError("MalformedError", _text(data))
    exc_type = _field(data, "exc_type")
    exc_path = _field(data, "exc_path")
    raw_args = data.get("exc_args")
    exc_args = list(raw_args) if isinstance(raw_args, (list, tuple)) else []
    value = data.get("value")
    remote = RemoteError(
        exc_type,
        value if isinstance(value, str) else _text(value),
        exc_path=exc_path,
        exc_args=exc_args,
    )
    rebuilt = _REBUILT.get(exc_path)
    if rebuilt is not None:
        return _instantiate(rebuilt, exc_args, remote)
    by_path = (c for c in declared if exc_path and _own_exc_path(c) == exc_path)
    by_type = (c for c in declared if c.__name__ == exc_type)
    match = next(by_path, None) or next(by_type, None)
    return remote if match is None else _instantiate(match, exc_args, remote)


def _field(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ("" if value is None else _text(value))


def _instantiate(cls: type[RpcError], args: list[object], remote: RemoteError) -> RpcError:
    """``cls(*args)``; if its constructor rejects them, an instance made without ``__init__``."""
    try:
        return cls(*args)
    except Exception:
        pass
    try:
        return cls.__new__(cls, *args)  # BaseException.__new__ sets .args
    except Exception:
        return remote

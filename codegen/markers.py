"""The decorators IDL authors use: ``@service("wire_name")``, ``@raises(ErrorA, ...)``,
``@exc_path("module.ErrorName")`` and ``@event("event_type")``.

They only record metadata on the decorated object; ``rpcgen.codegen.load`` reads it back (and
validates it, so that every problem of a module is reported in one run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "EVENT_ATTR",
    "EXC_PATH_ATTR",
    "RAISES_ATTR",
    "SERVICE_ATTR",
    "event",
    "exc_path",
    "raises",
    "service",
]

SERVICE_ATTR = "__rpcgen_service__"
RAISES_ATTR = "__rpcgen_raises__"
EXC_PATH_ATTR = "__rpcgen_exc_path__"
EVENT_ATTR = "__rpcgen_event__"

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., object])
_E = TypeVar("_E", bound=type[Exception])


def service(name: str) -> Callable[[_T], _T]:
    """Mark a ``typing.Protocol`` class as the contract of the Nameko service ``name``."""

    def mark(cls: _T) -> _T:
        setattr(cls, SERVICE_ATTR, name)
        return cls

    return mark


def raises(*errors: type[Exception]) -> Callable[[_F], _F]:
    """Declare the errors an IDL method may raise; clients re-raise them as generated classes."""

    def mark(func: _F) -> _F:
        setattr(func, RAISES_ATTR, tuple(errors))
        return func

    return mark


def exc_path(path: str) -> Callable[[_E], _E]:
    """Set the ``exc_path`` an IDL error class travels under (default ``<idl module>.<Class>``).

    A Nameko caller rebuilds a remote error only if its ``exc_path`` is registered on its side, so
    this names the module and class of the Nameko service's own error, e.g.
    ``@exc_path("services.greeter.InsufficientFunds")``. It applies to that class only, not to
    its subclasses.
    """

    def mark(cls: _E) -> _E:
        # Checked here rather than by the loader: on any other class the marker would be ignored.
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            what = f"class {cls.__name__}" if isinstance(cls, type) else repr(cls)
            raise TypeError(
                f"@exc_path({path!r}) decorates an Exception subclass (a declared error), "
                f"not {what}"
            )
        setattr(cls, EXC_PATH_ATTR, path)
        return cls

    return mark


def event(name: str) -> Callable[[_F], _F]:
    """Declare an event the service dispatches: ``@event("order_created") def
    order_created(self, payload: OrderCreated) -> None: ...`` (one payload parameter)."""

    def mark(func: _F) -> _F:
        setattr(func, EVENT_ATTR, name)
        return func

    return mark

"""The two decorators IDL authors use: ``@service("wire_name")`` and ``@raises(ErrorA, ...)``.

They only record metadata on the decorated object; ``rpcgen.codegen.load`` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["RAISES_ATTR", "SERVICE_ATTR", "raises", "service"]

SERVICE_ATTR = "__rpcgen_service__"
RAISES_ATTR = "__rpcgen_raises__"

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., object])


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

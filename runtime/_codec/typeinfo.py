"""The vocabulary of decoding: compiled type specs, ``DecodeError``, and names for messages."""

from __future__ import annotations

import enum
import reprlib
import types
import typing
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["BARE_TUPLE", "DecodeError", "Decoder", "TypeSpec", "describe", "type_name"]

Decoder = Callable[[object], object]
NoneType = type(None)
BARE_TUPLE: object = typing.Tuple  # noqa: UP006 - it means tuple[Any, ...], which is unsupported


class TypeSpec(NamedTuple):
    """A compiled type: its decoder and the JSON types it takes (for unions and fast paths)."""

    decode: Decoder
    exact: frozenset[type]  # JSON types this decoder is made for
    loose: frozenset[type] = frozenset()  # JSON types it also converts (int for float...)
    identity: frozenset[type] = frozenset()  # JSON types it returns unchanged


class DecodeError(ValueError):
    """A JSON value does not fit the expected type.

    ``path`` locates it inside the decoded value (``"owner.tags[2]"``, ``""`` for the value
    itself), ``expected`` names the type, and ``got`` describes what arrived (``"str 'x'"``).
    """

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(expected, got)
        self.expected = expected
        self.got = got
        self._segments: list[str] = []  # innermost first, added while the error unwinds

    def inside(self, segment: str) -> DecodeError:
        """Note that the bad value sits at ``segment`` (``".name"``, ``"[2]"``) of a container."""
        self._segments.append(segment)
        return self

    @property
    def path(self) -> str:
        return self.at("").lstrip(".")

    def at(self, root: str) -> str:
        """The path below ``root``, e.g. ``at("account")`` is ``"account.owner.tags[2]"``."""
        return root + "".join(reversed(self._segments))

    def __str__(self) -> str:
        where = self.path
        return f"{where + ': ' if where else ''}expected {self.expected}, got {self.got}"


_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = _short.maxdict = 4
_short.maxlevel = 2


def describe(raw: object) -> str:
    """A short description of a JSON value for error messages, e.g. ``"str 'x'"``."""
    if raw is None:
        return "None"
    return f"{type(raw).__name__} {_short.repr(raw)}"


def type_name(tp: object) -> str:
    """How a type expression reads in messages: ``list[Account]``, ``int | None``."""
    if tp is None or tp is NoneType:
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(_literal_repr(arg) for arg in args)}]"
    if origin is tuple and args in ((), ((),)) and tp is not BARE_TUPLE:
        return "tuple[()]"
    if isinstance(origin, type) and args:
        inner = ", ".join("..." if arg is Ellipsis else type_name(arg) for arg in args)
        return f"{origin.__name__}[{inner}]"
    if isinstance(tp, type):
        return tp.__name__
    if isinstance(tp, (str, typing.ForwardRef)):
        return tp if isinstance(tp, str) else tp.__forward_arg__
    return repr(tp)


def _literal_repr(value: object) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)

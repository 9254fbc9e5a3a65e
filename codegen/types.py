"""The supported-type checker: an evaluated annotation in, a ``TypeRef`` (or a problem) out.

Supported: str, int, float, bool, None, bytes, datetime, date, time, Decimal, UUID, list[T],
dict[str, T], tuple[A, B] and tuple[T, ...], unions (``X | Y``, ``Optional``), Literal of
str/int/bool/None/enum members, and the Enums, dataclasses and TypedDicts the IDL module defines
or imports from another module of the IDL folder.
Each of these has a JSON form on Nameko's wire; nothing else does.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from rpcgen.codegen.model import Import, TypeRef
from rpcgen.codegen.pyfmt import literal

__all__ = ["Scope", "TypeProblem", "describe", "render_default", "render_type"]

_BUILTIN: dict[object, str] = {str: "str", int: "int", float: "float", bool: "bool", bytes: "bytes"}
_IMPORTED: dict[object, Import] = {
    datetime.datetime: Import("datetime", "datetime"),
    datetime.date: Import("datetime", "date"),
    datetime.time: Import("datetime", "time"),
    decimal.Decimal: Import("decimal", "Decimal"),
    uuid.UUID: Import("uuid", "UUID"),
}
_LITERAL = Import("typing", "Literal")
_SUPPORTED = (
    "use str, int, float, bool, None, bytes, datetime, date, time, Decimal, UUID, list[T], "
    "dict[str, T], tuple[...], a union, Literal[...], or an Enum, dataclass or TypedDict "
    "defined in {file}"
)


class TypeProblem(Exception):
    """Why an annotation is not supported, and what to use instead."""


@dataclass(frozen=True)
class Scope:
    """What the IDL module defines: the classes a type may name."""

    file: str  # "idl/ledger.py", for messages
    records: Mapping[type, str]  # Enum, dataclass and TypedDict classes -> generated name
    errors: frozenset[type]
    # The classes of the scope that another module of the IDL tree defines: what the generated
    # module imports to name them (``Import(".common", "Money")``, the module's dotted name in the
    # tree after the dot), so that each shared type is one class in Python.
    imports: Mapping[type, Import] = field(default_factory=dict)


def render_type(tp: object, scope: Scope) -> TypeRef:
    """Check ``tp`` and render it; raises ``TypeProblem`` naming the first unsupported part."""
    if tp is None or tp is type(None):
        return TypeRef("None")
    origin = typing.get_origin(tp)
    if origin is None:
        return _render_class(tp, scope)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _join([render_type(arg, scope) for arg in args], " | ")
    if origin is typing.Literal:
        return _render_literal(tp, args, scope)
    if origin is list:
        item = render_type(args[0], scope)
        return TypeRef(f"list[{item.expr}]", item.imports)
    if origin is dict:
        return _render_dict(tp, args, scope)
    if origin is tuple:
        return _render_tuple(args, scope)
    raise TypeProblem(_unsupported(tp, scope))


def render_default(value: object, scope: Scope) -> str:
    """A default value as source; only literals, so that the generated signature can repeat it."""
    text = literal(value)
    if text is None or (isinstance(value, enum.Enum) and type(value) not in scope.records):
        raise TypeProblem(
            f"default of type {type(value).__name__} is not a literal; use None, a bool, int, "
            f"float, str or a member of an Enum defined in {scope.file}"
        )
    return text


def _render_class(tp: object, scope: Scope) -> TypeRef:
    if not isinstance(tp, typing.Hashable):  # e.g. ``x: [int]``
        raise TypeProblem(_unsupported(tp, scope))
    if tp in _BUILTIN:
        return TypeRef(_BUILTIN[tp])
    if tp in _IMPORTED:
        imp = _IMPORTED[tp]
        return TypeRef(imp.name, frozenset({imp}))
    if isinstance(tp, type) and tp in scope.records:
        shared = scope.imports.get(tp)
        return TypeRef(scope.records[tp], frozenset({shared}) if shared else frozenset())
    if isinstance(tp, type) and tp in scope.errors:
        raise TypeProblem(
            f"{tp.__name__} is an error class, not a value type; declare it with @raises instead"
        )
    bare = {list: "list[T]", dict: "dict[str, T]", tuple: "tuple[T, ...] or tuple[A, B]"}
    if tp in bare:
        raise TypeProblem(f"bare {describe(tp)} has no item type; use {bare[tp]}")
    raise TypeProblem(_unsupported(tp, scope))


def _render_literal(tp: object, args: tuple[object, ...], scope: Scope) -> TypeRef:
    values: list[str] = []
    for arg in args:
        text = literal(arg) if not isinstance(arg, float) else None
        if text is None or (isinstance(arg, enum.Enum) and type(arg) not in scope.records):
            raise TypeProblem(
                f"{describe(tp)} is not supported; Literal values must be str, int, bool, None "
                f"or members of an Enum defined in {scope.file}"
            )
        values.append(text)
    return TypeRef(f"Literal[{', '.join(values)}]", frozenset({_LITERAL}))


def _render_dict(tp: object, args: tuple[object, ...], scope: Scope) -> TypeRef:
    if args[0] is not str:
        raise TypeProblem(
            f"{describe(tp)} is not supported: JSON object keys are strings; "
            f"use dict[str, {describe(args[1])}]"
        )
    value = render_type(args[1], scope)
    return TypeRef(f"dict[str, {value.expr}]", value.imports)


def _render_tuple(args: tuple[object, ...], scope: Scope) -> TypeRef:
    if not args or args == ((),):  # Python 3.10 spells the empty tuple's args ((),)
        return TypeRef("tuple[()]")
    if len(args) == 2 and args[1] is Ellipsis:
        item = render_type(args[0], scope)
        return TypeRef(f"tuple[{item.expr}, ...]", item.imports)
    inner = _join([render_type(arg, scope) for arg in args], ", ")
    return TypeRef(f"tuple[{inner.expr}]", inner.imports)


def _join(refs: list[TypeRef], sep: str) -> TypeRef:
    imports = frozenset().union(*(ref.imports for ref in refs))
    return TypeRef(sep.join(ref.expr for ref in refs), imports)


def _unsupported(tp: object, scope: Scope) -> str:
    name = describe(tp)
    origin = typing.get_origin(tp)
    if tp is typing.Any:
        return f"Any is not supported; {_SUPPORTED.format(file=scope.file)}"
    if origin in (set, frozenset) or tp in (set, frozenset):
        return f"{name} is not supported (JSON has no sets); use a list instead"
    if origin is typing.Annotated:
        return f"{name} is not supported; use the plain type without Annotated"
    if isinstance(tp, type) and getattr(tp, "__rpcgen_placeholder__", False) is True:
        return (
            f"{name} is the placeholder rpcgen scaffold wrote where the Nameko source does not "
            "say the type; replace it with the real type"
        )
    if isinstance(tp, type) and typing.get_origin(tp) is None and _is_record_kind(tp):
        return (
            f"{name} is not supported: it is defined in {tp.__module__}, outside the IDL folder; "
            f"define it in {scope.file}, or in another module of the IDL folder and import it"
        )
    if isinstance(tp, type):
        return (
            f"{name} is not supported: only Enums, dataclasses and TypedDicts defined in "
            f"{scope.file} can cross the wire; make {name} a dataclass there"
        )
    return f"{name} is not supported; {_SUPPORTED.format(file=scope.file)}"


def _is_record_kind(tp: type) -> bool:
    return issubclass(tp, enum.Enum) or dataclasses.is_dataclass(tp) or typing.is_typeddict(tp)


def describe(tp: object) -> str:
    """A readable name for an annotation: ``set[int]``, ``Account``, ``Any``."""
    if tp is None or tp is type(None):
        return "None"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__qualname__
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return f"Literal[{', '.join(literal(a) or repr(a) for a in args)}]"
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(describe(a) for a in args)
    if isinstance(origin, type) and args:
        return f"{origin.__qualname__}[{', '.join(describe(a) for a in args)}]"
    return repr(tp).replace("typing.", "")

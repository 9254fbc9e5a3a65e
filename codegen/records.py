"""Specs for the value and error classes an IDL module defines: Enums, dataclasses, TypedDicts and
``Exception`` subclasses. The generated module carries copies of them, so that it needs only
``rpcgen`` at run time, not ``idl/``.
"""

from __future__ import annotations

import dataclasses
import enum
import keyword
import typing

from rpcgen.codegen.markers import EXC_PATH_ATTR
from rpcgen.codegen.model import (
    DataclassSpec,
    EnumMember,
    EnumSpec,
    ErrorSpec,
    FieldSpec,
    TypedDictSpec,
    TypeRef,
)
from rpcgen.codegen.pyfmt import literal
from rpcgen.codegen.source import Source
from rpcgen.codegen.types import TypeProblem, render_default, render_type

__all__ = ["build_dataclass", "build_enum", "build_error", "build_typeddict"]


def build_enum(cls: type[enum.Enum], src: Source) -> EnumSpec | None:
    name = cls.__name__
    if issubclass(cls, enum.Flag):
        src.problem(name, "", "Flag enums are not supported; use a plain Enum (or a list of them)")
        return None
    members: list[EnumMember] = []
    for member in cls:  # iterating skips aliases, which need no copy
        value = member.value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            src.problem(
                name,
                member.name,
                f"enum value {value!r} is not a str or int; give every member a str or int value "
                "(it travels as JSON)",
            )
            continue
        members.append(EnumMember(member.name, literal(value) or ""))
    if issubclass(cls, int):
        bases = "enum.IntEnum"
    elif issubclass(cls, str):
        bases = "str, enum.Enum"
    else:
        bases = "enum.Enum"
    return EnumSpec(name, src.doc(name), bases, tuple(members), src.line(name))


def build_dataclass(cls: type, src: Source) -> DataclassSpec | None:
    name = cls.__name__
    hints = _hints(cls, src, include_extras=True)
    if hints is None:
        return None
    fields: list[FieldSpec] = []
    for f in dataclasses.fields(cls):
        ref = _field_type(cls, f.name, hints.get(f.name), src)
        default = _dataclass_default(cls, f, src)
        if ref is not None and default is not None:
            fields.append(FieldSpec(f.name, ref, default or None))
    params = getattr(cls, "__dataclass_params__", None)
    frozen = bool(getattr(params, "frozen", False))
    return DataclassSpec(name, src.doc(name), frozen, tuple(fields), src.line(name))


def _dataclass_default(cls: type, f: dataclasses.Field[object], src: Source) -> str | None:
    """The field's text after ``=`` ("" when it has none), or None after reporting a problem."""
    if not f.init:
        message = "init=False is not supported (every field travels on the wire); remove it"
        src.problem(cls.__name__, f.name, message)
        return None
    value: str | None = ""
    kwarg = ""
    if f.default is not dataclasses.MISSING:
        try:
            value = render_default(f.default, src.scope)
        except TypeProblem as problem:
            src.problem(cls.__name__, f.name, str(problem))
            return None
        kwarg = f"default={value}"
    elif f.default_factory is not dataclasses.MISSING:
        if f.default_factory not in (list, dict):
            src.problem(
                cls.__name__,
                f.name,
                "default_factory must be list or dict; compute other defaults in the caller",
            )
            return None
        value = None
        kwarg = f"default_factory={f.default_factory.__name__}"
    if getattr(f, "kw_only", False) is True:
        return f"dataclasses.field({', '.join(a for a in (kwarg, 'kw_only=True') if a)})"
    return value if value is not None else f"dataclasses.field({kwarg})"


def build_typeddict(cls: type, src: Source) -> TypedDictSpec | None:
    name = cls.__name__
    required: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    optional: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
    if (required and optional) or _marks_requiredness(cls):
        src.problem(
            name,
            "",
            "mixing required and not-required keys is not supported (the generated code must run "
            "on Python 3.10); make every key required, or declare the class with total=False",
        )
        return None
    # Without extras, get_type_hints unwraps Required[...] / NotRequired[...].
    hints = _hints(cls, src, include_extras=False)
    if hints is None:
        return None
    fields = [
        FieldSpec(key, ref) for key in hints if (ref := _field_type(cls, key, hints[key], src))
    ]
    if len(fields) != len(hints):
        return None
    return TypedDictSpec(name, src.doc(name), not optional, tuple(fields), src.line(name))


def _marks_requiredness(cls: type) -> bool:
    """Whether a key is wrapped in Required/NotRequired: with postponed annotations the class
    cannot see those wrappers, so its ``__required_keys__`` would be silently wrong."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:  # reported by _hints below
        return False
    names = {getattr(typing.get_origin(hint), "_name", "") for hint in hints.values()}
    return bool(names & {"Required", "NotRequired"})


def build_error(cls: type[Exception], src: Source) -> ErrorSpec | None:
    name = cls.__name__
    path = _exc_path(cls, src)
    if path is None:
        return None
    base = next((b for b in cls.__bases__ if b in src.scope.errors), None)
    if base is not None and base in src.scope.imports:
        src.shared.add(src.scope.imports[base])
    return ErrorSpec(
        name,
        src.doc(name),
        base.__name__ if base is not None else "rt.ServiceError",
        src.line(name),
        path,
    )


def _exc_path(cls: type[Exception], src: Source) -> str | None:
    """The class's own ``@exc_path`` (never a base's), else ``<idl module>.<Class>``: what a Nameko
    service module of the IDL module's name sends. None after reporting a bad one."""
    name = cls.__name__
    if EXC_PATH_ATTR not in cls.__dict__:
        return f"{src.module_name}.{name}"
    path: object = cls.__dict__[EXC_PATH_ATTR]
    if not (isinstance(path, str) and _is_dotted_path(path)):
        src.problem(
            name,
            "",
            f"@exc_path({path!r}) is not a dotted Python path; give the module and class the "
            f"Nameko side registers, e.g. 'services.{src.module_name}.{name}'",
        )
        return None
    if path.startswith("nameko.exceptions."):
        src.problem(
            name,
            "",
            f"@exc_path({path!r}) is in Nameko's own namespace, which rpcgen maps to its own "
            "error classes; give the path of the service's error class",
        )
        return None
    return path


def _is_dotted_path(path: str) -> bool:
    """``module.Class`` or deeper, each part a Python name (as a Nameko class's path is)."""
    parts = path.split(".")
    return len(parts) > 1 and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _hints(cls: type, src: Source, include_extras: bool) -> dict[str, object] | None:
    try:
        return typing.get_type_hints(cls, include_extras=include_extras)
    except Exception as exc:  # any evaluation error is the user's to fix
        src.problem(
            cls.__name__,
            "",
            f"cannot evaluate the annotations: {type(exc).__name__}: {exc}; "
            "define or import every name they use",
        )
        return None


def _field_type(cls: type, key: str, hint: object, src: Source) -> TypeRef | None:
    try:
        return render_type(hint, src.scope)
    except TypeProblem as problem:
        src.problem(cls.__name__, key, str(problem))
        return None

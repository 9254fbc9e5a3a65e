"""Decoders for records: dataclasses (built with their constructor) and ``TypedDict``s (dicts).

Keys a record does not declare are ignored and dropped, so a newer peer may add fields; a missing
required field is an error. A record's spec is registered before its fields are compiled, because
a field may refer back to the record (``children: list[Node]``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import NamedTuple

from rpcgen.runtime._codec.typeinfo import DecodeError, Decoder, TypeSpec, describe, type_name

__all__ = ["dataclass_spec", "typeddict_spec"]

Compile = Callable[[object], TypeSpec]
Register = Callable[[type, TypeSpec], None]


class _Field(NamedTuple):
    name: str
    decode: Decoder
    required: bool
    type_name: str


def _hints(cls: type) -> dict[str, object]:
    # Resolves string annotations (``from __future__ import annotations``) in cls's module.
    try:
        return typing.get_type_hints(cls)
    except Exception as exc:
        raise TypeError(f"rpcgen cannot resolve the annotations of {cls.__name__}: {exc}") from exc


def _decode_fields(raw: dict[str, object], fields: list[_Field]) -> dict[str, object]:
    values: dict[str, object] = {}
    for field in fields:
        if field.name not in raw:
            if field.required:
                missing = DecodeError(field.type_name, "nothing (the field is missing)")
                raise missing.inside(f".{field.name}")
            continue
        try:
            values[field.name] = field.decode(raw[field.name])
        except DecodeError as exc:
            exc.inside(f".{field.name}")
            raise
    return values


def _record(
    cls: type, make: Callable[[dict[str, object]], object], register: Register
) -> tuple[TypeSpec, list[_Field]]:
    fields: list[_Field] = []  # filled in by the caller, after registration
    name = cls.__name__

    def decode(raw: object) -> object:
        if type(raw) is not dict:
            raise DecodeError(name, describe(raw))
        values = _decode_fields(raw, fields)
        try:
            return make(values)
        except (TypeError, ValueError) as exc:  # a __post_init__ that validates
            raise DecodeError(name, f"values it rejects ({exc})") from exc

    spec = TypeSpec(decode, frozenset({dict}))
    register(cls, spec)
    return spec, fields


def dataclass_spec(cls: type, compile_type: Compile, register: Register) -> TypeSpec:
    """The spec of a dataclass: an object whose init fields are passed to ``cls``."""
    spec, fields = _record(cls, lambda values: cls(**values), register)
    hints = _hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        required = field.default is dataclasses.MISSING
        required = required and field.default_factory is dataclasses.MISSING
        tp = hints[field.name]
        fields.append(_Field(field.name, compile_type(tp).decode, required, type_name(tp)))
    return spec


def typeddict_spec(cls: type, compile_type: Compile, register: Register) -> TypeSpec:
    """The spec of a ``TypedDict``: a dict of its declared keys, decoded."""
    spec, fields = _record(cls, lambda values: values, register)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    for key, tp in _hints(cls).items():
        fields.append(_Field(key, compile_type(tp).decode, key in required_keys, type_name(tp)))
    return spec

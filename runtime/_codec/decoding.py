"""Compiled, validating decoders from JSON values to the Python types an IDL may use.

``decoder_for(tp)`` builds one function per type expression, once, and caches it. The function
checks a JSON value (as ``json.loads`` returns it) and converts it: dataclasses, ``TypedDict``,
enums, ``Literal``, unions, tuples, lists, ``dict[str, T]`` and kombu's special-type markers. A
mismatch raises ``DecodeError`` with the path to the bad value, what was expected, and what arrived.

Rules a user may trip over:
- ``bool`` is not an ``int``; an ``int`` is accepted (and converted) where a ``float`` is expected,
  and an integral float is not accepted as an ``int``.
- Unions try their members in declared order, members that take the value's JSON type exactly
  first: ``float | int`` keeps ``1`` an ``int``, ``Decimal | str`` keeps ``"1.5"`` a ``str``. Two
  dataclasses in a union are tried in order; the first that accepts the object wins.
- Dataclasses and ``TypedDict``s ignore (and drop) keys they do not declare, so a newer peer may
  add fields; a missing required field is an error.
- ``datetime``, ``date``, ``time``, ``Decimal`` and ``UUID`` accept kombu>=5.3 markers and the plain
  strings of kombu<=5.2 (``Decimal`` also JSON numbers); ``bytes`` accepts only markers.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import types
import typing
from collections.abc import Iterable

from rpcgen.runtime._codec import kombu_types, records
from rpcgen.runtime._codec.typeinfo import (
    BARE_TUPLE,
    DecodeError,
    Decoder,
    NoneType,
    TypeSpec,
    describe,
    type_name,
)

__all__ = ["DecodeError", "Decoder", "TypeSpec", "decoder_for", "describe", "spec_for", "type_name"]

_SCALARS: tuple[type, ...] = (str, int, float, bool, NoneType)
_SUPPORTED = (
    "str, int, float, bool, None, list[T], dict[str, T], tuple[...], X | Y, Literal, Enum, "
    "dataclasses, TypedDict, datetime, date, time, Decimal, UUID and bytes"
)


_CACHE: dict[object, TypeSpec] = {}
_PENDING: dict[object, TypeSpec] = {}  # built in this compile, published when all of it succeeds
_LOCK = threading.RLock()


def decoder_for(tp: object) -> Decoder:
    """The decoder for the type expression ``tp``; raises ``TypeError`` if ``tp`` is unsupported."""
    return _compile(tp).decode


def spec_for(tp: object) -> TypeSpec:
    """The compiled form of ``tp``: ``decode``, and the JSON types it returns unchanged."""
    return _compile(tp)


def _compile(tp: object) -> TypeSpec:
    key = _cache_key(tp)
    spec = _CACHE.get(key)
    if spec is not None:
        return spec
    with _LOCK:
        spec = _CACHE.get(key) or _PENDING.get(key)
        if spec is not None:
            return spec
        # Records register in _PENDING before compiling their fields (which may refer back to
        # them); a compile that starts with nothing pending publishes all it built, complete.
        outermost = not _PENDING
        try:
            spec = _build(tp)
            _PENDING[key] = spec
            if outermost:
                _CACHE.update(_PENDING)
        finally:
            if outermost:
                _PENDING.clear()
        return spec


def _register(cls: type, spec: TypeSpec) -> None:
    """Make a record's spec visible to its own fields while they compile (under _LOCK)."""
    _PENDING[cls] = spec


def _cache_key(tp: object) -> object:
    """``tp`` with its argument order kept: typing deems ``int | str == str | int`` and
    ``Literal[1] == Literal[True]``, but their decoders differ."""
    args = typing.get_args(tp)
    if not args:
        return tp
    return (typing.get_origin(tp), tuple(_arg_key(arg) for arg in args))


def _arg_key(arg: object) -> object:
    if isinstance(arg, type) or typing.get_origin(arg) is not None:
        return _cache_key(arg)
    return (type(arg), arg)  # a Literal value, Ellipsis, (), an Annotated note


def _build(tp: object) -> TypeSpec:
    if tp is None or tp is NoneType:
        return _PRIMITIVES[NoneType]
    if isinstance(tp, type) and tp in _PRIMITIVES:
        return _PRIMITIVES[tp]
    if isinstance(tp, type) and tp in _SPECIAL:
        return _SPECIAL[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _compile(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return _union(tp, args)
    if origin is typing.Literal:
        return _literal(tp, args)
    if origin is list and len(args) == 1:
        return _list(args[0])
    if origin is dict and len(args) == 2 and args[0] is str:
        return _dict(args[1])
    if origin is tuple and tp is not BARE_TUPLE:
        return _tuple(tp, args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return records.dataclass_spec(tp, _compile, _register)
    if isinstance(tp, type) and typing.is_typeddict(tp):
        return records.typeddict_spec(tp, _compile, _register)
    raise TypeError(f"rpcgen cannot decode {type_name(tp)}; supported types are {_SUPPORTED}")


def _scalar(tp: type, name: str) -> TypeSpec:
    def decode(raw: object) -> object:
        if type(raw) is tp:
            return raw
        raise DecodeError(name, describe(raw))

    return TypeSpec(decode, frozenset({tp}), identity=frozenset({tp}))


def _decode_float(raw: object) -> object:
    if type(raw) is float:
        return raw
    if type(raw) is int:
        try:
            return float(raw)
        except OverflowError:
            pass
    raise DecodeError("float", describe(raw))


_PRIMITIVES: dict[type, TypeSpec] = {
    str: _scalar(str, "str"),
    int: _scalar(int, "int"),
    bool: _scalar(bool, "bool"),
    NoneType: _scalar(NoneType, "None"),
    float: TypeSpec(_decode_float, frozenset({float}), frozenset({int}), frozenset({float})),
}


# --- kombu's special types (markers, or the plain strings of kombu<=5.2) ----------------------


def _special(tp: type, parse: Decoder, loose: frozenset[type]) -> TypeSpec:
    name = tp.__name__

    def decode(raw: object) -> object:
        try:
            return parse(raw)
        except (ValueError, TypeError, ArithmeticError):
            raise DecodeError(name, describe(raw)) from None

    return TypeSpec(decode, frozenset({dict}), loose)


_SPECIAL: dict[type, TypeSpec] = {
    tp: _special(tp, parse, loose) for tp, (parse, loose) in kombu_types.DECODERS.items()
}


# --- containers ---------------------------------------------------------------------------


def _list(item_tp: object) -> TypeSpec:
    item = _compile(item_tp)
    decode_item, same = item.decode, item.identity
    name = f"list[{type_name(item_tp)}]"

    def decode(raw: object) -> object:
        if type(raw) is not list:
            raise DecodeError(name, describe(raw))
        return _decode_items(raw, decode_item, same)

    return TypeSpec(decode, frozenset({list}))


def _decode_items(raw: list[object], decode_item: Decoder, same: frozenset[type]) -> list[object]:
    if same and set(map(type, raw)) <= same:
        return raw  # nothing to convert: keep the list json.loads made
    out = []
    for index, value in enumerate(raw):
        try:
            out.append(decode_item(value))
        except DecodeError as exc:
            exc.inside(f"[{index}]")
            raise
    return out


def _tuple(tp: object, args: tuple[object, ...]) -> TypeSpec:
    name = type_name(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        item = _compile(args[0])
        decode_item, same = item.decode, item.identity

        def variadic(raw: object) -> object:
            if type(raw) is not list:
                raise DecodeError(name, describe(raw))
            return tuple(_decode_items(raw, decode_item, same))

        return TypeSpec(variadic, frozenset({list}))
    # tuple[()] has the arguments ((),) up to Python 3.10, () from 3.11.
    decoders = [] if args in ((), ((),)) else [_compile(arg).decode for arg in args]

    def fixed(raw: object) -> object:
        if type(raw) is not list or len(raw) != len(decoders):
            raise DecodeError(name, describe(raw))
        out = []
        for index, (decode_item, value) in enumerate(zip(decoders, raw, strict=True)):
            try:
                out.append(decode_item(value))
            except DecodeError as exc:
                exc.inside(f"[{index}]")
                raise
        return tuple(out)

    return TypeSpec(fixed, frozenset({list}))


def _dict(value_tp: object) -> TypeSpec:
    value_spec = _compile(value_tp)
    decode_value, same = value_spec.decode, value_spec.identity
    name = f"dict[str, {type_name(value_tp)}]"

    def decode(raw: object) -> object:
        if type(raw) is not dict:
            raise DecodeError(name, describe(raw))
        if same and set(map(type, raw.values())) <= same:
            return raw
        out = {}
        for key, value in raw.items():
            try:
                out[key] = decode_value(value)
            except DecodeError as exc:
                exc.inside(f"[{key!r}]")
                raise
        return out

    return TypeSpec(decode, frozenset({dict}))


def _union(tp: object, members: tuple[object, ...]) -> TypeSpec:
    specs = [_compile(member) for member in members]
    name = type_name(tp)
    exact = frozenset().union(*(spec.exact for spec in specs))
    kinds = exact.union(*(spec.loose for spec in specs))
    # For each JSON type, the members to try: those made for it first, then those converting it.
    table = {
        kind: tuple(s.decode for s in specs if kind in s.exact)
        + tuple(s.decode for s in specs if kind in s.loose and kind not in s.exact)
        for kind in kinds
    }
    identity = frozenset(kind for kind in kinds if kind in _first(specs, kind).identity)

    def decode(raw: object) -> object:
        candidates = table.get(type(raw), ())
        if len(candidates) == 1:
            return candidates[0](raw)  # its own error is the more precise one
        for candidate in candidates:
            try:
                return candidate(raw)
            except DecodeError:
                pass
        raise DecodeError(name, describe(raw))

    return TypeSpec(decode, exact, kinds - exact, identity)


def _first(specs: list[TypeSpec], kind: type) -> TypeSpec:
    """The member a union tries first for a value of JSON type ``kind``."""
    for spec in specs:
        if kind in spec.exact:
            return spec
    return next(spec for spec in specs if kind in spec.loose)


def _values_table(name: str, values: Iterable[tuple[object, object]]) -> TypeSpec:
    """A decoder mapping each listed JSON scalar (by type and value) to a Python value."""
    lookup: dict[tuple[type, object], object] = {}
    for wire_value, python_value in values:
        if type(wire_value) not in _SCALARS:
            raise TypeError(f"rpcgen cannot send {name}: {wire_value!r} is not a JSON scalar")
        lookup[(type(wire_value), wire_value)] = python_value

    def decode(raw: object) -> object:
        try:
            return lookup[(type(raw), raw)]
        except (KeyError, TypeError):  # TypeError: an unhashable list or dict
            raise DecodeError(name, describe(raw)) from None

    return TypeSpec(decode, frozenset(kind for kind, _ in lookup))


def _literal(tp: object, values: tuple[object, ...]) -> TypeSpec:
    pairs = [(v.value if isinstance(v, enum.Enum) else v, v) for v in values]
    return _values_table(type_name(tp), pairs)


def _enum(cls: type[enum.Enum]) -> TypeSpec:
    shown = ", ".join(repr(member.value) for member in list(cls)[:8])
    more = ", ..." if len(cls) > 8 else ""
    return _values_table(f"{cls.__name__} ({shown}{more})", ((m.value, m) for m in cls))

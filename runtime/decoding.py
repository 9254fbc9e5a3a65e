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
import reprlib
import threading
import types
import typing
from collections.abc import Callable, Iterable
from typing import NamedTuple

from rpcgen.runtime import kombu_types

__all__ = ["DecodeError", "Decoder", "TypeSpec", "decoder_for", "describe", "spec_for", "type_name"]

Decoder = Callable[[object], object]
_NoneType = type(None)
_SCALARS: tuple[type, ...] = (str, int, float, bool, _NoneType)
_BARE_TUPLE: object = typing.Tuple  # noqa: UP006 - it means tuple[Any, ...], which is unsupported
_SUPPORTED = (
    "str, int, float, bool, None, list[T], dict[str, T], tuple[...], X | Y, Literal, Enum, "
    "dataclasses, TypedDict, datetime, date, time, Decimal, UUID and bytes"
)


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


class TypeSpec(NamedTuple):
    """A compiled type: its decoder and the JSON types it takes (for unions and fast paths)."""

    decode: Decoder
    exact: frozenset[type]  # JSON types this decoder is made for
    loose: frozenset[type] = frozenset()  # JSON types it also converts (int for float...)
    identity: frozenset[type] = frozenset()  # JSON types it returns unchanged


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
    if tp is None or tp is _NoneType:
        return _PRIMITIVES[_NoneType]
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
    if origin is tuple and tp is not _BARE_TUPLE:
        return _tuple(tp, args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if isinstance(tp, type) and typing.is_typeddict(tp):
        return _typeddict(tp)
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
    _NoneType: _scalar(_NoneType, "None"),
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
            exc._segments.append(f"[{index}]")
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
                exc._segments.append(f"[{index}]")
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
                exc._segments.append(f"[{key!r}]")
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


# --- records: dataclasses and TypedDicts -------------------------------------------------------


def _hints(cls: type) -> dict[str, object]:
    # Resolves string annotations (``from __future__ import annotations``) in cls's module.
    try:
        return typing.get_type_hints(cls)
    except Exception as exc:
        raise TypeError(f"rpcgen cannot resolve the annotations of {cls.__name__}: {exc}") from exc


class _Field(NamedTuple):
    name: str
    decode: Decoder
    required: bool
    type_name: str


def _decode_fields(raw: dict[str, object], fields: list[_Field]) -> dict[str, object]:
    values: dict[str, object] = {}
    for field in fields:
        if field.name not in raw:
            if field.required:
                error = DecodeError(field.type_name, "nothing (the field is missing)")
                error._segments.append(f".{field.name}")
                raise error
            continue
        try:
            values[field.name] = field.decode(raw[field.name])
        except DecodeError as exc:
            exc._segments.append(f".{field.name}")
            raise
    return values


def _record(
    cls: type, make: Callable[[dict[str, object]], object]
) -> tuple[TypeSpec, list[_Field]]:
    """The spec of a record type, registered before its fields are compiled (they may recurse)."""
    fields: list[_Field] = []
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
    _PENDING[cls] = spec
    return spec, fields


def _dataclass(cls: type) -> TypeSpec:
    spec, fields = _record(cls, lambda values: cls(**values))
    hints = _hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        required = field.default is dataclasses.MISSING
        required = required and field.default_factory is dataclasses.MISSING
        tp = hints[field.name]
        fields.append(_Field(field.name, _compile(tp).decode, required, type_name(tp)))
    return spec


def _typeddict(cls: type) -> TypeSpec:
    spec, fields = _record(cls, lambda values: values)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    for key, tp in _hints(cls).items():
        fields.append(_Field(key, _compile(tp).decode, key in required_keys, type_name(tp)))
    return spec


# --- names for messages ------------------------------------------------------------------------


def type_name(tp: object) -> str:
    """How a type expression reads in messages: ``list[Account]``, ``int | None``."""
    if tp is None or tp is _NoneType:
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(_literal_repr(arg) for arg in args)}]"
    if origin is tuple and args in ((), ((),)) and tp is not _BARE_TUPLE:
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

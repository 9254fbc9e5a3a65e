"""Encode Python values for Nameko's wire and decode them back into a method's declared types.

Encoding is driven by the value: dataclasses become objects in field order, enums their value,
tuples arrays, and datetime/date/time/Decimal/UUID/bytes kombu>=5.3 markers; the bytes are
exactly kombu's. Decoding is driven by the declared type (``rpcgen.runtime._codec.decoding``) and
validates as it converts. ``MethodCodec`` puts both together for one method's requests and replies.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import json.encoder
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar, cast

from rpcgen.runtime import errors
from rpcgen.runtime._codec import kombu_types, wire
from rpcgen.runtime._codec.decoding import (
    DecodeError,
    Decoder,
    decoder_for,
    describe,
    spec_for,
    type_name,
)
from rpcgen.runtime.spec import OMITTED

if TYPE_CHECKING:
    from rpcgen.runtime.spec import Event, Method

__all__ = [
    "DecodeError",
    "Decoder",
    "MethodCodec",
    "decoder_for",
    "dumps",
    "to_wire",
    "type_name",
]

R_co = TypeVar("R_co", covariant=True)
P = TypeVar("P")

_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass (cached per class), or None for any other class."""
    try:
        return _FIELDS[cls]
    except KeyError:
        names = None
        if dataclasses.is_dataclass(cls):
            names = tuple(field.name for field in dataclasses.fields(cls))
        _FIELDS[cls] = names
        return names


def _convert(value: object) -> object:
    """One step towards JSON for a value json cannot encode itself (the encoder's ``default``)."""
    if isinstance(value, enum.Enum):
        return value.value
    names = _field_names(type(value))
    if names is not None:
        return {name: getattr(value, name) for name in names}
    marker = kombu_types.encode(value)
    if marker is not None:
        return marker
    raise TypeError(
        f"rpcgen cannot send {describe(value)}: values must be JSON types, dataclasses, enums, "
        "datetime, date, time, Decimal, UUID or bytes"
    )


def _make_encoder() -> Callable[[object], str]:
    # The C encoder, built once with json.dumps' defaults (so kombu's bytes) and _convert as its
    # default hook: native values never leave C. Without markers it does not look for cycles; the
    # C recursion limit turns one into RecursionError instead.
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(default=_convert, check_circular=False).encode
    iterencode = c_make_encoder(
        None, _convert, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    return lambda value: "".join(iterencode(value, 0))


_encode = _make_encoder()


def dumps(value: object) -> bytes:
    """JSON bytes for ``value`` as kombu>=5.3 writes them; ``TypeError`` for unsupported values."""
    return _encode(value).encode("utf-8")


def to_wire(value: object) -> object:
    """``value`` as plain JSON data (what ``dumps`` writes); ``TypeError`` if unsupported."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {_wire_key(key): to_wire(item) for key, item in value.items()}
    # Subclasses of str, int and float (str and int enums included) are written as json writes them.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return to_wire(_convert(value))


def _wire_key(key: object) -> object:
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or type(key) in (int, float, bool):
        return key  # json writes these as strings, as kombu does
    raise TypeError(f"rpcgen cannot send a dict key {describe(key)}: keys must be strings")


class _Slot(NamedTuple):
    name: str
    position: int  # -1: keyword-only
    required: bool
    decode: Decoder
    identity: frozenset[type]


class MethodCodec(Generic[R_co]):
    """Requests and replies of one method, compiled once: build it with ``Method.codec``."""

    __slots__ = (
        "_by_name",
        "_keyword_required",
        "_label",
        "_method",
        "_omittable",
        "_positional",
        "_required",
        "_result",
    )

    def __init__(self, method: Method[R_co]) -> None:
        self._method = method
        self._label = f"{method.name}()"
        slots = []
        for index, param in enumerate(method.params):
            spec = spec_for(param.type)
            position = -1 if param.keyword_only else index
            slots.append(
                _Slot(param.name, position, not param.has_default, spec.decode, spec.identity)
            )
        self._positional = [slot for slot in slots if slot.position >= 0]
        self._by_name = {slot.name: slot for slot in slots}
        self._required = [slot for slot in slots if slot.required]
        self._keyword_required = any(slot.position < 0 for slot in self._required)
        self._omittable = len(self._required) < len(slots)
        self._result = spec_for(method.result)

    def encode_request(self, args: tuple[object, ...], kwargs: dict[str, object]) -> bytes:
        """The request body for a call; ``TypeError`` if an argument cannot be sent.

        An argument that is ``spec.OMITTED`` (a parameter the caller left out) is not sent: a
        positional one ends ``args``, and the positional arguments after it travel by name in
        ``kwargs`` (the server binds either).
        """
        # ``in`` compares by identity first, in C (measured 3-9x cheaper than any(... is ...) on
        # this machine); the values are IDL types, whose __eq__ never claims to equal OMITTED.
        if self._omittable and (OMITTED in args or OMITTED in kwargs.values()):
            args, kwargs = self._omit(args, kwargs)
        return dumps({"args": args, "kwargs": kwargs})

    def _omit(
        self, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        sent: dict[str, object] = {}
        for index, value in enumerate(args):
            if value is OMITTED:
                names = [slot.name for slot in self._positional[index + 1 :]]
                later = zip(names, args[index + 1 :], strict=False)
                sent = {name: v for name, v in later if v is not OMITTED}
                args = args[:index]
                break
        sent.update((k, v) for k, v in kwargs.items() if v is not OMITTED)
        return args, sent

    def decode_request(self, body: bytes) -> tuple[list[object], dict[str, object]]:
        """``wire.parse_request`` then ``decode_args``; raises a ``BadRequest`` subclass."""
        args, kwargs = wire.parse_request(body)
        return self.decode_args(args, kwargs)

    def decode_args(
        self, args: list[object], kwargs: dict[str, object]
    ) -> tuple[list[object], dict[str, object]]:
        """Bind a request's arguments to the parameters and decode each to its declared type.

        Raises ``IncorrectSignature`` for too many positional arguments, an unknown or repeated
        keyword, a missing required argument, or a value of the wrong type (naming the parameter,
        the expected type and what arrived). Omitted parameters with defaults stay omitted.
        """
        if kwargs or len(args) != len(self._positional) or self._keyword_required:
            self._bind(len(args), kwargs)  # else every parameter arrived positionally, once
        decode = self._decode
        out_args = []
        for slot, value in zip(self._positional, args, strict=False):
            # A JSON value the type takes as it is (str for str...) needs no call.
            out_args.append(value if type(value) in slot.identity else decode(slot, value))
        if not kwargs:
            return out_args, kwargs
        by_name = self._by_name
        return out_args, {key: decode(by_name[key], value) for key, value in kwargs.items()}

    def _bind(self, given: int, kwargs: dict[str, object]) -> None:
        expected = len(self._positional)
        if given > expected:
            plural, verb = "" if expected == 1 else "s", "was" if given == 1 else "were"
            raise errors.IncorrectSignature(
                f"{self._label} takes {expected} positional argument{plural} "
                f"but {given} {verb} given"
            )
        for key in kwargs:
            slot = self._by_name.get(key)
            if slot is None:
                raise errors.IncorrectSignature(
                    f"{self._label} got an unexpected keyword argument {key!r}"
                )
            if 0 <= slot.position < given:
                raise errors.IncorrectSignature(
                    f"{self._label} got multiple values for argument {key!r}"
                )
        missing = [
            slot.name
            for slot in self._required
            if not 0 <= slot.position < given and slot.name not in kwargs
        ]
        if missing:
            names = ", ".join(repr(name) for name in missing)
            plural = "s" if len(missing) > 1 else ""
            raise errors.IncorrectSignature(
                f"{self._label} missing required argument{plural} {names}"
            )

    def _decode(self, slot: _Slot, value: object) -> object:
        if type(value) in slot.identity:
            return value
        try:
            return slot.decode(value)
        except DecodeError as exc:
            where = f"argument {slot.name!r}"
            if exc.path:
                where += f" at {exc.at(slot.name)}"
            raise errors.IncorrectSignature(
                f"{self._label}: {where} expected {exc.expected}, got {exc.got}"
            ) from None

    def encode_reply(self, result: object) -> bytes:
        """The reply body for a result; if it cannot be encoded, an ``UnserializableValueError``
        reply with a null result, as Nameko sends."""
        try:
            return self.encode_result(result)
        except errors.UnserializableValueError as exc:
            return wire.error_reply(exc)

    def encode_result(self, result: object) -> bytes:
        """The reply body for a result; ``UnserializableValueError`` if it cannot be encoded."""
        try:
            return dumps({"result": result, "error": None})
        except Exception:  # TypeError, RecursionError, or a failing property of a dataclass
            raise errors.UnserializableValueError(result) from None

    def decode_result(self, raw: object) -> R_co:
        """A reply's result as the declared type; ``ResultTypeError`` if it does not fit."""
        if type(raw) in self._result.identity:
            return cast(R_co, raw)
        try:
            return cast(R_co, self._result.decode(raw))
        except DecodeError as exc:
            where = f" at {exc.at('result')}" if exc.path else ""
            raise errors.ResultTypeError(
                f"{self._method.routing_key}: result{where} expected {exc.expected}, got {exc.got}"
            ) from None

    def decode_reply(self, body: bytes) -> R_co:
        """A reply body's result, or raise its error (declared, protocol or ``RemoteError``)."""
        result, error = wire.parse_reply(body)
        if error is not None:
            raise errors.deserialize_error(error, self._method.errors)
        return self.decode_result(result)


class EventCodec(Generic[P]):
    """The payload of one event: encoded as the body itself, decoded and validated."""

    __slots__ = ("_label", "_spec")

    def __init__(self, event: Event[P]) -> None:
        self._label = event.label
        self._spec = spec_for(event.payload)

    def encode(self, payload: P) -> bytes:
        """The event's body: the payload itself, unwrapped; ``TypeError`` if it cannot be sent."""
        return dumps(payload)

    def decode(self, body: bytes) -> P:
        """The payload of an event body; ``MalformedRequest`` or ``IncorrectSignature``."""
        try:
            raw = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise errors.MalformedRequest(
                f"{self._label}: the event body is not JSON: {exc}"
            ) from None
        if type(raw) in self._spec.identity:
            return cast(P, raw)
        try:
            return cast(P, self._spec.decode(raw))
        except DecodeError as exc:
            where = f" at {exc.at('payload')}" if exc.path else ""
            raise errors.IncorrectSignature(
                f"{self._label}: payload{where} expected {exc.expected}, got {exc.got}"
            ) from None

    def decode_reply(self, body: bytes) -> None:
        """A dispatch completes with nothing to decode (``RpcFuture`` of an event)."""
        return None

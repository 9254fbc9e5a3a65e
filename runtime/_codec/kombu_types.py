"""kombu's JSON form of datetime, date, time, Decimal, UUID and bytes (``docs/wire.md`` §4).

kombu>=5.3 (what current Nameko installs) writes ``{"__type__": tag, "__value__": ...}`` markers;
kombu<=5.2 wrote plain strings and could not send bytes. rpcgen writes the markers exactly as
kombu>=5.3.1 does and reads both forms. The decoders here raise ``ValueError`` on a mismatch;
``rpcgen.runtime._codec.decoding`` turns that into a ``DecodeError`` naming the type.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import uuid
from collections.abc import Callable
from datetime import date, datetime, time

__all__ = ["DECODERS", "encode"]


def _marker(tag: str, value: object) -> dict[str, object]:
    return {"__type__": tag, "__value__": value}


def encode(value: object) -> dict[str, object] | None:
    """The marker for a special-type value, or None if ``value`` is not one of them."""
    # datetime before date: a datetime is a date too.
    if isinstance(value, datetime):
        return _marker("datetime", value.isoformat())
    if isinstance(value, date):
        return _marker("date", value.isoformat())
    if isinstance(value, time):
        return _marker("time", value.isoformat())
    if isinstance(value, decimal.Decimal):
        return _marker("decimal", str(value))
    if isinstance(value, uuid.UUID):
        return _marker("uuid", {"hex": value.hex})  # kombu 5.3.1+; 5.3.0 also sent "version"
    if isinstance(value, bytes):
        try:
            return _marker("bytes", value.decode("utf-8"))
        except UnicodeDecodeError:
            return _marker("base64", base64.b64encode(value).decode("ascii"))
    return None


def _unwrap(raw: object, tag: str, legacy: bool) -> str:
    """The text inside a ``tag`` marker, or ``raw`` itself when plain strings are accepted."""
    if type(raw) is dict:
        if len(raw) == 2 and raw.get("__type__") == tag and type(raw.get("__value__")) is str:
            text: str = raw["__value__"]
            return text
    elif legacy and type(raw) is str:
        return raw
    raise ValueError(raw)


def _utc_z(text: str) -> str:
    # kombu<=5.2 wrote UTC as "Z", which datetime.fromisoformat accepts only from Python 3.11.
    return text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text


def decode_datetime(raw: object) -> datetime:
    return datetime.fromisoformat(_utc_z(_unwrap(raw, "datetime", legacy=True)))


def decode_date(raw: object) -> date:
    text = _unwrap(raw, "date", legacy=True)
    # kombu>=5.3 writes "2020-01-02"; kombu<=5.2 wrote the midnight datetime.
    return date.fromisoformat(text) if len(text) == 10 else decode_datetime(text).date()


def decode_time(raw: object) -> time:
    return time.fromisoformat(_utc_z(_unwrap(raw, "time", legacy=True)))


def decode_decimal(raw: object) -> decimal.Decimal:
    # A plain JSON number is accepted too: a Nameko caller may well send 1.5 for a Decimal.
    # repr() makes 0.1 Decimal("0.1") rather than the float's binary expansion.
    text = repr(raw) if type(raw) in (int, float) else _unwrap(raw, "decimal", legacy=True)
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(text) from None


def decode_uuid(raw: object) -> uuid.UUID:
    if type(raw) is dict and raw.get("__type__") == "uuid" and len(raw) == 2:
        value = raw.get("__value__")
        if type(value) is dict:  # {"hex": ...}, and kombu 5.3.0 adds "version"
            value = value.get("hex")
        if type(value) is str:
            return uuid.UUID(value)
    elif type(raw) is str:
        return uuid.UUID(raw)
    raise ValueError(raw)


def decode_bytes(raw: object) -> bytes:
    if type(raw) is dict and raw.get("__type__") == "base64":
        try:
            return base64.b64decode(_unwrap(raw, "base64", legacy=False), validate=True)
        except binascii.Error as exc:
            raise ValueError(str(exc)) from None
    return _unwrap(raw, "bytes", legacy=False).encode("utf-8")  # surrogates: UnicodeError


# type -> (decoder raising ValueError, JSON types it converts besides the marker object)
DECODERS: dict[type, tuple[Callable[[object], object], frozenset[type]]] = {
    datetime: (decode_datetime, frozenset({str})),
    date: (decode_date, frozenset({str})),
    time: (decode_time, frozenset({str})),
    decimal.Decimal: (decode_decimal, frozenset({str, int, float})),
    uuid.UUID: (decode_uuid, frozenset({str})),
    bytes: (decode_bytes, frozenset()),
}

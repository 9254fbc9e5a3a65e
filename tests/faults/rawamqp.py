"""Publishing what pika will not: header fields of any AMQP type, for poison-message tests.

pika decodes every AMQP field type but encodes only some (no floats, no unsigned 64-bit
ints). Other brokers' clients (py-amqp under Nameko, Java, Go) send them, so a server must
survive them. ``RawField(tag, payload)`` is written verbatim while ``raw_fields()`` is active.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pika import data as pika_data


@dataclass(frozen=True)
class RawField:
    """One AMQP field value: its type tag (e.g. ``b"d"``) and its encoded payload."""

    tag: bytes
    payload: bytes


def float64(value: float) -> RawField:
    return RawField(b"d", struct.pack(">d", value))


def float32(value: float) -> RawField:
    return RawField(b"f", struct.pack(">f", value))


def uint64(value: int) -> RawField:
    return RawField(b"L", struct.pack(">Q", value))


def timestamp(seconds: int) -> RawField:
    return RawField(b"T", struct.pack(">Q", seconds))


@contextmanager
def raw_fields() -> Iterator[None]:
    """Let pika encode ``RawField`` values (and plain floats, as float64) in header tables."""
    original = pika_data.encode_value

    def encode_value(pieces: list[bytes], value: Any) -> int:
        if isinstance(value, float):
            value = float64(value)
        if isinstance(value, RawField):
            pieces.append(value.tag + value.payload)
            return 1 + len(value.payload)
        return int(original(pieces, value))

    pika_data.encode_value = encode_value
    try:
        yield
    finally:
        pika_data.encode_value = original

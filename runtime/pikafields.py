"""Make pika's header decoding total: a header it cannot turn into Python must not kill a link.

pika decodes a message's properties inside its frame reader, before rpcgen sees the message.
A valid AMQP timestamp beyond Python's ``datetime`` range (e.g. ``2**62`` seconds) makes that
decoder raise, pika then drops the whole connection, and the broker redelivers the same message
to the reconnected consumer: a poison message crash-looping a server (or, in a reply queue, a
client). ``install()`` wraps pika's ``decode_value`` so such a timestamp decodes to its integer
seconds instead; every other field is decoded by pika unchanged. It is installed when
``rpcgen.runtime`` is imported (by ``dispatch``) and is idempotent.
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from typing import Any

from pika import data as pika_data

__all__ = ["install"]

_TIMESTAMP = b"T"


def _tolerant(original: Any) -> Any:
    def decode_value(encoded: bytes, offset: int) -> tuple[Any, int]:
        if encoded[offset : offset + 1] != _TIMESTAMP:
            decoded: tuple[Any, int] = original(encoded, offset)
            return decoded
        (seconds,) = struct.unpack_from(">Q", encoded, offset + 1)
        try:
            return datetime.fromtimestamp(seconds, timezone.utc), offset + 9
        except (OverflowError, OSError, ValueError):
            return seconds, offset + 9

    decode_value.rpcgen_tolerant = True  # type: ignore[attr-defined]
    return decode_value


def install() -> None:
    """Wrap ``pika.data.decode_value`` (nested tables and arrays look it up there too)."""
    if not getattr(pika_data.decode_value, "rpcgen_tolerant", False):
        pika_data.decode_value = _tolerant(pika_data.decode_value)

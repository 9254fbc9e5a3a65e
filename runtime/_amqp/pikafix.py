"""pika fixes, installed by ``install()`` when a ``Connection`` is created, never on import.

1. Make pika's header decoding total: a header it cannot turn into Python must not kill a link.

pika decodes a message's properties inside its frame reader, before rpcgen sees the message.
A valid AMQP timestamp beyond Python's ``datetime`` range (e.g. ``2**62`` seconds) makes that
decoder raise, pika then drops the whole connection, and the broker redelivers the same message
to the reconnected consumer: a poison message crash-looping a server (or, in a reply queue, a
client). ``install()`` wraps pika's ``decode_value`` so such a timestamp decodes to its integer
seconds instead; every other field is decoded by pika unchanged.

2. pika's ERROR records about a failed connection attempt, inside rpcgen's own turns, drop to
DEBUG: rpcgen reports each attempt itself, in one WARNING with the password masked ("cannot
connect ...; reconnecting in 0.4 s"), where pika wrote seven ERROR lines. Records of other pika
users in the process are left alone.

``install()`` is idempotent. Importing ``rpcgen.runtime`` or a generated module changes nothing
in pika (a test checks it); a process that opens an rpcgen connection gets both fixes.
"""

from __future__ import annotations

import logging
import struct
from datetime import datetime, timezone
from typing import Any

from pika import data as pika_data
from rpcgen.runtime._amqp.driving import in_turn

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


class _QuietAttempts(logging.Filter):
    """Lowers pika's ERROR records emitted inside an rpcgen turn to DEBUG (see the docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not in_turn():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_QUIET = _QuietAttempts()
_NOISY_LOGGERS = (
    "pika.connection",  # "Probably incompatible Protocol Versions" for a reset during the handshake
    "pika.adapters.base_connection",
    "pika.adapters.utils.connection_workflow",
    "pika.adapters.utils.io_services_utils",
)


def install() -> None:
    """Install both fixes once per process (later calls do nothing)."""
    # Wrap ``pika.data.decode_value`` (nested tables and arrays look it up there too).
    if not getattr(pika_data.decode_value, "rpcgen_tolerant", False):
        pika_data.decode_value = _tolerant(pika_data.decode_value)
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)

"""pika fixes, installed by ``install()`` when a ``Connection`` is created, never on import.

1. Make pika's header decoding total and bounded: a header table it cannot (or must not) turn
into Python must not kill a link.

pika decodes a message's properties inside its frame reader, before rpcgen sees the message.
Whatever that decoder raises makes pika drop the whole connection, and the broker redelivers the
same message to the reconnected consumer: a poison message looping a server (or, in a reply
queue, a client) through reconnects for ever. ``install()`` wraps pika's ``decode_value`` and
``decode_table``:

- a valid AMQP timestamp beyond Python's ``datetime`` range (e.g. ``2**62`` seconds) decodes to
  its integer seconds;
- a table nested deeper than ``MAX_HEADER_DEPTH`` levels of tables and arrays (a 5,000-level
  table, 35 KB, made pika's recursive decoder raise ``RecursionError``), one holding more than
  ``MAX_HEADER_VALUES`` values in all, or one pika cannot decode at all (an unknown field type,
  a truncated value), decodes to an empty ``UndecodedHeaders`` whose ``reason`` says why. The
  table's length prefix says where it ends, so the rest of the frame is read as usual, and the
  message reaches the dispatcher (or an event handler), which refuses it as malformed
  (``undecoded``).

Every other field is decoded by pika unchanged.

2. pika's ERROR records about a failed connection attempt, inside rpcgen's own cycles, drop to
DEBUG: rpcgen reports each attempt itself, in one WARNING with the password masked ("cannot
connect ...; reconnecting in 0.4 s"), where pika wrote seven ERROR lines. Records of other pika
users in the process are left alone.

``install()`` is idempotent. Importing ``rpcgen.runtime`` or a generated module changes nothing
in pika (a test checks it); a process that opens an rpcgen connection gets both fixes.
"""

from __future__ import annotations

import logging
import struct
import threading
from datetime import datetime, timezone
from typing import Any

from pika import data as pika_data
from rpcgen.runtime._amqp.driving import in_cycle
from rpcgen.runtime._codec.wire import UndecodedHeaders, undecoded

__all__ = ["MAX_HEADER_DEPTH", "MAX_HEADER_VALUES", "UndecodedHeaders", "install", "undecoded"]

MAX_HEADER_DEPTH = 32
"""Deepest nesting of tables and arrays decoded in one table (the table itself is level 1)."""
MAX_HEADER_VALUES = 4096
"""Most values (at every level, tables and arrays included) decoded in one table."""

_TIMESTAMP = b"T"
_NESTED = (b"F", b"A")


class _OverBound(Exception):
    pass


class _Decoding(threading.local):
    depth = 0  # 0: outside any table; 1: in a top-level table (a message's headers)
    values = 0  # values decoded so far in the top-level table


_state = _Decoding()


def _bounded_value(original: Any) -> Any:
    def decode_value(encoded: bytes, offset: int) -> tuple[Any, int]:
        state = _state
        state.values += 1
        if state.values > MAX_HEADER_VALUES:
            raise _OverBound(f"more than {MAX_HEADER_VALUES} values")
        kind = encoded[offset : offset + 1]
        if kind == _TIMESTAMP:
            (seconds,) = struct.unpack_from(">Q", encoded, offset + 1)
            try:
                return datetime.fromtimestamp(seconds, timezone.utc), offset + 9
            except (OverflowError, OSError, ValueError):
                return seconds, offset + 9
        if kind not in _NESTED:
            decoded: tuple[Any, int] = original(encoded, offset)
            return decoded
        if state.depth >= MAX_HEADER_DEPTH:
            raise _OverBound(f"tables and arrays nested deeper than {MAX_HEADER_DEPTH} levels")
        state.depth += 1
        try:
            nested: tuple[Any, int] = original(encoded, offset)
            return nested
        finally:
            state.depth -= 1

    decode_value.rpcgen_tolerant = True  # type: ignore[attr-defined]
    return decode_value


def _bounded_table(original: Any) -> Any:
    def decode_table(encoded: bytes, offset: int) -> tuple[Any, int]:
        state = _state
        if state.depth:  # a nested table: bounded by decode_value
            nested: tuple[Any, int] = original(encoded, offset)
            return nested
        (size,) = struct.unpack_from(">I", encoded, offset)
        state.depth, state.values = 1, 0
        try:
            decoded: tuple[Any, int] = original(encoded, offset)
            return decoded
        except _OverBound as exc:
            reason = f"a header table of {size} bytes with {exc}"
        except Exception as exc:  # RecursionError, an unknown field type, a truncated value
            reason = f"a header table of {size} bytes pika cannot decode: {exc!r}"[:500]
        finally:
            state.depth = 0
        return UndecodedHeaders(reason), offset + 4 + size

    decode_table.rpcgen_tolerant = True  # type: ignore[attr-defined]
    return decode_table


class _QuietAttempts(logging.Filter):
    """Lowers pika's ERROR records emitted inside an rpcgen cycle to DEBUG (see the docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not in_cycle():
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
    # Wrap ``pika.data.decode_value`` and ``decode_table`` (pika's spec and the nested tables
    # and arrays look them up there).
    if not getattr(pika_data.decode_value, "rpcgen_tolerant", False):
        pika_data.decode_value = _bounded_value(pika_data.decode_value)
    if not getattr(pika_data.decode_table, "rpcgen_tolerant", False):
        pika_data.decode_table = _bounded_table(pika_data.decode_table)
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)

"""Frames out and in: one send per cycle, a send without a poll round, a read without a retry.

``BatchingConnection`` collects the frames of a cycle in an ``outbox`` that the I/O driver
flushes in one ``send()``.

pika's plaintext transport buffers every ``write()``, turns on write interest, and sends only
when the loop next reports the socket writable: two ``poller.modify`` calls and a dispatch
through pika's handler chain for each buffer. It reads 4 KiB per ``recv()`` and keeps reading
until the socket says ``EAGAIN``, so every readable event costs one ``recv()`` that finds
nothing. ``install`` changes both on one connection's transport instance (never pika's class):

- ``write`` sends at once when nothing is queued ahead; only what the socket does not take
  (a full send buffer) goes through pika's buffered path, which keeps the byte order intact.
  A send that fails is handed to that path too, so pika meets the error and aborts the
  connection its own way.
- reads take up to 64 KiB at a time (a 1 MB reply arrives in ~16 reads, not 256) and stop at a
  short read: the socket is drained for now, and the level-triggered poll reports what comes
  next.

TLS connections keep pika's transport: an SSL socket can hold decrypted bytes that ``poll``
does not see, so a short read does not mean drained there.

``publish`` is a drop-in for ``channel.basic_publish`` that marshals the method, header and body
frames in one go, with the same bytes as pika: pika builds a ``Basic.Publish`` object, three frame
objects and encodes the properties through its generic table encoder, about a tenth of a call's
CPU. Header values other than strings and lists of them are still encoded by pika's encoder.
"""

from __future__ import annotations

import functools
import logging
import struct
from functools import partial
from typing import Any

from pika import data as pika_data
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport
from pika.exceptions import ShortStringTooLong
from pika.spec import BasicProperties
from rpcgen.runtime._amqp import pikafix
from rpcgen.runtime._amqp.pikatypes import Pika
from rpcgen.runtime._codec import wire

__all__ = [
    "RECV_BYTES",
    "BatchingConnection",
    "as_received",
    "encode_properties",
    "install",
    "publish",
]

log = logging.getLogger(__name__)

RECV_BYTES = 64 * 1024
"""Bytes asked of one ``recv()``: below glibc's mmap threshold, so no mmap per read."""

_MAX_CONSUME_BYTES = 1024 * 1024  # per readable event, so a flood cannot starve timers and writes


class BatchingConnection(SelectConnection):  # type: ignore[misc]
    """Hands the transport all frames of a cycle as one buffer, so a cycle costs one ``send()``.

    pika writes each frame separately (three for a publish, one for an ack) and its transport
    makes one system call per buffer; ``Driver.cycle`` flushes the outbox instead. ``publish``
    below appends its frames here too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.outbox: list[bytes] = []
        super().__init__(*args, **kwargs)

    def _adapter_emit_data(self, data: bytes) -> None:
        self.outbox.append(data)

    def flush_outbox(self) -> None:
        outbox = self.outbox
        if outbox:
            data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
            outbox.clear()
            if self._transport is not None:
                self._transport.write(data)

    def abort(self, error: Exception) -> None:
        """Drop the socket now, without a close handshake; pika then reports ``error``."""
        if not self.is_closed:
            self._terminate_stream(error)


def install(connection: Any) -> bool:
    """Tune the transport of a connected pika ``connection``; False if it keeps pika's own.

    Call it once the connection is open (its transport exists), under the lock that serialises
    the connection's I/O. Installing twice is harmless.
    """
    transport: Pika = getattr(connection, "_transport", None)
    if type(transport) is not _AsyncPlaintextTransport:  # TLS, or not connected
        return False
    if "_consume" in vars(transport):
        return True
    buffered_write = transport.write
    transport.write = partial(_write, transport, buffered_write)
    transport._consume = partial(_consume, transport)
    return True


def _write(transport: Pika, buffered_write: Any, data: bytes) -> None:
    if transport._tx_buffers or transport._state != transport._STATE_ACTIVE or not data:
        buffered_write(data)  # order behind what is queued; pika handles the odd states
        return
    try:
        sent = transport._sock.send(data)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        buffered_write(data)  # pika's send meets the same error and aborts the connection
        return
    if sent < len(data):
        buffered_write(data[sent:])


def _consume(transport: Pika) -> None:
    # Raises what pika's own _consume raises: BlockingIOError when nothing is there (pika's
    # caller treats it as "try again"), RxEndOfFile at end of stream.
    sock, protocol = transport._sock, transport._protocol
    consumed = 0
    while transport._state == transport._STATE_ACTIVE and consumed < _MAX_CONSUME_BYTES:
        data = sock.recv(RECV_BYTES)
        if not data:
            log.debug("socket EOF on %s", sock)
            raise transport.RxEndOfFile()
        consumed += len(data)
        protocol.data_received(data)
        if len(data) < RECV_BYTES:
            return


# -- publishing ---------------------------------------------------------------------------------

_FRAME_HEAD = struct.Struct(">BHI").pack  # frame type, channel, payload size
_FRAME_END = b"\xce"
_PUBLISH = struct.pack(">HHH", 60, 40, 0)  # Basic.Publish, ticket 0
_CONTENT_HEADER = struct.Struct(">HxxQ").pack  # class 60, weight 0, body size
_U16, _U32, _U64 = struct.Struct(">H").pack, struct.Struct(">I").pack, struct.Struct(">Q").pack
_P = BasicProperties


def publish(
    channel: Any,
    exchange: str,
    routing_key: str,
    body: bytes,
    properties: Any,
    mandatory: bool = False,
) -> None:
    """``channel.basic_publish(exchange, routing_key, body, properties, mandatory)``, leaner."""
    channel._raise_if_not_open()
    conn, number = channel.connection, channel.channel_number
    method = b"".join(
        (
            _PUBLISH,
            _short_cached(exchange),
            _short_cached(routing_key),
            b"\x01" if mandatory else b"\x00",
        )
    )
    header = _CONTENT_HEADER(60, len(body)) + encode_properties(properties)
    pieces: list[bytes | memoryview] = [_FRAME_HEAD(1, number, len(method)), method, _FRAME_END]
    pieces += (_FRAME_HEAD(2, number, len(header)), header, _FRAME_END)
    limit, size, view = conn._body_max_length, len(body), memoryview(body)
    for start in range(0, size, limit):
        chunk = view[start : start + limit]
        pieces += (_FRAME_HEAD(3, number, len(chunk)), chunk, _FRAME_END)
    data = b"".join(pieces)
    conn.bytes_sent += len(data)
    conn.frames_sent += len(pieces) // 3
    conn._adapter_emit_data(data)


def encode_properties(p: Any) -> bytes:
    """``BasicProperties`` as pika encodes them (flag word, then the properties that are set)."""
    flags, out = 0, []
    if p.content_type is not None:
        flags |= _P.FLAG_CONTENT_TYPE
        out.append(_short_cached(p.content_type))
    if p.content_encoding is not None:
        flags |= _P.FLAG_CONTENT_ENCODING
        out.append(_short_cached(p.content_encoding))
    if p.headers is not None:
        flags |= _P.FLAG_HEADERS
        out.append(_table(p.headers))
    if p.delivery_mode is not None:
        flags |= _P.FLAG_DELIVERY_MODE
        out.append(struct.pack("B", p.delivery_mode))
    if p.priority is not None:
        flags |= _P.FLAG_PRIORITY
        out.append(struct.pack("B", p.priority))
    if p.correlation_id is not None:
        flags |= _P.FLAG_CORRELATION_ID
        out.append(_short(p.correlation_id))
    if p.reply_to is not None:
        flags |= _P.FLAG_REPLY_TO
        out.append(_short_cached(p.reply_to))
    if p.expiration is not None:
        flags |= _P.FLAG_EXPIRATION
        out.append(_short_cached(p.expiration))
    if p.message_id is not None:
        flags |= _P.FLAG_MESSAGE_ID
        out.append(_short(p.message_id))
    if p.timestamp is not None:
        flags |= _P.FLAG_TIMESTAMP
        out.append(_U64(p.timestamp))
    for flag, value in (
        (_P.FLAG_TYPE, p.type),
        (_P.FLAG_USER_ID, p.user_id),
        (_P.FLAG_APP_ID, p.app_id),
        (_P.FLAG_CLUSTER_ID, p.cluster_id),
    ):
        if value is not None:
            flags |= flag
            out.append(_short(value))
    return _U16(flags) + b"".join(out)  # every flag fits the first word: no continuation


def as_received(props: Any) -> Any:
    """``props`` as a receiver decodes them from the wire (the in-memory transport's headers).

    Plain headers (``wire.is_plain_header``: everything rpcgen and Nameko send) decode to what
    was sent, so they are passed on as they are; anything else goes through the encoder above
    and pika's decoder (made total by ``pikafix``), which raise for what cannot be sent.
    """
    headers = props.headers
    if not headers or all(wire.is_plain_header(k, v) for k, v in headers.items()):
        return props
    pikafix.install()
    decoded = BasicProperties()
    decoded.decode(encode_properties(props))
    return decoded


def _short(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if len(raw) > 255:
        raise ShortStringTooLong(raw)
    return bytes((len(raw),)) + raw


_short_cached = functools.lru_cache(maxsize=512)(_short)
"""For names and constants that recur (exchange, routing keys, content type, reply-to)."""


def _table(table: dict[str, Any]) -> bytes:
    body = b"".join(_short_cached(key) + _value(value) for key, value in table.items())
    return _U32(len(body)) + body


def _value(value: Any) -> bytes:
    kind = type(value)
    if kind is str:
        raw: bytes = value.encode("utf-8")
        return b"S" + _U32(len(raw)) + raw
    if kind is list:
        items = b"".join(_value(item) for item in value)
        return b"A" + _U32(len(items)) + items
    pieces: list[bytes] = []
    pika_data.encode_value(pieces, value)  # anything else exactly as pika writes it
    return b"".join(pieces)

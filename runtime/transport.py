"""Leaner socket I/O for one pika connection: a send without a poll round, a read without a retry.

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
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport

__all__ = ["RECV_BYTES", "install"]

log = logging.getLogger(__name__)

RECV_BYTES = 64 * 1024
"""Bytes asked of one ``recv()``: below glibc's mmap threshold, so no mmap per read."""

_MAX_CONSUME_BYTES = 1024 * 1024  # per readable event, so a flood cannot starve timers and writes

_Transport = Any  # pika ships no type hints


def install(connection: Any) -> bool:
    """Tune the transport of a connected pika ``connection``; False if it keeps pika's own.

    Call it once the connection is open (its transport exists), under the lock that serialises
    the connection's I/O. Installing twice is harmless.
    """
    transport: _Transport = getattr(connection, "_transport", None)
    if type(transport) is not _AsyncPlaintextTransport:  # TLS, or not connected
        return False
    if "_consume" in vars(transport):
        return True
    buffered_write = transport.write
    transport.write = partial(_write, transport, buffered_write)
    transport._consume = partial(_consume, transport)
    return True


def _write(transport: _Transport, buffered_write: Any, data: bytes) -> None:
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


def _consume(transport: _Transport) -> None:
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

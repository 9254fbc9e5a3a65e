"""Start-up that waits for the broker: ``open_when_up`` retries the first connection.

A server started before its broker (docker-compose, Kubernetes start ordering) would otherwise
exit at once with ``ConnectionRefusedError`` and crash-loop. ``open_when_up`` tries again
after capped exponential delays with jitter (``STARTUP_BACKOFF``), logging each failed attempt,
until ``startup_timeout`` seconds have passed since the first attempt; then it raises
``StartupTimeout`` (an ``RpcConnectionError``) saying how long it tried and the last error.
Clients do not wait this way: they keep their ``connect_timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rpcgen.runtime._amqp import Backoff
from rpcgen.runtime._connect import open_connection
from rpcgen.runtime._transport import Transport
from rpcgen.runtime.errors import RpcConnectionError

if TYPE_CHECKING:
    from rpcgen.runtime.options import ConnectionOptions
    from typing_extensions import Unpack

__all__ = ["STARTUP_BACKOFF", "StartupAborted", "StartupTimeout", "open_when_up"]

log = logging.getLogger("rpcgen.runtime.server")

STARTUP_BACKOFF = Backoff(initial=0.5, max=10.0, factor=2.0, jitter=0.2)
"""Delays between start-up attempts: 0.5 s doubling up to 10 s, each spread by +-20%."""


class StartupTimeout(RpcConnectionError):
    """The broker was not reachable within the start-up limit."""


class StartupAborted(RpcConnectionError):
    """A stop was requested while waiting for the broker."""


def open_when_up(
    uri: str | Sequence[str] | None,
    startup_timeout: float,
    stop: threading.Event | None = None,
    *,
    reply_queue: bool = True,
    backoff: Backoff = STARTUP_BACKOFF,
    **options: Unpack[ConnectionOptions],
) -> Transport:
    """``open_connection(uri, ...)``, tried again on ``RpcConnectionError`` until
    ``startup_timeout`` seconds have passed (0: one attempt); ``stop`` being set ends the wait
    (``StartupAborted``)."""
    stop = stop if stop is not None else threading.Event()
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            connection = open_connection(uri, reply_queue=reply_queue, **options)
        except RpcConnectionError as exc:
            waited = time.monotonic() - started
            left = startup_timeout - waited
            if left <= 0:
                if startup_timeout <= 0:
                    raise
                raise StartupTimeout(
                    f"gave up after {attempt} attempts in {waited:.0f} s (the start-up limit "
                    f"is {startup_timeout:g} s): {exc}"
                ) from exc
            delay = min(backoff.delay(attempt), left)
            log.warning(
                "broker not reachable (attempt %d): %s; retrying in %.1f s, giving up in %.0f s",
                attempt,
                exc,
                delay,
                left,
            )
            if stop.wait(delay):
                raise StartupAborted("stopped while waiting for the broker") from exc
            continue
        if attempt > 1:
            log.info("connected after %d attempts", attempt)
        return connection

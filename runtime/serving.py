"""The three ways to run a server: ``serve`` (blocking), ``serve_main`` (``rpcgen serve``) and
``run_in_background`` (tests, demos), each over one ``ServiceRunner``.

``serve`` installs SIGTERM/SIGINT handlers (main thread only) that stop the runner gracefully:
requests and events already received are finished, answered and acked, the stop hooks run, and
it returns. ``serve_main`` takes the server's class or any factory that returns the instance
(``rpcgen serve module:make_server``), so a service can read its configuration first.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rpcgen.runtime import logs
from rpcgen.runtime._codec.wire import DEFAULT_EXCHANGE
from rpcgen.runtime._startup import StartupAborted
from rpcgen.runtime._transport import Transport
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.probes import ProbeServer
from rpcgen.runtime.server import Server, ServiceRunner

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["run_in_background", "serve", "serve_main"]

log = logging.getLogger("rpcgen.runtime.server")

DEFAULT_STARTUP_TIMEOUT = 60.0
"""How long ``serve`` waits for a broker that is not up yet, in seconds."""


@contextmanager
def run_in_background(
    server: Server,
    uri: str | Sequence[str] | None = None,
    *,
    connection: Transport | None = None,
    max_workers: int = 10,
    prefetch: int | None = None,
    queue_type: str | None = None,
    **options: Unpack[ConnectionOptions],
) -> Iterator[ServiceRunner]:
    """Serve ``server`` in background threads for the duration of the block (tests, demos)."""
    runner = ServiceRunner(
        server,
        uri,
        connection=connection,
        max_workers=max_workers,
        prefetch=prefetch,
        queue_type=queue_type,
        **options,
    )
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def serve(
    server: Server,
    uri: str | Sequence[str] | None = None,
    *,
    max_workers: int = 10,
    prefetch: int | None = None,
    shutdown_timeout: float | None = None,
    queue_type: str | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    http_port: int | None = None,
    http_host: str = "0.0.0.0",
    **options: Unpack[ConnectionOptions],
) -> None:
    """Serve ``server`` until SIGTERM or SIGINT, then stop gracefully and return.

    With ``http_port``, ``/healthz`` and ``/readyz`` are served on ``http_host:http_port``
    from before the broker is reached until the stop is over (``probes.ProbeServer``).

    A broker that is not up yet is waited for, with backoff, up to ``startup_timeout``
    seconds (then ``StartupTimeout``, an ``RpcConnectionError``; a signal meanwhile returns).
    Requests already received are finished, answered and acked before returning (within
    ``shutdown_timeout`` seconds, if given). A lost broker is reconnected to as ``reconnect``
    says; raises ``RpcConnectionError`` only if reconnecting is given up (at once with
    ``reconnect=None``). Signal handlers are installed only when called from the main thread.
    """
    runner = ServiceRunner(
        server,
        uri,
        max_workers=max_workers,
        prefetch=prefetch,
        queue_type=queue_type,
        startup_timeout=startup_timeout,
        **options,
    )
    probes = None if http_port is None else ProbeServer(runner, http_port, http_host)
    if probes is not None:
        probes.start()
    # Before start: a signal also ends the wait for a broker that is not up yet.
    restore = _on_signals(runner.stopping.set)
    try:
        try:
            runner.start()
        except StartupAborted:
            log.info("stopped %s before it connected", server.service_name)
            return
        try:
            while not runner.stopping.wait(1.0):
                pass
            log.info("stopping %s", server.service_name)
        finally:
            runner.stop(shutdown_timeout)
    finally:
        restore()
        if probes is not None:
            probes.close()
    if runner.error is not None:
        raise runner.error


def serve_main(
    factory: Callable[[], Server],
    amqp_uri: str | Sequence[str] | None = None,
    max_workers: int = 10,
    queue_type: str | None = None,
    prefetch: int | None = None,
    *,
    exchange: str = DEFAULT_EXCHANGE,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    log_level: str = "INFO",
    log_format: str = "text",
    http_port: int | None = None,
    http_host: str = "0.0.0.0",
) -> int:
    """Entry point of ``rpcgen serve module:obj``: serve ``factory()`` (a ``Server`` subclass or
    a function returning an instance) and return an exit code.

    Logging is configured (``logs.configure``: ``log_level``, ``log_format`` ``text`` or
    ``json``) after ``factory()`` runs and only if the root logger has no handler by then, so
    an application that configures its own logging keeps it.
    """
    server = factory()
    logs.configure(log_level, log_format, service=server.service_name)
    try:
        serve(
            server,
            amqp_uri,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            startup_timeout=startup_timeout,
            http_port=http_port,
            http_host=http_host,
            exchange=exchange,
        )
    except RpcConnectionError as exc:
        log.error("%s", exc)
        return 1
    return 0


def _on_signals(handler: Callable[[], None]) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``handler``; returns a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    sigs = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda _s, _f: handler()) for sig in sigs}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore

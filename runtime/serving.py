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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rpcgen.runtime import logs
from rpcgen.runtime._codec.wire import DEFAULT_EXCHANGE
from rpcgen.runtime._startup import StartupAborted
from rpcgen.runtime._transport import Transport
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.probes import ProbeServer, Response
from rpcgen.runtime.server import Server, ServiceRunner

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["run_in_background", "serve", "serve_main"]

log = logging.getLogger(__name__)

DEFAULT_STARTUP_TIMEOUT = 60.0
"""How long ``serve`` waits for a broker that is not up yet, in seconds."""
DEFAULT_DRAIN_TIMEOUT = 25.0
"""How long ``rpcgen serve`` lets running handlers finish after SIGTERM: under Kubernetes'
default 30 s grace period, leaving time to hand back what is left and disconnect."""
EXIT_DRAIN_CUT_SHORT = 3
"""``rpcgen serve``'s exit status when the drain deadline (or a second signal) cut it short."""


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
    http_routes: Mapping[str, Callable[[], Response]] | None = None,
    **options: Unpack[ConnectionOptions],
) -> bool:
    """Serve ``server`` until SIGTERM or SIGINT, then drain and return whether the drain
    finished (False: cut short).

    With ``http_port``, ``/healthz`` and ``/readyz`` are served on ``http_host:http_port``
    from before the broker is reached until the stop is over (``probes.ProbeServer``), and
    each of ``http_routes`` (path: a function returning status, content type and body; e.g.
    ``/metrics``, ``rpcgen.prometheus.render``).

    A broker that is not up yet is waited for, with backoff, up to ``startup_timeout``
    seconds (then ``StartupTimeout``, an ``RpcConnectionError``; a signal meanwhile returns).
    The drain (``ServiceRunner.stop``): requests and events received but not started are
    handed back to the broker at once; running ones get ``shutdown_timeout`` seconds (None: no
    limit); then those still running are handed back too, each logged. A second signal ends
    the drain at once. A lost broker is reconnected to as ``reconnect`` says; raises
    ``RpcConnectionError`` only if reconnecting is given up (at once with ``reconnect=None``).
    Signal handlers are installed only when called from the main thread.
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
        for path, respond in (http_routes or {}).items():
            probes.route(path, respond)
        probes.start()
    # Before start: a signal also ends the wait for a broker that is not up yet.
    restore = _on_signals(runner.stopping.set, runner.stop_now)
    try:
        try:
            runner.start()
        except StartupAborted:
            log.info("stopped %s before it connected", server.service_name)
            return True
        try:
            while not runner.stopping.wait(1.0):
                pass
            limit = "" if shutdown_timeout is None else f" (at most {shutdown_timeout:g} s)"
            log.info("draining %s%s; a second signal stops at once", server.service_name, limit)
        finally:
            settled = runner.stop(shutdown_timeout)
    finally:
        restore()
        if probes is not None:
            probes.close()
    if runner.error is not None:
        raise runner.error
    if not settled:
        log.warning("stopped %s with its drain cut short", server.service_name)
    return settled


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
    drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT,
    http_routes: Mapping[str, Callable[[], Response]] | None = None,
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
        settled = serve(
            server,
            amqp_uri,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            startup_timeout=startup_timeout,
            http_port=http_port,
            http_host=http_host,
            http_routes=http_routes,
            shutdown_timeout=drain_timeout,
            exchange=exchange,
        )
    except RpcConnectionError as exc:
        log.error("%s", exc)
        return 1
    return 0 if settled else EXIT_DRAIN_CUT_SHORT


def _on_signals(first: Callable[[], None], again: Callable[[], None]) -> Callable[[], None]:
    """Route the first SIGTERM or SIGINT to ``first``, later ones to ``again``; returns a
    function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    sigs = (signal.SIGTERM, signal.SIGINT)
    seen: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        seen.append(signum)
        (first if len(seen) == 1 else again)()

    previous = {sig: signal.signal(sig, on_signal) for sig in sigs}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore

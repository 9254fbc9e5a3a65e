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
from rpcgen.runtime._startup import StartupAborted, open_when_up
from rpcgen.runtime._transport import Transport
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.hooks import hooks_of
from rpcgen.runtime.middleware import Middleware
from rpcgen.runtime.once import Once
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
    max_concurrency: int | None = None,
    middleware: Sequence[Middleware] = (),
    once: Once | bool = True,
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
        max_concurrency=max_concurrency,
        middleware=middleware,
        once=once,
        **options,
    )
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def serve(
    server: Server | Sequence[Server],
    uri: str | Sequence[str] | None = None,
    *,
    max_workers: int = 10,
    prefetch: int | None = None,
    shutdown_timeout: float | None = None,
    queue_type: str | None = None,
    max_concurrency: int | None = None,
    middleware: Sequence[Middleware] = (),
    once: Once | bool = True,
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

    ``server`` may be a list of servers (``rpcgen serve a:A b:B``): they share one connection,
    each keeps its own queues, prefetch, workers and loop, every one gets the settings given
    here, a signal drains them all side by side, and the probes answer for all of them.
    ``once`` (see ``ServiceRunner``): a given ``Once`` is shared by them all (each remembers
    its own queues' messages in it).
    """
    servers = [server] if isinstance(server, Server) else list(server)
    if not servers:
        raise ValueError("nothing to serve")
    names = [s.service_name for s in servers]
    if len(set(names)) != len(names):
        raise ValueError(f"two servers of one service in one process: {names}")
    hub = _Runners()
    stopping = threading.Event()  # the first signal (also ends the wait for the broker)

    def first() -> None:
        stopping.set()
        for runner in hub.runners:
            runner.stopping.set()

    def again() -> None:
        stopping.set()
        for runner in hub.runners:
            runner.stop_now()

    def runner_of(s: Server, connection: Transport | None, **more: float) -> ServiceRunner:
        return ServiceRunner(
            s,
            uri,
            connection=connection,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            max_concurrency=max_concurrency,
            middleware=middleware,
            once=once,
            **more,
            **options,
        )

    connection: Transport | None = None
    if len(servers) == 1:  # the runner owns its connection and waits for the broker itself
        hub.runners.append(runner_of(servers[0], None, startup_timeout=startup_timeout))
    probes = None if http_port is None else ProbeServer(hub, http_port, http_host)
    if probes is not None:
        for path, respond in (http_routes or {}).items():
            probes.route(path, respond)
        probes.start()
    # Before start: a signal also ends the wait for a broker that is not up yet.
    restore = _on_signals(first, again)
    settled = True
    try:
        try:
            if len(servers) > 1:
                calls_out = any(hooks_of(s, "start") for s in servers)
                shared: ConnectionOptions = {**options, "client_name": "+".join(names)}
                connection = open_when_up(
                    uri, startup_timeout, stopping, reply_queue=calls_out, **shared
                )
                hub.runners.extend(runner_of(s, connection) for s in servers)
                if stopping.is_set():
                    first()
            for runner in hub.runners:
                runner.start()
                hub.started.append(runner)
        except StartupAborted:
            log.info("stopped %s before it connected", ", ".join(names))
            return True
        finally:
            if len(hub.started) < len(hub.runners):  # a start failed: stop those started
                settled = _stop_all(hub.started, shutdown_timeout)
        try:
            while not any(r.stopping.is_set() for r in hub.runners):
                stopping.wait(0.5)
            limit = "" if shutdown_timeout is None else f" (at most {shutdown_timeout:g} s)"
            log.info("draining %s%s; a second signal stops at once", ", ".join(names), limit)
        finally:
            first()  # one runner stopping (its connection lost for good) stops them all
            settled = _stop_all(hub.started, shutdown_timeout)
    finally:
        restore()
        if connection is not None:
            connection.close()
        if probes is not None:
            probes.close()
    for runner in hub.started:
        if runner.error is not None:
            raise runner.error
    if not settled:
        log.warning("stopped %s with its drain cut short", ", ".join(names))
    return settled


def serve_main(
    factory: Callable[[], Server] | Sequence[Callable[[], Server]],
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
    max_concurrency: int | None = None,
    once: Once | bool = True,
) -> int:
    """Entry point of ``rpcgen serve module:obj [module:obj ...]``: serve what each factory (a
    ``Server`` subclass or a function returning an instance) makes, and return an exit code.

    Logging is configured (``logs.configure``: ``log_level``, ``log_format`` ``text`` or
    ``json``) after the factories run and only if the root logger has no handler by then, so
    an application that configures its own logging keeps it.
    """
    factories = [factory] if callable(factory) else list(factory)
    servers = [make() for make in factories]
    service = servers[0].service_name if len(servers) == 1 else None
    logs.configure(log_level, log_format, service=service)
    try:
        settled = serve(
            servers,
            amqp_uri,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            max_concurrency=max_concurrency,
            once=once,
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


class _Runners:
    """The runners one ``serve`` serves, as the probes see them (``probes.Probed``)."""

    def __init__(self) -> None:
        self.runners: list[ServiceRunner] = []
        self.started: list[ServiceRunner] = []

    def readiness(self) -> str | None:
        if not self.runners:
            return "starting"  # waiting for the broker
        return self._first([(r, r.readiness()) for r in self.runners])

    def liveness(self) -> str | None:
        return self._first([(r, r.liveness()) for r in self.runners])

    def _first(self, problems: list[tuple[ServiceRunner, str | None]]) -> str | None:
        for runner, problem in problems:
            if problem is not None:
                if len(self.runners) == 1:
                    return problem
                return f"{runner.server.service_name}: {problem}"
        return None


def _stop_all(runners: Sequence[ServiceRunner], timeout: float | None) -> bool:
    """Drain ``runners`` side by side, each within ``timeout``; whether all finished."""
    if len(runners) == 1:
        return runners[0].stop(timeout)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.stop(timeout))) for r in runners
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return all(results)


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

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

from rpcgen.runtime._transport import Transport, open_connection
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.hooks import hooks_of
from rpcgen.runtime.middleware import Middleware
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.server import Server, ServiceRunner

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["run_in_background", "serve", "serve_main"]

log = logging.getLogger("rpcgen.runtime.server")


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
    **options: Unpack[ConnectionOptions],
) -> None:
    """Serve ``server`` until SIGTERM or SIGINT, then stop gracefully and return.

    Requests already received are finished, answered and acked before returning (within
    ``shutdown_timeout`` seconds, if given). A lost broker is reconnected to as ``reconnect``
    says; raises ``RpcConnectionError`` only if reconnecting is given up (at once with
    ``reconnect=None``). Signal handlers are installed only when called from the main thread.

    ``server`` may be a list of servers (``rpcgen serve a:A b:B``): they share one connection,
    each keeps its own queues, prefetch, workers and loop, every one gets the settings given
    here, and a signal stops and drains them all.
    """
    servers = [server] if isinstance(server, Server) else list(server)
    if not servers:
        raise ValueError("nothing to serve")
    names = [s.service_name for s in servers]
    connection: Transport | None = None
    if len(servers) > 1:
        if len(set(names)) != len(names):
            raise ValueError(f"two servers of one service in one process: {names}")
        calls_out = any(hooks_of(s, "start") for s in servers)
        shared: ConnectionOptions = {"client_name": "+".join(names), **options}
        connection = open_connection(uri, reply_queue=calls_out, **shared)
    runners = [
        ServiceRunner(
            s,
            uri,
            connection=connection,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            max_concurrency=max_concurrency,
            middleware=middleware,
            **options,
        )
        for s in servers
    ]
    stopping = threading.Event()
    started: list[ServiceRunner] = []
    try:
        for runner in runners:
            runner.start()
            started.append(runner)
        restore = _on_signals(stopping.set)
        try:
            while not stopping.wait(1.0) and not any(r.stopping.is_set() for r in started):
                pass
            log.info("stopping %s", ", ".join(names))
        finally:
            restore()
    finally:
        _stop_all(started, shutdown_timeout)
        if connection is not None:
            connection.close()
    for runner in started:
        if runner.error is not None:
            raise runner.error


def serve_main(
    factory: Callable[[], Server] | Sequence[Callable[[], Server]],
    amqp_uri: str | Sequence[str] | None = None,
    max_workers: int = 10,
    queue_type: str | None = None,
    prefetch: int | None = None,
    max_concurrency: int | None = None,
) -> int:
    """Entry point of ``rpcgen serve module:obj [module:obj ...]``: serve what each factory (a
    ``Server`` subclass or a function returning an instance) makes, and return an exit code."""
    if not logging.getLogger().handlers:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        logging.basicConfig(level=logging.INFO, format=fmt)
        logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO is connection chatter
    factories = [factory] if callable(factory) else list(factory)
    try:
        serve(
            [make() for make in factories],
            amqp_uri,
            max_workers=max_workers,
            prefetch=prefetch,
            queue_type=queue_type,
            max_concurrency=max_concurrency,
        )
    except RpcConnectionError as exc:
        log.error("%s", exc)
        return 1
    return 0


def _stop_all(runners: Sequence[ServiceRunner], timeout: float | None) -> None:
    """Stop ``runners`` side by side: each drains its own requests within ``timeout``."""
    if len(runners) == 1:
        runners[0].stop(timeout)
        return
    threads = [threading.Thread(target=r.stop, args=(timeout,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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

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

from rpcgen.runtime._transport import Transport
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.server import Server, ServiceRunner

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["run_in_background", "serve", "serve_main"]

log = logging.getLogger(__name__)


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
    **options: Unpack[ConnectionOptions],
) -> None:
    """Serve ``server`` until SIGTERM or SIGINT, then stop gracefully and return.

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
        **options,
    )
    runner.start()
    restore = _on_signals(runner.stopping.set)
    try:
        while not runner.stopping.wait(1.0):
            pass
        log.info("stopping %s", server.service_name)
    finally:
        restore()
        runner.stop(shutdown_timeout)
    if runner.error is not None:
        raise runner.error


def serve_main(
    factory: Callable[[], Server],
    amqp_uri: str | Sequence[str] | None = None,
    max_workers: int = 10,
    queue_type: str | None = None,
    prefetch: int | None = None,
) -> int:
    """Entry point of ``rpcgen serve module:obj``: serve ``factory()`` (a ``Server`` subclass or
    a function returning an instance) and return an exit code."""
    if not logging.getLogger().handlers:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        logging.basicConfig(level=logging.INFO, format=fmt)
        logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO is connection chatter
    try:
        serve(
            factory(), amqp_uri, max_workers=max_workers, prefetch=prefetch, queue_type=queue_type
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

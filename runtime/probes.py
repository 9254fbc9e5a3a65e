"""Health and readiness over HTTP for orchestrators: ``ProbeServer`` (standard library only).

``GET /healthz`` (liveness) answers 200 while the process serves HTTP and the runner has
nothing broken for good (``ServiceRunner.liveness``), else 503 with the reason. ``GET /readyz``
(readiness) answers 200 only while every queue of the service is being consumed
(``ServiceRunner.readiness``): 503 while starting or waiting for the broker, while the
connection is down or reconnecting, and from the moment a stop (a drain) begins. Other paths
(``/metrics``, ``rpcgen.prometheus``) are added with ``route``. The server runs in one daemon
thread (``http.server.ThreadingHTTPServer``) and is closed with ``close``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rpcgen.runtime.server import ServiceRunner

__all__ = ["ProbeServer", "Response"]

log = logging.getLogger("rpcgen.runtime.probes")

Response = tuple[int, str, bytes]
"""HTTP status, content type, body."""


class ProbeServer:
    """``/healthz`` and ``/readyz`` of ``runner`` on ``host:port`` (port 0: any free one)."""

    def __init__(self, runner: ServiceRunner, port: int, host: str = "0.0.0.0") -> None:
        self._routes: dict[str, Callable[[], Response]] = {
            "/healthz": lambda: _probe(runner.liveness()),
            "/readyz": lambda: _probe(runner.readiness()),
        }
        self._httpd = ThreadingHTTPServer((host, port), _handler(self._routes))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="rpcgen-probes", daemon=True
        )

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when 0 was asked for)."""
        return int(self._httpd.server_address[1])

    def route(self, path: str, respond: Callable[[], Response]) -> None:
        """Answer ``GET path`` with what ``respond()`` returns."""
        self._routes[path] = respond

    def start(self) -> None:
        self._thread.start()
        log.info("probes on port %d: /healthz, /readyz", self.port)

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()


def _probe(problem: str | None) -> Response:
    if problem is None:
        return 200, "text/plain; charset=utf-8", b"ok\n"
    return 503, "text/plain; charset=utf-8", f"{problem}\n".encode()


def _handler(routes: dict[str, Callable[[], Response]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            respond = routes.get(self.path.partition("?")[0])
            if respond is None:
                status, kind, body = 404, "text/plain; charset=utf-8", b"not found\n"
            else:
                try:
                    status, kind, body = respond()
                except Exception as exc:  # a probe must answer, whatever broke
                    log.exception("the %s probe failed", self.path)
                    status, kind, body = 500, "text/plain; charset=utf-8", f"{exc!r}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler

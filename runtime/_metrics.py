"""The metrics seam: where an installed meter counts requests, events, calls and connections.

rpcgen itself never imports prometheus_client. The optional extra (``rpcgen.prometheus``,
``pip install 'rpcgen[prometheus]'``) implements ``Meter`` and puts it in ``meter`` when
``rpcgen.prometheus.instrument()`` is called. Until then ``meter`` is None and each request,
event and call pays one ``is None`` test (``bench/metrics_overhead.py``).

Where the runtime asks (the parts both transports share, as the tracing seam):
- servers: ``_dispatch.Dispatcher`` (``request_started`` / ``request_handled`` with the
  outcome: ok, declared_error, error, rejected, expired) and ``_handling.EventEntrypoint``
  (``event_handled``: ok, error, dead_lettered);
- clients (``client.Client._invoke_async``, ``aio.AsyncClient._call``): ``calling`` wraps the
  completion of one call;
- connections (``_amqp.connection.Connection``): ``connection_state`` when the link comes up,
  goes down or comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rpcgen.runtime._tracing import Completion
    from rpcgen.runtime.spec import Method

__all__ = ["CLIENT_OUTCOMES", "EVENT_OUTCOMES", "SERVER_OUTCOMES", "Meter", "meter"]

SERVER_OUTCOMES = ("ok", "declared_error", "error", "rejected", "expired")
"""A request's outcome on the server: a result; an error the IDL declares; any other error
(undeclared, or a result that could not be sent); refused before any handler ran (unknown
method, bad arguments, malformed, no ``reply_to``); skipped, its caller's deadline passed."""
EVENT_OUTCOMES = ("ok", "error", "dead_lettered")
CLIENT_OUTCOMES = (
    "ok",
    "remote_error",
    "timeout",
    "unknown_service",
    "connection_error",
    "error",
)


class Meter(Protocol):
    """What an installed meter does; every method is called only while it is installed."""

    def request_started(self, service: str, method: str) -> None:
        """A request reached its handler (in flight until ``request_handled``)."""

    def request_handled(self, service: str, method: str, outcome: str, seconds: float) -> None:
        """A request is answered (``seconds``: its handling, None-free; 0 if never run)."""

    def event_handled(self, service: str, handler: str, outcome: str) -> None:
        """An event was handled, failed, or dead-lettered."""

    def calling(self, method: Method[object], on_done: Completion) -> Completion:
        """The completion to pass on for one call: records its outcome and latency, then
        calls ``on_done``."""

    def connection_state(self, client_name: str, up: bool, reconnected: bool) -> None:
        """A connection came up (``reconnected``: again) or went down."""


meter: Meter | None = None
"""The installed meter, or None (the default: nothing is counted)."""

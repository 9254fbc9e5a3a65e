"""Prometheus metrics for rpcgen servers, clients and connections (the ``prometheus`` extra).

``instrument()`` creates the metrics in a registry (prometheus_client's default one unless
given) and installs them in the runtime's metrics seam (``rpcgen.runtime._metrics``); nothing
is counted before it is called, and importing this module changes nothing. ``rpcgen serve
--metrics --http-port N`` calls it and serves the registry on ``/metrics`` beside the probes.

Names follow py-grpc-prometheus's family (``grpc_server_started_total``,
``grpc_server_handled_total``, ``grpc_server_handling_seconds``, and the ``grpc_client_*``
twins) with ``rpcgen_`` for ``grpc_``, and labels ``service``, ``method`` and ``outcome`` for
``grpc_service``, ``grpc_method`` and ``grpc_code``:

- ``rpcgen_server_started_total{service,method}``: requests that reached their handler;
- ``rpcgen_server_handled_total{service,method,outcome}``: requests answered, ``outcome`` one
  of ``ok``, ``declared_error``, ``error``, ``rejected`` (no handler ran: unknown method, bad
  arguments, malformed; ``method="unknown"`` for a name the service does not have), ``expired``;
- ``rpcgen_server_handling_seconds{service,method}``: histogram of handler run times;
- ``rpcgen_server_in_flight{service,method}``: requests being handled now;
- ``rpcgen_events_handled_total{service,handler,outcome}``: ``ok``, ``error``, ``dead_lettered``;
- ``rpcgen_client_handled_total{service,method,outcome}``: calls made, ``outcome`` one of ``ok``,
  ``remote_error``, ``timeout``, ``unknown_service``, ``connection_error``, ``error``;
- ``rpcgen_client_handling_seconds{service,method}``: histogram of call latencies;
- ``rpcgen_connection_up{client}``: 1 while the connection named ``client`` is up, else 0;
- ``rpcgen_connection_reconnects_total{client}``: times it came back after a loss.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import REGISTRY, CollectorRegistry
from rpcgen.runtime import _metrics
from rpcgen.runtime._codec import wire
from rpcgen.runtime._tracing import Completion
from rpcgen.runtime.errors import (
    MalformedReply,
    RpcConnectionError,
    RpcTimeout,
    UnknownService,
)
from rpcgen.runtime.spec import Method

__all__ = ["PrometheusMeter", "instrument", "render", "uninstrument"]

_OK_TAIL = b'"error": null}'  # how rpcgen and Nameko end a successful reply body
_meters: weakref.WeakKeyDictionary[CollectorRegistry, PrometheusMeter] = weakref.WeakKeyDictionary()


class PrometheusMeter:
    """``rpcgen.runtime._metrics.Meter`` on prometheus_client metrics in ``registry``."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        rpc = ["service", "method"]
        self.started = Counter(
            "rpcgen_server_started", "Requests that reached their handler.", rpc, registry=registry
        )
        self.handled = Counter(
            "rpcgen_server_handled",
            "Requests answered, by outcome.",
            [*rpc, "outcome"],
            registry=registry,
        )
        self.handling = Histogram(
            "rpcgen_server_handling_seconds", "Handler run time.", rpc, registry=registry
        )
        self.in_flight = Gauge(
            "rpcgen_server_in_flight", "Requests being handled now.", rpc, registry=registry
        )
        self.events = Counter(
            "rpcgen_events_handled",
            "Events handled, by outcome.",
            ["service", "handler", "outcome"],
            registry=registry,
        )
        self.calls = Counter(
            "rpcgen_client_handled",
            "Calls made, by outcome.",
            [*rpc, "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "rpcgen_client_handling_seconds", "Call latency.", rpc, registry=registry
        )
        self.up = Gauge(
            "rpcgen_connection_up", "1 while the connection is up.", ["client"], registry=registry
        )
        self._requests: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        self.reconnects = Counter(
            "rpcgen_connection_reconnects",
            "Times a connection came back after a loss.",
            ["client"],
            registry=registry,
        )

    # prometheus_client's labels() takes a lock and builds a key on each call: the labelled
    # children are looked up once and kept here (bench/metrics_overhead.py).

    def _request(self, service: str, method: str) -> tuple[Any, Any, Any]:
        key = (service, method)
        found = self._requests.get(key)
        if found is None:
            found = self._requests[key] = (
                self.started.labels(service, method),
                self.in_flight.labels(service, method),
                self.handling.labels(service, method),
            )
        return found

    def _child(self, metric: Any, *labels: str) -> Any:
        found = self._children.get((metric, labels))
        if found is None:
            found = self._children[(metric, labels)] = metric.labels(*labels)
        return found

    def request_started(self, service: str, method: str) -> None:
        started, in_flight, _handling = self._request(service, method)
        started.inc()
        in_flight.inc()

    def request_handled(self, service: str, method: str, outcome: str, seconds: float) -> None:
        self._child(self.handled, service, method, outcome).inc()
        if outcome not in ("rejected", "expired"):  # those never started
            _started, in_flight, handling = self._request(service, method)
            in_flight.dec()
            handling.observe(seconds)

    def event_handled(self, service: str, handler: str, outcome: str) -> None:
        self._child(self.events, service, handler, outcome).inc()

    def calling(self, method: Method[Any], on_done: Completion) -> Completion:
        started = time.perf_counter()
        service, name = method.service, method.name

        def done(body: bytes, error: BaseException | None) -> None:
            self._child(self.latency, service, name).observe(time.perf_counter() - started)
            self._child(self.calls, service, name, _client_outcome(body, error)).inc()
            on_done(body, error)

        return done

    def connection_state(self, client_name: str, up: bool, reconnected: bool) -> None:
        self.up.labels(client_name).set(1 if up else 0)
        if reconnected:
            self.reconnects.labels(client_name).inc()


def _client_outcome(body: bytes, error: BaseException | None) -> str:
    if error is not None:
        if isinstance(error, RpcTimeout):
            return "timeout"
        if isinstance(error, UnknownService):
            return "unknown_service"
        if isinstance(error, RpcConnectionError):
            return "connection_error"
        return "error"
    if body.endswith(_OK_TAIL):  # the common case, without parsing the body a second time
        return "ok"
    try:
        _result, failure = wire.parse_reply(body)
    except MalformedReply:
        return "error"
    return "ok" if failure is None else "remote_error"


def instrument(registry: CollectorRegistry = REGISTRY) -> PrometheusMeter:
    """Count from now on, in ``registry``; returns the meter (its metrics are attributes).
    Instrumenting again with the same registry goes on with the same metrics."""
    meter = _meters.get(registry)
    if meter is None:
        meter = _meters[registry] = PrometheusMeter(registry)
    _metrics.meter = meter
    return meter


def uninstrument() -> None:
    """Stop counting (the metrics stay in their registry)."""
    _metrics.meter = None


def render(registry: CollectorRegistry = REGISTRY) -> tuple[int, str, bytes]:
    """The ``/metrics`` response: status, content type, the text exposition format."""
    return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

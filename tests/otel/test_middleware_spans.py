"""rpcgen.otel's server spans are a middleware, the outermost: the spans of what happens once the
handler returned (a result that cannot be sent, a requeued event), and how they sit with the
server's own middleware (their spans are children; what they raise fails the span); both
transports (``rpc_transport``, tests/otel/conftest.py)."""

from __future__ import annotations

import queue
from collections.abc import Callable

import pytest
import rpcgen.runtime as rt
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from generated.hello import DivisionByZero, HelloServiceClient, HelloServiceServer
from generated.shop import OrderCreated, OrdersEvent, OrdersEvents, ProductsServer
from tests.otel.recording import Spans, parent_id, span_id


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return object()  # type: ignore[return-value]  # cannot be encoded: an error reply

    def divide(self, a: int, b: int) -> float:
        return a / b


def test_a_result_that_cannot_be_sent_fails_the_server_span(rpc_uri: str, spans: Spans) -> None:
    with (
        rt.run_in_background(Hello(), rpc_uri),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
        pytest.raises(rt.RemoteError, match="UnserializableValueError"),
    ):
        client.compute(1, 2)
    finished = spans.wait_for(2)
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    client_span = next(s for s in finished if s.kind is SpanKind.CLIENT)
    assert server.name == "hello_service/compute"
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes is not None and client_span.attributes is not None
    assert "UnserializableValueError" in str(server.attributes["error.type"])
    assert server.attributes["error.type"] == client_span.attributes["error.type"]
    (event,) = server.events
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.type"] == server.attributes["error.type"]


class Products(ProductsServer):
    def __init__(self) -> None:
        self.runs: queue.Queue[int] = queue.Queue()
        self.count = 0

    def get_stock(self, product_id: str) -> int:
        return 5

    def take(self, product_id: str, quantity: int) -> int:
        return 5 - quantity

    @OrdersEvent.order_created.handler(requeue_on_error=True)
    def on_order(self, payload: OrderCreated) -> None:
        self.count += 1
        self.runs.put(payload.order_id)
        if self.count == 1:
            raise RuntimeError("first delivery fails")


def test_a_requeued_event_says_so_on_its_consumer_span(rpc_uri: str, spans: Spans) -> None:
    products = Products()
    with rt.run_in_background(products, rpc_uri), OrdersEvents.connect(rpc_uri) as orders:
        orders.order_created(OrderCreated(1, "sku", 2))
        assert [products.runs.get(timeout=10) for _ in range(2)] == [1, 1]
        finished = spans.wait_for(3)  # the producer span, two consumer spans
    failed, handled = sorted(
        (s for s in finished if s.kind is SpanKind.CONSUMER), key=lambda s: s.start_time or 0
    )
    assert failed.attributes is not None and handled.attributes is not None
    assert failed.attributes["rpcgen.event.requeued"] is True
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "builtins.RuntimeError"
    assert "rpcgen.event.requeued" not in handled.attributes
    assert handled.status.status_code is StatusCode.UNSET
    assert failed.attributes["messaging.destination.subscription.name"] == (
        "evt-orders-order_created--products.on_order"
    )


class Spanning(rt.Middleware):
    """A middleware that makes a span of its own around the handler, and rejects ``divide``."""

    def __init__(self, spans: Spans) -> None:
        self.tracer = spans.tracer

    def around(self, call: rt.HandlerCall, proceed: Callable[[], object]) -> object:
        with self.tracer.start_as_current_span(f"middleware {call.name}"):
            if call.name == "divide":
                raise DivisionByZero("rejected by the middleware")
            return proceed()


def test_the_server_span_is_outside_the_servers_middleware(rpc_uri: str, spans: Spans) -> None:
    with (
        rt.run_in_background(Hello(), rpc_uri, middleware=[Spanning(spans)]),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        assert client.test("ann") == "hello, ann"
        with pytest.raises(DivisionByZero):
            client.divide(1, 2)
    finished = spans.wait_for(6)
    server = next(s for s in finished if s.kind is SpanKind.SERVER and s.name.endswith("/test"))
    inner = spans.named("middleware test")
    assert parent_id(inner) == span_id(server)  # the tracer's middleware is the outermost
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current here
    rejected = next(s for s in finished if s.kind is SpanKind.SERVER and s.name.endswith("ide"))
    assert rejected.status.status_code is StatusCode.ERROR
    assert rejected.attributes is not None
    assert rejected.attributes["error.type"] == "hello.DivisionByZero"
    (event,) = rejected.events  # recorded as a handler's exception is: with its stack trace
    assert event.attributes is not None and "exception.stacktrace" in event.attributes


class RejectBig(rt.Middleware):
    def before(self, call: rt.HandlerCall) -> None:
        if call.kind == "event" and call.args[0].quantity > 100:
            raise PermissionError("too big")


class Stock(Products):
    @OrdersEvent.order_created.handler()  # acked when it fails: no redelivery
    def on_order(self, payload: OrderCreated) -> None:
        self.runs.put(payload.order_id)


def test_an_event_rejected_by_a_middleware_fails_its_consumer_span(
    rpc_uri: str, spans: Spans
) -> None:
    products = Stock()
    with (
        rt.run_in_background(products, rpc_uri, middleware=[RejectBig()]),
        OrdersEvents.connect(rpc_uri) as orders,
    ):
        orders.order_created(OrderCreated(1, "sku", 500))
        finished = spans.wait_for(2)
    assert products.runs.empty()  # the handler never ran
    consumer = next(s for s in finished if s.kind is SpanKind.CONSUMER)
    assert consumer.status.status_code is StatusCode.ERROR
    assert consumer.attributes is not None
    assert consumer.attributes["error.type"] == "builtins.PermissionError"
    assert "rpcgen.event.requeued" not in consumer.attributes

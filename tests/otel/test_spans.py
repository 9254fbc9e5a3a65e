"""rpcgen.otel: the spans of calls, errors, events and chains, recorded by the SDK's in-memory
exporter, and the ``nameko.traceparent`` header that links them; each test runs on the real
broker and on the in-memory transport (``rpc_transport``, tests/otel/conftest.py)."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterator

import pytest
import rpcgen.otel
import rpcgen.runtime as rt
from opentelemetry.trace import SpanKind, StatusCode

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceClient,
)
from generated.shop import (
    Order,
    OrderCreated,
    OrdersClient,
    OrdersEvent,
    OrdersEvents,
    OrdersServer,
    ProductsAsyncServer,
    ProductsClient,
)
from tests.hello import Hello as BaseHello
from tests.otel.recording import Spans, parent_id, span_id, trace_id
from tests.waiting import wait_until_async


class Hello(BaseHello):
    """hello_service; ``test`` reports the trace context it got (``nameko.traceparent``)."""

    def test(self, name: str) -> str:
        ctx = rt.current_context()
        return str(ctx.data.get("traceparent", "")) if ctx is not None else ""


class Orders(OrdersServer):
    """orders: ``create_order`` takes the stock (products), then dispatches ``order_created``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def create_order(self, product_id: str, quantity: int) -> Order:
        with ProductsClient.connect(self.uri, timeout=10) as products:
            products.take(product_id, quantity)
        with OrdersEvents.connect(self.uri, timeout=10) as events:
            events.order_created(OrderCreated(7, product_id, quantity))
        return Order(7, product_id, quantity)

    def get_order(self, order_id: int) -> Order:
        raise LookupError(order_id)


class Products(ProductsAsyncServer):
    """products, async: ``take`` asks hello_service with an async client (from the loop thread);
    its handler of ``order_created`` reports each event."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.handled: queue.Queue[OrderCreated] = queue.Queue()

    async def get_stock(self, product_id: str) -> int:
        return 5

    async def take(self, product_id: str, quantity: int) -> int:
        conn = await rt.AsyncConnection.open(self.uri)
        try:
            hello = HelloServiceAsyncClient(conn, timeout=10)
            return await hello.compute(5, -quantity)
        finally:
            await conn.close()

    @OrdersEvent.order_created.handler()
    def on_order_created(self, payload: OrderCreated) -> None:
        self.handled.put(payload)


@pytest.fixture
def hello(rpc_uri: str) -> Iterator[Hello]:
    impl = Hello()
    with rt.run_in_background(impl, rpc_uri):
        yield impl


def test_a_call_makes_a_client_span_and_its_server_child(
    rpc_uri: str, hello: Hello, spans: Spans
) -> None:
    with HelloServiceClient.connect(rpc_uri, timeout=10) as client:
        assert client.compute(2, 3) == 5
        header = client.test("x")
    got = spans.wait_for(4)
    client_span = spans.named(
        "hello_service/compute", [s for s in got if s.kind == SpanKind.CLIENT]
    )
    server_span = spans.named(
        "hello_service/compute", [s for s in got if s.kind == SpanKind.SERVER]
    )
    assert trace_id(server_span) == trace_id(client_span)
    assert parent_id(server_span) == span_id(client_span)
    assert parent_id(client_span) is None  # a call outside any span starts a trace
    for span in (client_span, server_span):
        assert span.attributes is not None
        assert span.attributes["rpc.system"] == "nameko"
        assert span.attributes["rpc.service"] == "hello_service"
        assert span.attributes["rpc.method"] == "compute"
        assert span.status.status_code == StatusCode.UNSET
    assert server_span.attributes is not None
    assert str(server_span.attributes["rpcgen.call_id"]).startswith("hello_service.compute.")
    # The header the server got is the W3C traceparent of the calling span (sampled).
    test_client = [s for s in got if s.name == "hello_service/test" and s.kind == SpanKind.CLIENT]
    version, tid, sid, flags = header.split("-")
    assert (version, tid, sid) == (
        "00",
        f"{trace_id(test_client[0]):032x}",
        f"{span_id(test_client[0]):016x}",
    )
    assert int(flags, 16) & 1  # sampled


def test_a_declared_error_fails_both_spans_with_its_wire_type(
    rpc_uri: str, hello: Hello, spans: Spans
) -> None:
    with (
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
        pytest.raises(DivisionByZero),
    ):
        client.divide(1, 0)
    got = spans.wait_for(2)
    for span in got:
        assert span.status.status_code == StatusCode.ERROR, span.kind
        assert span.status.description == "DivisionByZero: cannot divide 1 by zero"
        assert span.attributes is not None
        assert span.attributes["error.type"] == "hello.DivisionByZero"
        events = [e for e in span.events if e.name == "exception"]
        assert len(events) == 1 and events[0].attributes is not None
        assert events[0].attributes["exception.type"] == "hello.DivisionByZero"


def test_a_request_no_handler_runs_for_still_gets_a_failed_server_span(
    rpc_uri: str, hello: Hello, spans: Spans
) -> None:
    with (
        rt.RawClient.connect(rpc_uri, timeout=10) as raw,
        pytest.raises(rt.MethodNotFound),
    ):
        raw.call("hello_service", "missing", [], {})
    got = spans.wait_for(2)
    server = spans.named("hello_service/missing", [s for s in got if s.kind == SpanKind.SERVER])
    client = spans.named("hello_service/missing", [s for s in got if s.kind == SpanKind.CLIENT])
    assert parent_id(server) == span_id(client)
    assert client.attributes is not None and server.attributes is not None
    assert client.attributes["error.type"] == server.attributes["error.type"]
    assert "MethodNotFound" in str(client.attributes["error.type"])


def test_local_failures_fail_the_client_span(rpc_uri: str, spans: Spans) -> None:
    with (
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
        pytest.raises(rt.UnknownService),
    ):
        client.compute(1, 2)  # nobody serves hello_service here
    (span,) = spans.wait_for(1)
    assert span.kind == SpanKind.CLIENT and span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert "UnknownService" in str(span.attributes["error.type"])


def test_a_chain_with_an_async_hop_and_an_event_is_one_trace(
    rpc_uri: str, hello: Hello, spans: Spans
) -> None:
    uri = rpc_uri
    products = Products(uri)
    with rt.run_in_background(Orders(uri), uri), rt.run_in_background(products, uri):
        with (
            spans.tracer.start_as_current_span("checkout") as root,
            OrdersClient.connect(uri, timeout=10) as orders,
        ):
            assert orders.create_order("sku-1", 2) == Order(7, "sku-1", 2)
        assert products.handled.get(timeout=10) == OrderCreated(7, "sku-1", 2)
        got = spans.wait_for(9)
    by_kind = {(s.name, s.kind): s for s in got if s.name != "checkout"}
    assert len(got) == 9 and len(by_kind) == 8, sorted(s.name for s in got)
    expected_parents = [
        # (span, its parent)
        (("orders/create_order", SpanKind.CLIENT), None),  # the test's "checkout" span
        (("orders/create_order", SpanKind.SERVER), ("orders/create_order", SpanKind.CLIENT)),
        (("products/take", SpanKind.CLIENT), ("orders/create_order", SpanKind.SERVER)),
        (("products/take", SpanKind.SERVER), ("products/take", SpanKind.CLIENT)),
        (("hello_service/compute", SpanKind.CLIENT), ("products/take", SpanKind.SERVER)),
        (("hello_service/compute", SpanKind.SERVER), ("hello_service/compute", SpanKind.CLIENT)),
        (
            ("publish orders.order_created", SpanKind.PRODUCER),
            ("orders/create_order", SpanKind.SERVER),
        ),
        (
            ("process orders.order_created", SpanKind.CONSUMER),
            ("publish orders.order_created", SpanKind.PRODUCER),
        ),
    ]
    root_id = root.get_span_context().span_id
    for child, parent in expected_parents:
        assert child in by_kind, (child, sorted(by_kind))
        want = root_id if parent is None else span_id(by_kind[parent])
        assert parent_id(by_kind[child]) == want, (child, parent)
    assert {trace_id(s) for s in got} == {root.get_span_context().trace_id}
    producer = by_kind[("publish orders.order_created", SpanKind.PRODUCER)]
    consumer = by_kind[("process orders.order_created", SpanKind.CONSUMER)]
    for span, operation in ((producer, "publish"), (consumer, "process")):
        assert span.attributes is not None
        assert span.attributes["messaging.system"] == "rabbitmq"
        assert span.attributes["messaging.destination.name"] == "orders.events"
        assert span.attributes["messaging.rabbitmq.destination.routing_key"] == "order_created"
        assert span.attributes["messaging.operation.name"] == operation
    assert consumer.attributes is not None
    assert consumer.attributes["rpcgen.handler"] == "products.on_order_created"


def test_uninstrumented_nothing_is_recorded_and_the_context_passes_through(
    rpc_uri: str, hello: Hello, spans: Spans
) -> None:
    rpcgen.otel.uninstrument()
    assert not rpcgen.otel.is_instrumented()
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with HelloServiceClient.connect(rpc_uri, timeout=10) as client:
        with rt.context_data(traceparent=incoming):
            assert client.test("x") == incoming  # like any context data, unchanged
        assert client.test("x") == ""
    assert spans.finished() == []


def test_an_async_client_call_is_traced(rpc_uri: str, hello: Hello, spans: Spans) -> None:
    async def call() -> int:
        async with HelloServiceAsyncClient.connect(rpc_uri, timeout=10) as client:
            with spans.tracer.start_as_current_span("async root"):
                return await client.compute(20, 22)

    assert asyncio.run(call()) == 42
    got = spans.wait_for(3)
    root = spans.named("async root", got)
    client = next(s for s in got if s.kind == SpanKind.CLIENT)
    server = next(s for s in got if s.kind == SpanKind.SERVER)
    assert parent_id(client) == span_id(root) and parent_id(server) == span_id(client)


NAP = rt.Method("sleepy", "nap", params=(rt.Param("seconds", float),), result=float)


class Sleepy(rt.Server):
    service_name = "sleepy"
    methods = {"nap": NAP}  # noqa: RUF012

    def __init__(self) -> None:
        self.begun: list[float] = []  # the argument of each nap, as it begins

    def nap(self, seconds: float) -> float:
        self.begun.append(seconds)
        time.sleep(seconds)
        return seconds


class SleepyAsyncClient(rt.AsyncClient):
    service_name = "sleepy"

    async def nap(self, seconds: float) -> float:
        return await self._call(NAP, (seconds,), {})


def test_a_timeout_and_a_cancelled_asyncio_call_end_their_client_spans(
    rpc_uri: str, spans: Spans
) -> None:
    sleepy = Sleepy()

    async def cancel_a_call() -> None:
        async with SleepyAsyncClient.connect(rpc_uri, timeout=10) as client:
            call = asyncio.ensure_future(client.nap(1.5))
            await wait_until_async(lambda: 1.5 in sleepy.begun, what="the call in flight")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    with rt.run_in_background(sleepy, rpc_uri):
        with rt.RawClient.connect(rpc_uri, timeout=0.2) as raw, pytest.raises(rt.RpcTimeout):
            raw.call("sleepy", "nap", [1.0])
        asyncio.run(cancel_a_call())
        clients = [s for s in spans.wait_for(2) if s.kind == SpanKind.CLIENT]
    assert [s.name for s in clients] == ["sleepy/nap", "sleepy/nap"]
    errors = []
    for span in clients:
        assert span.status.status_code == StatusCode.ERROR and span.attributes is not None
        errors.append(str(span.attributes["error.type"]).rpartition(".")[2])
    assert errors == ["RpcTimeout", "CancelledError"]

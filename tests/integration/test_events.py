"""Events, runtime level: dispatch with confirms, the three handler types with Nameko's queue
names and flags, context and call-id stack, the ack policy, dead letters.

Tests taking ``rpc_uri`` run on both transports; the queue flags as RabbitMQ's management API
shows them are checked on RabbitMQ only."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.integration.conftest import Peek
from tests.integration.helpers import queue_row


@dataclass
class OrderCreated:
    order_id: int
    product_id: str
    quantity: int


order_created: rt.Event[OrderCreated] = rt.Event("orders", "order_created", OrderCreated)


class OrdersEvents(rt.Client):
    service_name = "orders"

    def order_created(self, payload: OrderCreated) -> None:
        self._publish(order_created, payload)


class Products(rt.Server):
    service_name = "products"
    methods = {}  # noqa: RUF012 (events only)

    def __init__(self) -> None:
        self.pool: queue.Queue[tuple[OrderCreated, rt.CallContext | None]] = queue.Queue()
        self.single: queue.Queue[OrderCreated] = queue.Queue()
        self.every: queue.Queue[OrderCreated] = queue.Queue()
        self.failures = 0
        self.lock = threading.Lock()

    @order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.pool.put((payload, rt.current_context()))

    @order_created.handler("singleton")
    def take_one(self, payload: OrderCreated) -> None:
        self.single.put(payload)

    @order_created.handler("broadcast", reliable_delivery=False)
    def tell_all(self, payload: OrderCreated) -> None:
        self.every.put(payload)


@pytest.fixture
def products(rpc_uri: str) -> Iterator[Products]:
    impl = Products()
    with rt.run_in_background(impl, rpc_uri):
        yield impl


@pytest.fixture
def products_on_rabbitmq(rabbit_vhost: Vhost) -> Iterator[Products]:
    impl = Products()
    with rt.run_in_background(impl, rabbit_vhost.uri):
        yield impl


def test_dispatch_reaches_every_handler_type_typed_with_context(
    rpc_uri: str, products: Products
) -> None:
    with OrdersEvents.connect(rpc_uri) as events, rt.context_data(user="ann"):
        events.order_created(OrderCreated(1, "sku-1", 2))
    payload, ctx = products.pool.get(timeout=10)
    assert payload == OrderCreated(1, "sku-1", 2)
    assert ctx is not None and ctx.data == {"user": "ann"}
    assert ctx.call_id.startswith("products.on_order.")
    assert products.single.get(timeout=10) == payload
    assert products.every.get(timeout=10) == payload


def test_handler_queues_are_named_and_flagged_as_nameko_declares_them(
    rabbit_vhost: Vhost, products_on_rabbitmq: Products
) -> None:
    pool = queue_row(rabbit_vhost, "evt-orders-order_created--products.on_order")
    single = queue_row(rabbit_vhost, "evt-orders-order_created")
    assert pool is not None and single is not None
    for row in (pool, single):
        assert (row["durable"], row["auto_delete"], row["exclusive"]) == (True, False, False)
        assert row["arguments"] == {}
    names = [q.name for q in rabbit_vhost.queues()]
    broadcast = [n for n in names if n.startswith("evt-orders-order_created--products.tell_all-")]
    assert len(broadcast) == 1 and len(broadcast[0].rsplit("-", 1)[1]) == 32
    row = queue_row(rabbit_vhost, broadcast[0])
    assert row is not None and row["auto_delete"] is True and row["exclusive"] is True
    exchange = rabbit_vhost.broker.management.request(
        "GET", f"exchanges/{rabbit_vhost.name}/orders.events"
    )
    assert (exchange["type"], exchange["durable"], exchange["auto_delete"]) == (
        "topic",
        True,
        False,
    )


def test_event_body_is_the_payload_unwrapped_with_nameko_properties(
    rpc_uri: str, products: Products, peek: Peek
) -> None:
    spy = peek.spy("orders.events", "order_created")
    with OrdersEvents.connect(rpc_uri) as events:
        events.order_created(OrderCreated(7, "x", 1))
    props, body = peek.get(spy)
    assert body == b'{"order_id": 7, "product_id": "x", "quantity": 1}'
    assert props.content_type == "application/json"
    assert props.content_encoding == "utf-8"
    assert props.delivery_mode == 2
    assert props.priority == 0
    assert not props.headers  # outside a handler: no stack, as Nameko's dispatcher
    assert props.reply_to is None and props.correlation_id is None


def test_undecodable_and_mistyped_events_go_to_the_dead_letter_queue(
    rpc_uri: str, products: Products, peek: Peek
) -> None:
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    peek.publish("orders.events", "order_created", b"{not json", props)
    peek.publish("orders.events", "order_created", b'{"order_id": "one"}', props)
    with OrdersEvents.connect(rpc_uri) as events:
        events.order_created(OrderCreated(2, "ok", 1))
    assert products.pool.get(timeout=10)[0] == OrderCreated(2, "ok", 1)
    assert products.pool.empty()
    # three handlers (pool, singleton, broadcast) saw each of the two bad events
    reasons = []
    for _ in range(6):
        dead, body = peek.get("rpcgen-dlq-products")
        reasons.append((body, dead.headers["x-rpcgen-reason"]))
    bodies = sorted({body for body, _ in reasons})
    assert bodies == [b'{"order_id": "one"}', b"{not json"]
    assert any("order_id" in why and "expected" in why for _, why in reasons)


class Flaky(rt.Server):
    service_name = "flaky"
    methods = {}  # noqa: RUF012 (events only)

    def __init__(self) -> None:
        self.calls: queue.Queue[int] = queue.Queue()
        self.failed = 0

    def _once_failing(self, payload: OrderCreated) -> None:
        self.calls.put(payload.order_id)
        if self.failed == 0:
            self.failed += 1
            raise RuntimeError("first try fails")


class Requeueing(Flaky):
    @order_created.handler(requeue_on_error=True)
    def on_order(self, payload: OrderCreated) -> None:
        self._once_failing(payload)


class Dropping(Flaky):
    @order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self._once_failing(payload)


@pytest.mark.parametrize(("impl", "runs"), [(Requeueing, 2), (Dropping, 1)])
def test_a_raising_handler_is_retried_only_with_requeue_on_error(
    rpc_uri: str, impl: type[Flaky], runs: int
) -> None:
    server = impl()
    with rt.run_in_background(server, rpc_uri):
        with OrdersEvents.connect(rpc_uri) as events:
            events.order_created(OrderCreated(4, "x", 1))
        assert [server.calls.get(timeout=10) for _ in range(runs)] == [4] * runs
        with pytest.raises(queue.Empty):
            server.calls.get(
                timeout=1.0
            )  # acked after the raise (Nameko's policy), or after the retry

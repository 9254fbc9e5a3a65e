"""Events survive what RPC survives: a reliable handler queue keeps events across a broker restart
while nobody consumes, handlers resume after a reconnect, and a stop finishes the handler in
flight before acking."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import rpcgen.runtime as rt
from rpcgen.runtime import Backoff
from rpcgen.runtime.testing import RabbitNode

from generated.shop import OrderCreated, OrdersEvent, OrdersEvents, ProductsServer


class Handler(ProductsServer):
    def __init__(self, slow: float = 0.0) -> None:
        self.got: queue.Queue[int] = queue.Queue()
        self.slow = slow
        self.started = threading.Event()

    def get_stock(self, product_id: str) -> int:
        return 0

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.started.set()
        time.sleep(self.slow)
        self.got.put(payload.order_id)


def _ids(q: queue.Queue[int], n: int) -> list[int]:
    return sorted(q.get(timeout=20) for _ in range(n))


def test_a_reliable_handler_queue_keeps_events_across_a_broker_restart(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(management=False)
    with rt.run_in_background(Handler(), node.uri):
        pass  # declares the durable handler queue, then stops consuming
    with OrdersEvents.connect(node.uri) as events:
        for i in range(3):
            events.order_created(OrderCreated(i, "sku", 1))
    node.stop()
    node.start()
    handler = Handler()
    with rt.run_in_background(handler, node.uri):
        assert _ids(handler.got, 3) == [0, 1, 2]


def test_handlers_resume_after_a_reconnect(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(management=False)
    handler = Handler()
    fast = Backoff(initial=0.1, max=0.5)
    with (
        rt.run_in_background(handler, node.uri, reconnect=fast),
        OrdersEvents.connect(node.uri, reconnect=fast) as events,
    ):
        events.order_created(OrderCreated(1, "sku", 1))
        assert _ids(handler.got, 1) == [1]
        node.stop()
        node.start()
        # The dispatcher reconnects too: a dispatch made meanwhile waits for it (its timeout).
        events.order_created(OrderCreated(2, "sku", 1))
        assert _ids(handler.got, 1) == [2]


def test_stop_finishes_the_handler_in_flight(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(management=False)
    handler = Handler(slow=1.0)
    runner = rt.ServiceRunner(handler, node.uri)
    runner.start()
    with OrdersEvents.connect(node.uri) as events:
        events.order_created(OrderCreated(7, "sku", 1))
    assert handler.started.wait(10)
    assert runner.stop(timeout=20)  # waits for the handler, then acks
    assert handler.got.get_nowait() == 7
    [row] = [q for q in node.list_queues("/") if q.name.startswith("evt-orders-")]
    assert (row.messages_ready, row.messages_unacknowledged) == (0, 0)

"""docs/events.md, claim by claim: several instances of each handler type, the handler options
(``broadcast_identifier``, ``prefetch``, ``reliable_delivery=False``) and the dead-letter queue.

Tests taking ``rpc_uri`` run on both transports; queue flags and consumer prefetch are what
RabbitMQ's management API shows, so those run on RabbitMQ only."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.faultproxy import Direction, Fault, FaultProxy, When
from tests.integration.conftest import Peek
from tests.integration.helpers import prefetch_counts, queue_row, raw_channel
from tests.integration.test_events import OrderCreated, OrdersEvents, Products, order_created
from tests.waiting import wait_until

BASIC_ACK = (60, 80)  # a publisher confirm, when the broker sends it
EVENTS = 12


def _drain(q: queue.Queue[object]) -> list[object]:
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items


def _ids(items: list[object]) -> list[int]:
    return sorted(
        (item[0] if isinstance(item, tuple) else item).order_id  # type: ignore[union-attr]
        for item in items
    )


def test_several_instances_share_a_pool_and_a_singleton_and_each_gets_a_broadcast(
    rpc_uri: str,
) -> None:
    first, second = Products(), Products()
    with rt.run_in_background(first, rpc_uri), rt.run_in_background(second, rpc_uri):
        with OrdersEvents.connect(rpc_uri) as events:
            for i in range(EVENTS):
                events.order_created(OrderCreated(i, "sku", 1))
        both = (first, second)
        wait_until(lambda: sum(p.pool.qsize() for p in both) >= EVENTS, what="pool handled")
        wait_until(lambda: sum(p.single.qsize() for p in both) >= EVENTS, what="singleton")
        wait_until(lambda: all(p.every.qsize() >= EVENTS for p in both), what="broadcasts")
    # Both stopped: every event taken was handled and acked; the counts are final.
    everyone = list(range(EVENTS))
    assert _ids(_drain(first.pool) + _drain(second.pool)) == everyone  # each once, by either
    assert _ids(_drain(first.single) + _drain(second.single)) == everyone
    assert _ids(_drain(first.every)) == _ids(_drain(second.every)) == everyone  # all, to each


class Stable(rt.Server):
    """A broadcast handler with a stable identifier (reliable), a pool handler with its own
    prefetch, and one that is not reliable."""

    service_name = "stable"
    methods = {}  # noqa: RUF012 (events only)

    def __init__(self) -> None:
        self.every: queue.Queue[int] = queue.Queue()
        self.pool: queue.Queue[int] = queue.Queue()
        self.fleeting: queue.Queue[int] = queue.Queue()

    @order_created.handler("broadcast", broadcast_identifier="node-a")
    def tell_all(self, payload: OrderCreated) -> None:
        self.every.put(payload.order_id)

    @order_created.handler(prefetch=3)
    def on_order(self, payload: OrderCreated) -> None:
        self.pool.put(payload.order_id)

    @order_created.handler(reliable_delivery=False)
    def glance(self, payload: OrderCreated) -> None:
        self.fleeting.put(payload.order_id)


BROADCAST_QUEUE = "evt-orders-order_created--stable.tell_all-node-a"
POOL_QUEUE = "evt-orders-order_created--stable.on_order"
FLEETING_QUEUE = "evt-orders-order_created--stable.glance"


def test_handler_options_as_nameko_has_them(rabbit_vhost: Vhost) -> None:
    uri = rabbit_vhost.uri
    with rt.run_in_background(Stable(), uri, max_workers=2):
        broadcast = queue_row(rabbit_vhost, BROADCAST_QUEUE)  # the identifier names the queue
        assert broadcast is not None
        # A stable identifier makes the broadcast queue reliable: durable and kept.
        assert (broadcast["durable"], broadcast["auto_delete"], broadcast["exclusive"]) == (
            True,
            False,
            False,
        )
        # prefetch: the handler's own, not the server's (2 workers x 10).
        assert prefetch_counts(rabbit_vhost, POOL_QUEUE) == [3]
        assert prefetch_counts(rabbit_vhost, BROADCAST_QUEUE) == [20]
        fleeting = queue_row(rabbit_vhost, FLEETING_QUEUE)
        assert fleeting is not None  # reliable_delivery=False: deleted with its last consumer
        assert (fleeting["auto_delete"], fleeting["exclusive"]) == (True, False)
    # Stopped: the reliable queues keep what is dispatched meanwhile; the other is gone.
    wait_until(lambda: queue_row(rabbit_vhost, FLEETING_QUEUE) is None, what="auto-deleted")
    with OrdersEvents.connect(uri) as events:
        events.order_created(OrderCreated(5, "sku", 1))
    for name in (BROADCAST_QUEUE, POOL_QUEUE):
        info = rabbit_vhost.queue(name)
        assert info is not None and info.messages_ready == 1, name
    again = Stable()
    with rt.run_in_background(again, uri):
        assert again.every.get(timeout=10) == again.pool.get(timeout=10) == 5
        assert again.fleeting.empty()  # it was not there when the event was dispatched


class Picky(rt.Server):
    service_name = "picky"
    methods = {}  # noqa: RUF012 (events only)

    def __init__(self) -> None:
        self.got: queue.Queue[OrderCreated] = queue.Queue()

    @order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.got.put(payload)


@pytest.fixture
def picky(rpc_uri: str) -> Iterator[Picky]:
    impl = Picky()
    with rt.run_in_background(impl, rpc_uri):
        yield impl


def test_a_dead_letter_names_its_queue_and_routing_key(
    rpc_uri: str, picky: Picky, peek: Peek
) -> None:
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    peek.publish("orders.events", "order_created", b'{"order_id": "one"}', props)
    dead, body = peek.get("rpcgen-dlq-picky")
    assert body == b'{"order_id": "one"}'  # as it came, untouched
    assert dead.headers["x-rpcgen-queue"] == "evt-orders-order_created--picky.on_order"
    assert dead.headers["x-rpcgen-routing-key"] == "order_created"
    assert "order_id" in dead.headers["x-rpcgen-reason"]
    assert dead.delivery_mode == 2
    assert picky.got.empty()


def test_the_dead_letter_queue_is_durable_and_the_original_acked_after_its_confirm(
    rabbit_vhost: Vhost,
) -> None:
    uri = rabbit_vhost.uri
    pool = "evt-orders-order_created--picky.on_order"
    with FaultProxy.to(uri) as proxy:
        # The server's first publish is the dead letter: its confirm is held for a while.
        held = proxy.arm(Fault.STALL, When(BASIC_ACK, direction=Direction.TO_CLIENT), seconds=10.0)
        with rt.run_in_background(Picky(), proxy.uri(uri)):
            dlq = queue_row(rabbit_vhost, "rpcgen-dlq-picky")
            assert dlq is not None and dlq["durable"] is True
            props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
            with raw_channel(uri) as channel:
                channel.basic_publish("orders.events", "order_created", b"{not json", props)
            assert held.wait(30), "no confirm came back"
            # The dead letter is in its queue, its confirm held: the original stays unacked.
            wait_until(lambda: _ready(rabbit_vhost, "rpcgen-dlq-picky") == 1, what="dead letter")
            info = rabbit_vhost.queue(pool)
            assert info is not None and info.messages_unacknowledged == 1
            # Once the confirm passes, the original is acked.
            wait_until(
                lambda: _settled(rabbit_vhost, pool),
                30,
                what="the original acked after its confirm",
            )


def _ready(vhost: Vhost, name: str) -> int:
    info = vhost.queue(name)
    return -1 if info is None else info.messages_ready


def _settled(vhost: Vhost, name: str) -> bool:
    info = vhost.queue(name)
    return info is not None and (info.messages_ready, info.messages_unacknowledged) == (0, 0)

"""Events across Nameko and rpcgen on a real broker, both ways, every handler type.

Nameko's ``EventDispatcher`` -> rpcgen handlers of ``OrdersEvent.order_created``; rpcgen's
``OrdersEvents`` -> Nameko ``@event_handler``s; a Nameko RPC call into an rpcgen handler that
dispatches on keeps growing the call-id stack as Nameko grows it.
"""

from __future__ import annotations

import queue
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from generated.shop import Order, OrderCreated, OrdersEvent, OrdersEvents, OrdersServer
from tests.interop.harness import NamekoClient, NamekoServices
from tests.waiting import wait_until

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
StartNameko = Callable[..., NamekoServices]
METHOD_OF = {"service_pool": "pool", "singleton": "single", "broadcast": "every"}


class Handlers(rt.Server):
    service_name = "rproducts"
    methods: dict[str, rt.Method[object]] = {}  # noqa: RUF012 (events only)

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[str, OrderCreated, tuple[str, ...]]] = queue.Queue()

    def _record(self, kind: str, payload: OrderCreated) -> None:
        ctx = rt.current_context()
        self.got.put((kind, payload, () if ctx is None else ctx.call_id_stack))

    @OrdersEvent.order_created.handler()
    def pool(self, payload: OrderCreated) -> None:
        self._record("service_pool", payload)

    @OrdersEvent.order_created.handler("singleton")
    def single(self, payload: OrderCreated) -> None:
        self._record("singleton", payload)

    @OrdersEvent.order_created.handler("broadcast", reliable_delivery=False)
    def every(self, payload: OrderCreated) -> None:
        self._record("broadcast", payload)


@pytest.fixture
def handlers(rabbit_vhost: Vhost) -> Iterator[Handlers]:
    impl = Handlers()
    with rt.run_in_background(impl, rabbit_vhost.uri):
        yield impl


def test_nameko_dispatcher_reaches_rpcgen_handlers_of_every_type(
    start_nameko: StartNameko, nameko_client: NamekoClient, handlers: Handlers
) -> None:
    start_nameko(module="event_orders", services=("orders",))
    created = nameko_client.call("orders", "create", 7, "sku-7", 2).value
    assert created == {"order_id": 7, "product_id": "sku-7", "quantity": 2}
    seen = {kind: (payload, stack) for kind, payload, stack in _take(handlers.got, 3)}
    assert set(seen) == {"service_pool", "singleton", "broadcast"}
    for kind, (payload, stack) in seen.items():
        assert payload == OrderCreated(7, "sku-7", 2)  # typed, validated
        # Nameko's stack: the standalone proxy, the orders worker, then the handler's own id.
        assert len(stack) == 3, stack
        assert re.fullmatch(rf"orders\.create\.{UUID4}", stack[1])
        assert stack[2].startswith(f"rproducts.{METHOD_OF[kind]}.")


def test_rpcgen_dispatcher_reaches_nameko_handlers_of_every_type(
    start_nameko: StartNameko, nameko_client: NamekoClient, rabbit_vhost: Vhost
) -> None:
    start_nameko(module="event_handlers", services=("nproducts",))
    _wait_for_queues(rabbit_vhost, 3)
    with OrdersEvents.connect(rabbit_vhost.uri) as events:
        events.order_created(OrderCreated(9, "sku-9", 1))
    received = _received(nameko_client, 3)
    assert sorted(r["kind"] for r in received) == ["broadcast", "service_pool", "singleton"]
    for record in received:
        assert record["payload"] == {"order_id": 9, "product_id": "sku-9", "quantity": 1}
        assert len(record["stack"]) == 1  # outside a handler rpcgen sends no stack, as Nameko's


def _received(nameko_client: NamekoClient, count: int) -> list[dict[str, Any]]:
    """What the Nameko handlers recorded, once they recorded ``count`` events."""

    def recorded() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = nameko_client.call("nproducts", "received").value
        return received if len(received) >= count else []

    return wait_until(recorded, what=f"{count} events handled by Nameko", interval=0.1)


def _wait_for_queues(vhost: Vhost, count: int) -> None:
    wait_until(
        lambda: len([q for q in vhost.queues() if q.name.startswith("evt-orders-")]) >= count,
        what="the Nameko handlers' queues",
        interval=0.1,
    )


def _take(q: queue.Queue[Any], n: int, timeout: float = 15.0) -> list[Any]:
    return [q.get(timeout=timeout) for _ in range(n)]


class RpcgenOrders(OrdersServer):
    """rpcgen's orders service: its handler dispatches ``order_created`` on its own connection."""

    @rt.on_start
    def open(self, connection: rt.Connection) -> None:
        self.events = OrdersEvents(connection)

    def create_order(self, product_id: str, quantity: int) -> Order:
        self.events.order_created(OrderCreated(1, product_id, quantity))
        return Order(1, product_id, quantity)

    def get_order(self, order_id: int) -> Order:
        return Order(order_id, "sku", 1)


def test_a_hop_through_an_rpcgen_handler_grows_the_stack_as_nameko_does(
    start_nameko: StartNameko, nameko_client: NamekoClient, rabbit_vhost: Vhost
) -> None:
    start_nameko(module="event_handlers", services=("nproducts",))
    _wait_for_queues(rabbit_vhost, 3)
    with rt.run_in_background(RpcgenOrders(), rabbit_vhost.uri):
        order = nameko_client.call("orders", "create_order", "sku-3", 3).value
    assert order == {"id": 1, "product_id": "sku-3", "quantity": 3}
    received = _received(nameko_client, 3)
    assert len(received) == 3
    for record in received:
        caller, hop, own = record["stack"]  # as a Nameko orders service would have grown it
        assert re.fullmatch(rf"orders\.create_order\.{UUID4}", hop)
        assert own.startswith("nproducts.")
        assert caller != hop


def test_declarations_and_messages_match_nameko_s(
    start_nameko: StartNameko, nameko_client: NamekoClient, rabbit_vhost: Vhost
) -> None:
    """Queue flags per handler type, the exchange, and an event's bytes: Nameko's and rpcgen's."""
    spy = rabbit_vhost.spy("orders.events", "order_created")
    start_nameko(module="event_orders", services=("orders",))
    start_nameko(module="event_handlers", services=("nproducts",))
    _wait_for_queues(rabbit_vhost, 3)
    nameko_client.call("orders", "create", 5, "sku-5", 1)
    with OrdersEvents.connect(rabbit_vhost.uri) as events:
        events.order_created(OrderCreated(5, "sku-5", 1))
    theirs, mine = spy.get(2)
    assert mine.body == theirs.body == b'{"order_id": 5, "product_id": "sku-5", "quantity": 1}'
    nameko_props = {k: v for k, v in theirs.properties.items() if k != "headers"}
    rpcgen_props = {k: v for k, v in mine.properties.items() if k != "headers"}
    # One property more than Nameko's: the event's identity (docs/wire.md §7.2), which a Nameko
    # handler ignores and an rpcgen server with ``Once`` uses to handle a resent copy once.
    assert "message_id" not in nameko_props
    assert re.fullmatch(UUID4, rpcgen_props.pop("message_id"))
    assert rpcgen_props == nameko_props  # content type and encoding, persistent, priority 0
    # The Nameko worker sends its context (the call-id stack); rpcgen outside a handler, none.
    assert set(theirs.properties["headers"]) == {"nameko.call_id_stack"}
    assert mine.properties.get("headers", {}) == {}

    nameko_queues = _flags(rabbit_vhost, "nproducts")
    with rt.run_in_background(Handlers(), rabbit_vhost.uri):
        rpcgen_queues = _flags(rabbit_vhost, "rproducts")
    by_kind = {_kind(n): f for n, f in nameko_queues.items()}
    assert {_kind(n): f for n, f in rpcgen_queues.items()} == by_kind
    exchange = rabbit_vhost.broker.management.request(
        "GET", f"exchanges/{rabbit_vhost.name}/orders.events"
    )
    assert (exchange["type"], exchange["durable"], exchange["auto_delete"]) == (
        "topic",
        True,
        False,
    )


def _flags(vhost: Vhost, service: str) -> dict[str, tuple[bool, bool, bool, object]]:
    return {
        q.name: (q.durable, q.auto_delete, q.exclusive, q.arguments)
        for q in vhost.queues()
        if q.name.startswith(f"evt-orders-order_created--{service}.")
        or (q.name == "evt-orders-order_created")
    }


def _kind(name: str) -> str:
    if name == "evt-orders-order_created":
        return "singleton"
    return "broadcast" if re.search(r"-[0-9a-f]{32}$", name) else "service_pool"


STANDALONE = """
import sys, warnings
warnings.simplefilter("ignore")
from nameko.standalone.events import event_dispatcher
import importlib.metadata
if importlib.metadata.version("nameko").startswith("2."):
    dispatch = event_dispatcher({"AMQP_URI": sys.argv[1]})
else:  # 3.x reads its URI as an option
    dispatch = event_dispatcher(uri=sys.argv[1])
dispatch("orders", "order_created", {"order_id": 11, "product_id": "s", "quantity": 4})
"""


def test_nameko_standalone_dispatcher_reaches_an_rpcgen_handler(
    nameko_python: Path, rabbit_vhost: Vhost, handlers: Handlers
) -> None:
    # The standalone dispatcher does not declare the exchange; the rpcgen handlers did.
    done = subprocess.run(
        [str(nameko_python), "-c", STANDALONE, rabbit_vhost.uri],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = {kind: (payload, stack) for kind, payload, stack in _take(handlers.got, 3)}
    assert set(seen) == {"service_pool", "singleton", "broadcast"}
    for payload, stack in seen.values():
        assert payload == OrderCreated(11, "s", 4)
        assert len(stack) == 1  # the standalone dispatcher sends no stack: the handler's own id

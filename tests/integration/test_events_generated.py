"""Generated events end to end: ``OrdersEvents`` dispatches, a ``ProductsServer`` subclass handles
``OrdersEvent.order_created`` beside its RPC methods, and calls made by the handler carry its
call-id stack on."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from generated.shop import (
    OrderCreated,
    OrdersAsyncEvents,
    OrdersEvent,
    OrdersEvents,
    OutOfStock,
    ProductsClient,
    ProductsServer,
)


class Products(ProductsServer):
    def __init__(self) -> None:
        self.stock = {"sku-1": 5}
        self.seen: queue.Queue[tuple[OrderCreated, tuple[str, ...]]] = queue.Queue()

    def get_stock(self, product_id: str) -> int:
        return self.stock.get(product_id, 0)

    def take(self, product_id: str, quantity: int) -> int:
        if self.get_stock(product_id) < quantity:
            raise OutOfStock(f"only {self.get_stock(product_id)} of {product_id} left")
        self.stock[product_id] -= quantity
        return self.stock[product_id]

    @OrdersEvent.order_created.handler()
    def take_stock(self, payload: OrderCreated) -> None:
        self.take(payload.product_id, payload.quantity)
        ctx = rt.current_context()
        self.seen.put((payload, () if ctx is None else ctx.call_id_stack))


@pytest.fixture
def products(rabbit_vhost: Vhost) -> Iterator[Products]:
    impl = Products()
    with rt.run_in_background(impl, rabbit_vhost.uri):
        yield impl


def test_a_generated_dispatcher_reaches_a_generated_servers_handler(
    rabbit_vhost: Vhost, products: Products
) -> None:
    with OrdersEvents.connect(rabbit_vhost.uri) as events:
        events.order_created(OrderCreated(order_id=1, product_id="sku-1", quantity=2))
    payload, stack = products.seen.get(timeout=10)
    assert payload == OrderCreated(1, "sku-1", 2)
    assert len(stack) == 1 and stack[0].startswith("products.take_stock.")
    with ProductsClient.connect(rabbit_vhost.uri, timeout=10) as client:
        assert client.get_stock("sku-1") == 3  # the RPC side of the same server saw it
        with pytest.raises(OutOfStock):
            client.take("sku-1", 10)


def test_the_asyncio_dispatcher(rabbit_vhost: Vhost, products: Products) -> None:
    async def dispatch() -> None:
        async with OrdersAsyncEvents.connect(rabbit_vhost.uri) as events:
            await asyncio.gather(
                *(events.order_created(OrderCreated(i, "sku-1", 1)) for i in range(3))
            )

    asyncio.run(dispatch())
    got = sorted(products.seen.get(timeout=10)[0].order_id for _ in range(3))
    assert got == [0, 1, 2] and products.stock["sku-1"] == 2

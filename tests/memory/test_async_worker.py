"""The documented ``worker_factory`` / ``entrypoint`` style for an async server whose clients a
start hook makes, with middleware included or left out. This file must stay ``mypy --strict``
clean (``tests/typing`` checks it): ``entrypoint(server.async_method)`` has the method's result
type, not a coroutine's."""

from __future__ import annotations

import asyncio

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import entrypoint, worker_factory

from generated.shop import (
    Order,
    OrderCreated,
    OrdersAsyncEvents,
    OrdersAsyncServer,
    OutOfStock,
    ProductsAsyncClient,
)


class NeedsUser(rt.Middleware):
    """Rejects a call without a ``user`` in its context."""

    def before(self, call: rt.HandlerCall) -> None:
        if "user" not in call.context.data:
            raise PermissionError(f"{call.name} needs a user")


class Orders(OrdersAsyncServer):
    middleware = (NeedsUser(),)

    @rt.on_start
    async def open(self, connection: rt.Transport) -> None:
        self.orders: dict[int, Order] = {}
        self.products = ProductsAsyncClient(connection)
        self.events = OrdersAsyncEvents(connection)

    async def create_order(self, product_id: str, quantity: int) -> Order:
        await self.products.take(product_id, quantity)
        order = Order(id=len(self.orders) + 1, product_id=product_id, quantity=quantity)
        self.orders[order.id] = order
        await self.events.order_created(OrderCreated(order.id, product_id, quantity))
        return order

    async def get_order(self, order_id: int) -> Order:
        return self.orders[order_id]


class FakeProducts:
    def __init__(self, stock: int) -> None:
        self.stock = stock

    async def take(self, product_id: str, quantity: int) -> int:
        await asyncio.sleep(0)
        if quantity > self.stock:
            raise OutOfStock(product_id)
        self.stock -= quantity
        return self.stock


class FakeEvents:
    def __init__(self) -> None:
        self.sent: list[OrderCreated] = []

    async def order_created(self, payload: OrderCreated) -> None:
        self.sent.append(payload)


def make_orders(stock: int = 5) -> Orders:
    """An ``Orders`` with the collaborators its start hook would make replaced by fakes."""
    return worker_factory(Orders, orders={}, products=FakeProducts(stock), events=FakeEvents())


def test_an_async_method_returns_its_result() -> None:
    orders = make_orders()
    order: Order = entrypoint(orders.create_order, context_data={"user": "ann"})("sku-1", 2)
    assert order == Order(1, "sku-1", 2)
    assert entrypoint(orders.get_order, context_data={"user": "ann"})(1).quantity == 2
    events = orders.events
    assert isinstance(events, FakeEvents) and events.sent == [OrderCreated(1, "sku-1", 2)]


def test_an_error_create_order_does_not_declare_comes_back_as_a_remote_error() -> None:
    orders = make_orders(stock=1)
    with pytest.raises(rt.RemoteError) as info:  # OutOfStock is declared on take, not here
        entrypoint(orders.create_order, context_data={"user": "ann"})("sku-1", 2)
    assert info.value.exc_type == "OutOfStock"


def test_the_class_middleware_runs_unless_left_out() -> None:
    orders = make_orders()
    with pytest.raises(rt.RemoteError, match="create_order needs a user"):
        entrypoint(orders.create_order)("sku-1", 1)
    assert orders.orders == {}
    order = entrypoint(orders.create_order, middleware=[])("sku-1", 1)  # left out
    assert order.id == 1


def test_a_replacement_the_class_does_not_know_is_refused() -> None:
    with pytest.raises(TypeError, match="no attribute or parameter 'prodcts'"):
        worker_factory(Orders, prodcts=FakeProducts(1))

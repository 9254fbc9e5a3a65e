"""The end-to-end demo, run by ``scripts/demo`` after ``rpcgen build idl/``.

It starts a throwaway RabbitMQ node, serves ``hello_service`` from a subclass of the generated
skeleton, calls it through the generated sync, futures and asyncio clients, shows a declared
error crossing the wire, dispatches a typed event that another service's handler receives, and
removes the node again.
"""

from __future__ import annotations

import asyncio
import queue
import time

from rpcgen.runtime import UnknownService, current_context, mask_uri, run_in_background
from rpcgen.runtime.testing.node import RabbitNode

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceClient,
    HelloServiceServer,
)
from generated.shop import OrderCreated, OrdersEvent, OrdersEvents, ProductsServer


class Hello(HelloServiceServer):
    """The skeleton implemented: mypy checks each override against the IDL."""

    def test(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero(f"cannot divide {a} by zero")
        return a / b


class Products(ProductsServer):
    """Keeps the stock and handles the orders service's ``order_created`` event."""

    def __init__(self) -> None:
        self.stock = {"sku-1": 10}
        self.handled: queue.Queue[str] = queue.Queue()

    def get_stock(self, product_id: str) -> int:
        return self.stock.get(product_id, 0)

    def take(self, product_id: str, quantity: int) -> int:
        self.stock[product_id] = self.get_stock(product_id) - quantity
        return self.stock[product_id]

    @OrdersEvent.order_created.handler()  # mypy checks `payload` against the event's type
    def take_stock(self, payload: OrderCreated) -> None:
        left = self.take(payload.product_id, payload.quantity)
        ctx = current_context()
        call_id = ctx.call_id if ctx else "?"
        self.handled.put(f"{call_id} got {payload!r}; {left} of {payload.product_id} left")


def events(uri: str) -> None:
    step("a typed event: orders dispatches order_created, a products handler takes the stock")
    products = Products()
    with run_in_background(products, uri), OrdersEvents.connect(uri) as orders:
        orders.order_created(OrderCreated(order_id=1, product_id="sku-1", quantity=3))
        print("orders.order_created(OrderCreated(1, 'sku-1', 3)) -> confirmed by the broker")
        print(f"handler: {products.handled.get(timeout=10)}")


def step(text: str) -> None:
    print(f"\n== {text}")


def sync_calls(uri: str) -> None:
    with HelloServiceClient.connect(uri, timeout=5.0) as client:
        step("sync client")
        print(f"client.test('world')     -> {client.test('world')!r}")
        print(f"client.compute(40, 2)    -> {client.compute(40, 2)!r}")
        start = time.perf_counter()
        for i in range(200):
            client.compute(i, i)
        per_call = (time.perf_counter() - start) / 200 * 1000
        print(f"200 sequential calls     -> {per_call:.2f} ms per call")

        step("futures (call_async): 100 calls in flight on one connection")
        futures = [client.compute.call_async(i, 1) for i in range(100)]
        results = [f.result(timeout=10) for f in futures]
        print(f"sum of 100 results       -> {sum(results)} (expected {sum(range(1, 101))})")

        step("a declared error crosses the wire")
        try:
            client.divide(1, 0)
        except DivisionByZero as exc:
            print(f"client.divide(1, 0) raised {type(exc).__name__}: {exc}")


def unknown_service(uri: str) -> None:
    step("a call to a service nobody serves fails at once")
    from generated.ledger import LedgerClient

    with LedgerClient.connect(uri, timeout=5.0) as ledger:
        start = time.perf_counter()
        try:
            ledger.ping()
        except UnknownService as exc:
            took = (time.perf_counter() - start) * 1000
            print(f"ledger.ping() raised UnknownService ({exc}) after {took:.1f} ms")


async def async_calls(uri: str) -> None:
    step("asyncio client: 1,000 concurrent awaits on one connection")
    async with HelloServiceAsyncClient.connect(uri, timeout=10.0) as client:
        print(f"await client.test('async') -> {await client.test('async')!r}")
        results = await asyncio.gather(*(client.compute(i, 0) for i in range(1000)))
        print(f"1,000 results, sum       -> {sum(results)} (expected {sum(range(1000))})")


def main() -> None:
    step("starting a throwaway RabbitMQ node")
    with RabbitNode() as node:
        print(f"broker at {mask_uri(node.uri)} (data in {node.dir})")
        with run_in_background(Hello(), node.uri) as runner:
            print(f"serving {runner.server.service_name} with {runner.max_workers} workers")
            sync_calls(node.uri)
            unknown_service(node.uri)
            asyncio.run(async_calls(node.uri))
        events(node.uri)
        step("server stopped gracefully; removing the broker")
    print("done")


if __name__ == "__main__":
    main()

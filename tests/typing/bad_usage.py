"""Wrong uses of generated code: every line marked ``# E: <code>`` must get exactly that mypy error,
and no other line may get one. Not linted (see pyproject's ruff exclude)."""

from __future__ import annotations

import decimal
import uuid

import rpcgen.runtime as rt

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceAsyncServer,
    HelloServiceClient,
    HelloServiceServer,
)
from generated.ledger import Currency, LedgerAsyncClient, LedgerClient, LedgerServer, Money, Owner
from generated.shop import Order, OrderCreated, OrdersAsyncEvents, OrdersEvent, OrdersEvents, ProductsServer


def wrong_calls(client: HelloServiceClient, ledger: LedgerClient) -> None:
    client.test(42)  # E: arg-type
    client.compute(1, "2")  # E: arg-type
    client.compute(1)  # E: call-arg
    client.compute(1, 2, 3)  # E: call-arg
    client.compute(1, 2, c=3)  # E: call-arg
    client.test(nme="x")  # E: call-arg
    client.greet("x")  # E: attr-defined
    ledger.open_account(Owner("a"), "EUR")  # E: arg-type
    ledger.open_account(Owner("a"), Currency.EUR, ["x"])  # E: call-arg
    ledger.find_accounts("a", order="random")  # E: arg-type
    ledger.transfer(uuid.uuid4(), uuid.uuid4(), decimal.Decimal(1))  # E: arg-type
    ledger.transfer(uuid.uuid4(), uuid.uuid4(), Money(decimal.Decimal(1)), memo="text")  # E: arg-type
    Money(1.5)  # E: arg-type


def wrong_results(client: HelloServiceClient, ledger: LedgerClient) -> None:
    name: int = client.test("x")  # E: assignment
    total: str = client.compute(1, 2)  # E: assignment
    client.compute(1, 2).upper()  # E: attr-defined
    pending = client.compute.call_async(1, 2)
    text: str = pending.result()  # E: assignment
    client.compute.call_async(1, "2")  # E: arg-type
    ledger.find_accounts.call_async("a", limit="5")  # E: arg-type
    client.test.call_async()  # E: call-arg
    balance: int = ledger.balances([uuid.uuid4()])["x"]  # E: assignment
    statement = ledger.statement(uuid.uuid4(), None, None)  # E: arg-type, arg-type
    statement["nope"]  # E: typeddict-item
    del name, total, text, balance


async def wrong_awaits(client: HelloServiceClient, aclient: HelloServiceAsyncClient) -> None:
    await client.compute(1, 2)  # E: misc
    aclient.compute(1, 2)  # E: unused-coroutine
    total: int = aclient.compute(1, 2)  # E: assignment
    await aclient.compute(1, "2")  # E: arg-type
    del total


class WrongArgument(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: str) -> int:  # E: override
        return a

    def divide(self, a: int, b: int) -> float:
        return a / b


class WrongResult(HelloServiceServer):
    def test(self, name: str) -> int:  # E: override
        return 0

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


class MissingMethod(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: int) -> int:
        return a + b


class MissingKeyword(LedgerServer):
    def find_accounts(self, owner_name: str) -> list[object]:  # E: override
        return []


def instantiate() -> None:
    MissingMethod()  # E: abstract


def wire_paths(error: DivisionByZero) -> None:
    error.exc_path = "x.Y"  # E: misc
    DivisionByZero.exc_path = 1  # E: assignment
    number: int = DivisionByZero.exc_path  # E: assignment
    del number


def wrong_events(events: OrdersEvents) -> None:
    events.order_created(Order(1, "sku", 2))  # E: arg-type
    events.order_created({"order_id": 1})  # E: arg-type
    events.order_creatd(OrderCreated(1, "sku", 2))  # E: attr-defined
    OrdersEvent.order_creatd  # E: attr-defined


async def wrong_async_events(events: OrdersAsyncEvents) -> None:
    await events.order_created(Order(1, "sku", 2))  # E: arg-type


class WrongHandler(ProductsServer):
    def get_stock(self, product_id: str) -> int:
        return 0

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()  # E: arg-type
    def on_order(self, payload: Order) -> None:
        pass

    @OrdersEvent.order_created.handler("singleton")  # E: arg-type
    async def on_order_async(self, payload: dict[str, int]) -> None:
        pass

    @OrdersEvent.order_created.handler("pool")  # E: arg-type
    def on_order_pooled(self, payload: OrderCreated) -> None:
        pass

    @OrdersEvent.order_creatd.handler()  # E: attr-defined, untyped-decorator
    def on_typo(self, payload: OrderCreated) -> None:
        pass


def wrong_dispatch_arity(events: OrdersEvents) -> None:
    events.order_created()  # E: call-arg
    events.order_created(OrderCreated(1, "sku", 2), 3)  # E: call-arg


class WrongAsync(HelloServiceAsyncServer):
    def test(self, name: str) -> str:  # E: override
        return name

    async def compute(self, a: int, b: str) -> int:  # E: override
        return a

    async def divide(self, a: int, b: int) -> str:  # E: override
        return ""


class WrongHooks(HelloServiceServer):
    @rt.on_start  # E: type-var
    def start(self, connection: int) -> None:
        pass

    @rt.on_stop  # E: arg-type
    def stop(self, connection: rt.Connection) -> None:
        pass


class WrongAsyncHooks(HelloServiceAsyncServer):
    @rt.on_start  # E: type-var
    async def start(self, connection: rt.Transport) -> int:
        return 1

    @rt.on_stop  # E: arg-type
    async def stop(self, connection: rt.Transport) -> None:
        pass


class NotMiddleware:
    pass


def wrong_middleware(server: HelloServiceServer) -> None:
    rt.ServiceRunner(server, "memory://x", middleware=[NotMiddleware()])  # E: list-item


def wrong_entrypoint_result(server: HelloServiceAsyncServer) -> None:
    from rpcgen.runtime.testing import entrypoint

    total: str = entrypoint(server.compute)(1, 2)  # E: assignment
    entrypoint(server.compute)("1", 2)  # E: arg-type

"""Correct uses of generated clients and servers: ``mypy --strict`` must accept every line.

Nothing here runs at import time; the functions are only type-checked (and imported by the test).
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import uuid
from collections.abc import Mapping
from typing import ClassVar

import rpcgen.runtime as rt

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceAsyncServer,
    HelloServiceClient,
    HelloServiceServer,
)
from generated.ledger import (
    Account,
    AccountNotFound,
    Currency,
    Filters,
    InsufficientFunds,
    LedgerAsyncClient,
    LedgerClient,
    LedgerError,
    LedgerServer,
    Money,
    Owner,
    Priority,
    Statement,
    Transfer,
)
from generated.shop import (
    OrderCreated,
    OrdersAsyncEvents,
    OrdersEvent,
    OrdersEvents,
    ProductsServer,
)


def sync_calls(client: HelloServiceClient) -> None:
    greeting: str = client.test("world")
    total: int = client.compute(1, 2)
    total = client.compute(a=1, b=2)
    ratio: float = client.divide(3, 4)
    try:
        ratio = client.divide(1, 0)
    except DivisionByZero as exc:
        message: str = str(exc)
    patient: HelloServiceClient = client.with_timeout(None)
    total = patient.compute(b=2, a=1)
    del greeting, total, ratio, message


def future_calls(client: HelloServiceClient) -> None:
    pending: rt.RpcFuture[int] = client.compute.call_async(1, 2)
    greetings = [client.test.call_async(name) for name in ("a", "b")]
    total: int = pending.result(timeout=5.0)
    names: list[str] = [future.result() for future in greetings]
    done: bool = pending.done()
    del total, names, done


def connect_and_share() -> None:
    with HelloServiceClient.connect("amqp://guest:guest@localhost:5672/", timeout=5) as hello:
        hello.test("x")
    with rt.Connection("amqp://localhost/") as connection:
        hello = HelloServiceClient(connection)
        ledger = LedgerClient(connection, timeout=None)
        ledger.ping()
        hello.compute(1, 2)


def ledger_calls(ledger: LedgerClient) -> None:
    owner = Owner("Ada", email=None, born=datetime.date(1815, 12, 10))
    account: Account = ledger.open_account(owner, Currency.EUR, tags=["vip"])
    accounts: list[Account] = ledger.find_accounts("Ada", limit=5, order="oldest")
    amount = Money(decimal.Decimal("12.50"))
    try:
        transfer: Transfer = ledger.transfer(
            account.id, uuid.uuid4(), amount, memo=b"rent", priority=Priority.HIGH
        )
    except InsufficientFunds:
        pass
    except (AccountNotFound, LedgerError):
        pass
    filters: Filters = {"min_amount": decimal.Decimal(1), "currencies": [Currency.USD]}
    page: Statement = ledger.statement(account.id, datetime.date.today(), datetime.date.today())
    page = ledger.statement(account.id, datetime.date.today(), datetime.date.today(), filters)
    first: Transfer = page["transfers"][0]
    rates: dict[str, tuple[decimal.Decimal, float]] = ledger.rates(Currency.GBP)
    cutoff: datetime.time = ledger.cutoff(datetime.date.today())
    counts: dict[str, int] = ledger.tag_counts(("vip", "new"))
    ledger.ping()
    found: rt.RpcFuture[list[Account]] = ledger.find_accounts.call_async("Ada", limit=5)
    pinged: rt.RpcFuture[None] = ledger.ping.call_async()
    del found, pinged
    del accounts, transfer, first, rates, cutoff, counts


async def async_calls(uri: str) -> None:
    async with HelloServiceAsyncClient.connect(uri) as hello:
        greeting: str = await hello.test("world")
        totals: tuple[int, int] = await asyncio.gather(hello.compute(1, 2), hello.compute(3, 4))
        ratio: float = await hello.with_timeout(1.0).divide(1, 2)
    async with await rt.AsyncConnection.open(uri) as connection:
        ledger = LedgerAsyncClient(connection)
        accounts: list[Account] = await ledger.find_accounts("Ada", include_closed=True)
    del greeting, totals, ratio, accounts


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


class Ledger(LedgerServer):
    """A server may accept wider argument types and return narrower results."""

    def open_account(
        self, owner: Owner, currency: Currency, *, tags: list[str] | None = None
    ) -> Account:
        raise AccountNotFound(owner.name)

    def get_account(self, account_id: uuid.UUID) -> Account:
        raise AccountNotFound(str(account_id))

    def find_accounts(
        self,
        owner_name: str,
        *,
        limit: int = 10,
        include_closed: bool = False,
        order: str = "newest",
    ) -> list[Account]:
        return []

    def transfer(
        self,
        source: uuid.UUID,
        target: uuid.UUID,
        amount: Money,
        *,
        memo: bytes | None = None,
        priority: Priority = Priority.NORMAL,
        reference: str | None = None,
    ) -> Transfer:
        raise InsufficientFunds(str(amount.amount))

    def statement(
        self,
        account_id: uuid.UUID,
        start: datetime.date,
        end: datetime.date,
        filters: Filters | None = None,
    ) -> Statement:
        raise AccountNotFound(str(account_id))

    def balances(self, account_ids: list[uuid.UUID]) -> dict[str, Money]:
        return {str(i): Money(decimal.Decimal(0)) for i in account_ids}

    def rates(
        self, base: Currency, at: datetime.datetime | None = None
    ) -> dict[str, tuple[decimal.Decimal, float]]:
        return {base.value: (decimal.Decimal(1), 0.0)}

    def cutoff(self, day: datetime.date) -> datetime.time:
        return datetime.time(17, 30)

    def tag_counts(self, tags: tuple[str, ...]) -> dict[str, int]:
        return dict.fromkeys(tags, 0)

    def ping(self) -> None:
        return None


def servers() -> list[rt.Server]:
    return [Hello(), Ledger()]


def wire_paths(error: InsufficientFunds) -> list[str]:
    """Every generated error class states the ``exc_path`` it travels under."""
    return [InsufficientFunds.exc_path, error.exc_path, DivisionByZero.exc_path]


def dispatch_events(connection: rt.Connection) -> None:
    events = OrdersEvents(connection, timeout=5.0)
    events.order_created(OrderCreated(order_id=1, product_id="sku-1", quantity=2))
    with OrdersEvents.connect("amqp://localhost") as own:
        own.order_created(OrderCreated(2, "sku-2", 1))


async def dispatch_events_async(connection: rt.Connection) -> None:
    events = OrdersAsyncEvents(connection)
    await events.order_created(OrderCreated(3, "sku-3", 1))


class Stock(ProductsServer):
    """A products service that also handles the orders service's event."""

    def __init__(self) -> None:
        self.stock: dict[str, int] = {}

    def get_stock(self, product_id: str) -> int:
        return self.stock.get(product_id, 0)

    def take(self, product_id: str, quantity: int) -> int:
        self.stock[product_id] = self.get_stock(product_id) - quantity
        return self.stock[product_id]

    @OrdersEvent.order_created.handler()
    def take_stock(self, payload: OrderCreated) -> None:
        self.take(payload.product_id, payload.quantity)

    @OrdersEvent.order_created.handler("broadcast", reliable_delivery=False)
    async def tell_everyone(self, payload: OrderCreated) -> None:
        await asyncio.sleep(0)


class Audit(rt.Server):
    """A server of a service with no IDL of its own: only handlers, of another service's event."""

    service_name = "audit"
    methods: ClassVar[Mapping[str, rt.Method[object]]] = {}

    @OrdersEvent.order_created.handler("singleton", requeue_on_error=True, prefetch=4)
    def record(self, payload: OrderCreated) -> int:
        return payload.order_id


def handlers_keep_their_type() -> None:
    event: rt.Event[OrderCreated] = OrdersEvent.order_created
    assert event.name == "order_created"


class AsyncHello(HelloServiceAsyncServer):
    """The asyncio skeleton: every method is ``async def``, served by the same runners."""

    async def test(self, name: str) -> str:
        await asyncio.sleep(0)
        return f"hello, {name}"

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


def serve_async(uri: str) -> None:
    with rt.run_in_background(AsyncHello(), uri) as runner:
        assert runner.server.service_name == "hello_service"


class WithHooks(HelloServiceServer):
    """Start hooks may take the connection as ``rt.Connection`` or as ``rt.Transport``."""

    @rt.on_start
    def open_pool(self, connection: rt.Connection) -> None:
        self.client = HelloServiceClient(connection)

    @rt.on_start
    def open_anywhere(self, connection: rt.Transport) -> None:
        self.other = HelloServiceClient(connection)

    @rt.on_stop
    def close_pool(self) -> None:
        pass

    def compute(self, a: int, b: int) -> int:
        return a + b

    def test(self, name: str) -> str:
        return name

    def divide(self, a: int, b: int) -> float:
        return a / b


class WithAsyncHooks(HelloServiceAsyncServer):
    """Async hooks: awaited on the loop of the async handlers."""

    @rt.on_start
    async def open_pool(self, connection: rt.Transport) -> None:
        self.client = HelloServiceAsyncClient(connection)

    @rt.on_stop
    async def close_pool(self) -> None:
        await asyncio.sleep(0)

    async def compute(self, a: int, b: int) -> int:
        return await self.client.compute(a, b)

    async def test(self, name: str) -> str:
        return name

    async def divide(self, a: int, b: int) -> float:
        return a / b


class NeedsUser(rt.Middleware):
    def before(self, call: rt.HandlerCall) -> None:
        if call.kind == "rpc" and "user" not in call.context.data:
            raise PermissionError(call.name)

    def after(self, call: rt.HandlerCall, result: object, error: BaseException | None) -> None:
        pass


class Audited(WithAsyncHooks):
    middleware = (NeedsUser(),)


def entrypoints_have_the_results_of_their_methods(server: WithAsyncHooks) -> None:
    from rpcgen.runtime.testing import entrypoint, worker_factory

    total: int = entrypoint(server.compute, middleware=[])(1, 2)
    name: str = entrypoint(worker_factory(Audited, client=None).test)("ann")
    assert (total, name) == (3, "ann")
    with rt.run_in_background(server, "memory://x", max_concurrency=50, middleware=[NeedsUser()]):
        pass

"""Effectively once (docs/reliability.md): the three ways RabbitMQ hands a handler a message twice,
reproduced on a real broker, each with deduplication off (the handler runs twice) and on, with
each store, in-process and Redis (it runs once, and a caller gets the first run's reply).

1. An event resent after a lost publisher confirm: the broker has the event, the dispatcher's
   connection breaks as the confirm comes back, the dispatcher publishes it again.
2. An event redelivered after a lost ack: the handler ran, its ack never reached the broker.
3. A request redelivered after a lost ack (the caller had its reply), or after a lost reply
   and ack (the caller had nothing: the copy's answer is the only one it gets).

Faults are struck by ``FaultProxy`` at the exact frame: the confirm (``basic.ack`` to the
client), the ack (``basic.ack`` to the broker), the reply (``basic.publish`` to the broker).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime import Backoff
from rpcgen.runtime.testing import Vhost

from generated.hello import HelloServiceAsyncServer, HelloServiceClient
from generated.shop import OrderCreated, OrdersEvent, OrdersEvents, ProductsServer
from tests.docs.test_doc_samples import ROOT, python_blocks
from tests.faults.faultproxy import Direction, Fault, FaultProxy, When
from tests.hello import AsyncHello, Hello
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

BASIC_ACK = (60, 80)  # a confirm (broker -> client) or an ack (client -> broker)
BASIC_PUBLISH = (60, 40)
FAST = Backoff(initial=0.1, max=0.5)
STORES = ["off", "local", "redis"]


@pytest.fixture(params=STORES)
def once(request: pytest.FixtureRequest) -> Iterator[rt.Once | bool]:
    """Deduplication off, or on with each store (Redis: the session's throwaway server)."""
    if request.param == "off":
        yield False
    elif request.param == "local":
        yield rt.Once(rt.LocalStore())
    else:
        from rpcgen.redisstore import RedisStore

        prefix = f"test:{uuid.uuid4().hex}:"
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=prefix)
        try:
            yield rt.Once(store)
        finally:
            store.close()


class Counting(Hello):
    """``test`` numbers its runs: a second run answers differently from the first."""

    def __init__(self) -> None:
        self.runs = 0
        self.lock = threading.Lock()

    def test(self, name: str) -> str:
        with self.lock:
            self.runs += 1
            return f"{name} #{self.runs}"


class AsyncCounting(AsyncHello):
    def __init__(self) -> None:
        self.runs = 0

    async def test(self, name: str) -> str:
        self.runs += 1
        return f"{name} #{self.runs}"


class Stock(ProductsServer):
    """Takes stock down once per ``order_created`` run; counts the runs per order."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def get_stock(self, product_id: str) -> int:
        return 0

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.runs.append(payload.order_id)


def _drained(vhost: Vhost) -> bool:
    return all(not q.messages_ready and not q.messages_unacknowledged for q in vhost.queues())


def test_an_event_resent_after_a_lost_confirm_runs_once(
    rabbit_vhost: Vhost, once: rt.Once | bool
) -> None:
    stock = Stock()
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        # The event reaches its queue; the connection breaks as its confirm comes back.
        cut = proxy.arm(Fault.RESET, When(BASIC_ACK, direction=Direction.TO_CLIENT))
        with (
            rt.run_in_background(stock, rabbit_vhost.uri, once=once) as runner,
            OrdersEvents.connect(proxy.uri(rabbit_vhost.uri), reconnect=FAST) as events,
        ):
            events.order_created(OrderCreated(7, "sku", 1))  # returns once the resend is confirmed
            assert cut.fired.is_set()
            expected = 1 if once else 2
            wait_until(lambda: len(stock.runs) == expected, what=f"{expected} handler runs")
            wait_until(
                lambda: _drained(rabbit_vhost), what="queues drained", describe=rabbit_vhost.queues
            )
            assert stock.runs == [7] * expected
            assert runner.duplicates == (1 if once else 0)


def test_an_event_redelivered_after_a_lost_ack_runs_once(
    rabbit_vhost: Vhost, once: rt.Once | bool
) -> None:
    stock = Stock()
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        # The handler runs; its ack never reaches the broker, which redelivers the event.
        lost = proxy.arm(Fault.RESET, When(BASIC_ACK, direction=Direction.TO_BROKER))
        server_uri = proxy.uri(rabbit_vhost.uri)
        with (
            rt.run_in_background(stock, server_uri, once=once, reconnect=FAST) as runner,
            OrdersEvents.connect(rabbit_vhost.uri) as events,
        ):
            events.order_created(OrderCreated(8, "sku", 1))
            assert lost.wait(30), "the event was never acked"
            expected = 1 if once else 2
            wait_until(lambda: len(stock.runs) == expected, what=f"{expected} handler runs")
            wait_until(
                lambda: _drained(rabbit_vhost), what="queues drained", describe=rabbit_vhost.queues
            )
            assert stock.runs == [8] * expected
            assert runner.duplicates == (1 if once else 0)


@pytest.mark.parametrize("fault", ["lost ack", "lost reply"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_redelivered_runs_once_and_the_caller_gets_the_first_reply(
    rabbit_vhost: Vhost, once: rt.Once | bool, fault: str, kind: str
) -> None:
    impl: Counting | AsyncCounting = Counting() if kind == "sync" else AsyncCounting()
    assert isinstance(impl, HelloServiceAsyncServer) == (kind == "async")
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        # "lost ack": the reply reached the caller, the request's ack did not reach the
        # broker. "lost reply": the server's connection broke as the reply was published, so
        # the caller has nothing and the request was never acked.
        frame = BASIC_ACK if fault == "lost ack" else BASIC_PUBLISH
        cut = proxy.arm(Fault.RESET, When(frame, direction=Direction.TO_BROKER))
        server_uri = proxy.uri(rabbit_vhost.uri)
        with (
            rt.run_in_background(impl, server_uri, once=once, reconnect=FAST) as runner,
            HelloServiceClient.connect(rabbit_vhost.uri, timeout=30) as client,
        ):
            result = client.test("order")
            assert cut.wait(30)
            expected = 1 if once else 2
            wait_until(lambda: impl.runs == expected, what=f"{expected} handler runs")
            wait_until(
                lambda: _drained(rabbit_vhost), what="queues drained", describe=rabbit_vhost.queues
            )
            assert impl.runs == expected
            assert runner.duplicates == (1 if once else 0)
            if fault == "lost ack" or once:
                assert result == "order #1"  # the first run's reply, sent again if need be
            else:
                assert result == "order #2"  # the first reply was lost: the second run answered


def _recipe() -> type[rt.Middleware]:
    """``OnceInTheDatabase``, run from docs/reliability.md's own sample."""
    page = ROOT / "docs" / "reliability.md"
    (block,) = [b for b in python_blocks(page) if "class OnceInTheDatabase" in b.code]
    namespace: dict[str, object] = {}
    exec(compile(block.code, f"{block.page}:{block.line}", "exec"), namespace)
    middleware = namespace["OnceInTheDatabase"]
    assert isinstance(middleware, type) and issubclass(middleware, rt.Middleware)
    return middleware


class DatabaseStock(Stock):
    """Takes the stock down in the transaction the middleware opened."""

    def __init__(self, path: str) -> None:
        super().__init__()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE stock (product TEXT PRIMARY KEY, units INTEGER)")
            db.execute("INSERT INTO stock VALUES ('sku', 10)")

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.runs.append(payload.order_id)
        call = rt.current_call()
        assert call is not None
        db = call.state["db"]
        db.execute(
            "UPDATE stock SET units = units - ? WHERE product = ?",
            (payload.quantity, payload.product_id),
        )


def test_the_database_recipe_takes_the_stock_once_without_once(
    rabbit_vhost: Vhost, tmp_path: Path
) -> None:
    path = str(tmp_path / "shop.db")
    stock = DatabaseStock(path)
    recipe = _recipe()(path)  # type: ignore[call-arg]
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        lost = proxy.arm(Fault.RESET, When(BASIC_ACK, direction=Direction.TO_BROKER))
        server_uri = proxy.uri(rabbit_vhost.uri)
        with (
            rt.run_in_background(
                stock, server_uri, once=False, middleware=[recipe], reconnect=FAST
            ) as runner,
            OrdersEvents.connect(rabbit_vhost.uri) as events,
        ):
            events.order_created(OrderCreated(9, "sku", 3))
            assert lost.wait(30), "the event was never acked"
            wait_until(
                lambda: _drained(rabbit_vhost), what="queues drained", describe=rabbit_vhost.queues
            )
            assert runner.duplicates == 0  # Once is off: the middleware alone did it
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT units FROM stock").fetchall() == [(7,)]
        (key,) = db.execute("SELECT message_key FROM handled").fetchall()
    assert key[0].startswith("evt-orders-order_created--products.on_order")
    assert stock.runs == [9]  # the copy found its identity recorded: the handler did not run


def test_a_store_that_fails_never_holds_a_message(
    memory_broker: rt.testing.MemoryBroker, caplog: pytest.LogCaptureFixture
) -> None:
    from rpcgen.redisstore import RedisStore

    dead = RedisStore("redis://127.0.0.1:1/0", timeout=0.5)  # nothing listens on port 1
    impl, stock = Counting(), Stock()
    once = rt.Once(dead)
    with (
        rt.run_in_background(impl, memory_broker.uri, once=once),
        rt.run_in_background(stock, memory_broker.uri, once=once),
        HelloServiceClient.connect(memory_broker.uri, timeout=10) as client,
        OrdersEvents.connect(memory_broker.uri) as events,
    ):
        assert [client.test("a"), client.test("b")] == ["a #1", "b #2"]
        events.order_created(OrderCreated(1, "sku", 1))
        wait_until(lambda: stock.runs == [1], what="the event handled")
    failures = [r for r in caplog.records if "the once store (RedisStore) failed" in r.message]
    assert len(failures) == 1  # one line, then at most one per 10 s
    assert "failed to claim" in failures[0].message
    assert "handled at least once until it answers again" in failures[0].message

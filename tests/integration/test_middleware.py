"""Middleware around RPC handlers and event handlers, sync and async servers, both transports:
what a middleware sees, the order they run in, rejection, per-request resources, and a middleware
that raises (the caller gets the error, the request is acked, the server goes on)."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import rpcgen.runtime as rt

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncServer,
    HelloServiceClient,
    HelloServiceServer,
)
from tests.integration.conftest import Peek
from tests.integration.test_events import OrderCreated, OrdersEvents, order_created


class Recorder(rt.Middleware):
    """Appends what it sees to a shared log."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def before(self, call: rt.HandlerCall) -> None:
        self.log.append(f"{self.name} before {call.name}")

    def after(self, call: rt.HandlerCall, result: object, error: BaseException | None) -> None:
        outcome = repr(result) if error is None else type(error).__name__
        self.log.append(f"{self.name} after {call.name} {outcome}")


class Sessions(rt.Middleware):
    """A per-request resource, opened and closed around the handler (sync and async)."""

    def __init__(self) -> None:
        self.opened = 0
        self.open_now = 0
        self.most_open = 0
        self.lock = threading.Lock()

    def _open(self, call: rt.HandlerCall) -> dict[str, object]:
        with self.lock:
            self.opened += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
            session: dict[str, object] = {"id": self.opened, "closed": False}
        call.state["session"] = session
        return session

    def _close(self, session: dict[str, object]) -> None:
        session["closed"] = True
        with self.lock:
            self.open_now -= 1

    def around(self, call: rt.HandlerCall, proceed: Callable[[], object]) -> object:
        session = self._open(call)
        try:
            return proceed()
        finally:
            self._close(session)

    async def around_async(
        self, call: rt.HandlerCall, proceed: Callable[[], Awaitable[object]]
    ) -> object:
        session = self._open(call)
        try:
            return await proceed()
        finally:
            self._close(session)


def session() -> dict[str, object]:
    """The handler's own session, as the ``Sessions`` middleware provided it."""
    call = rt.current_call()
    assert call is not None
    found: dict[str, object] = call.state["session"]
    return found


class Hello(HelloServiceServer):
    log: list[str] = []  # noqa: RUF012 (replaced per test)
    middleware: tuple[rt.Middleware, ...] = (Recorder("class", log),)

    def test(self, name: str) -> str:
        self.log.append("handler test")
        assert session()["closed"] is False
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return int(str(session()["id"]))

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


class AsyncHello(HelloServiceAsyncServer):
    log: list[str] = []  # noqa: RUF012
    middleware: tuple[rt.Middleware, ...] = (Recorder("class", log),)

    async def test(self, name: str) -> str:
        self.log.append("handler test")
        await asyncio.sleep(0.01)
        assert session()["closed"] is False
        return f"hello, {name}"

    async def compute(self, a: int, b: int) -> int:
        await asyncio.sleep(0.2)  # many at once: each keeps its own session
        return int(str(session()["id"]))

    async def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


SERVERS = [Hello, AsyncHello]


@pytest.fixture(params=SERVERS, ids=["sync", "async"])
def server_cls(request: pytest.FixtureRequest) -> type[Any]:
    cls: type[Any] = request.param
    cls.log.clear()
    return cls


def test_order_outcomes_and_per_request_resources(rpc_uri: str, server_cls: type[Any]) -> None:
    log = server_cls.log
    sessions = Sessions()
    chain = [Recorder("outer", log), sessions, Recorder("inner", log)]
    with (
        rt.run_in_background(server_cls(), rpc_uri, middleware=chain),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        assert client.test("ann") == "hello, ann"
        assert log == [
            "outer before test",
            "inner before test",
            "class before test",
            "handler test",
            "class after test 'hello, ann'",
            "inner after test 'hello, ann'",
            "outer after test 'hello, ann'",
        ]
        log.clear()
        with pytest.raises(DivisionByZero):
            client.divide(1, 0)
        assert log[-1] == "outer after divide DivisionByZero"
        ids = [f.result() for f in [client.compute.call_async(1, 2) for _ in range(20)]]
    assert sorted(ids) == list(range(3, 23))  # each call its own (test's was 1, divide's 2)
    assert sessions.open_now == 0 and sessions.opened == 22
    if server_cls is AsyncHello:
        assert sessions.most_open > 1  # sessions of concurrent async calls were open together


class Seen(rt.Middleware):
    def __init__(self) -> None:
        self.calls: queue.Queue[rt.HandlerCall] = queue.Queue()

    def before(self, call: rt.HandlerCall) -> None:
        self.calls.put(call)


def test_a_middleware_sees_the_call_and_its_context(rpc_uri: str, server_cls: type[Any]) -> None:
    seen = Seen()
    with (
        rt.run_in_background(server_cls(), rpc_uri, middleware=[seen, Sessions()]),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
        rt.context_data(user="ann"),
    ):
        assert client.divide(3, b=4) == 0.75
    call = seen.calls.get(timeout=5)
    assert (call.service, call.name, call.kind, call.handler_type) == (
        "hello_service",
        "divide",
        "rpc",
        "rpc",
    )
    assert (call.args, call.kwargs) == ((3, 4), {})  # decoded as the handler gets them
    assert call.is_async is (server_cls is AsyncHello)
    assert call.context.data["user"] == "ann"
    assert call.context.call_id.startswith("hello_service.divide.")
    assert call.context.call_id_stack[-1] == call.context.call_id
    assert call.context.deadline is not None  # the client's timeout travelled
    assert (call.queue, call.source, call.event) == ("rpc-hello_service", None, None)


class Authorise(rt.Middleware):
    """Rejects calls without a user: a declared error for ``divide``, any other for the rest."""

    def before(self, call: rt.HandlerCall) -> None:
        if "user" not in call.context.data:
            if call.name == "divide":
                raise DivisionByZero("not allowed")
            raise PermissionError(f"{call.name} needs a user")


def test_a_middleware_rejects_calls(rpc_uri: str, server_cls: type[Any]) -> None:
    log = server_cls.log
    with (
        rt.run_in_background(server_cls(), rpc_uri, middleware=[Authorise(), Sessions()]),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        with pytest.raises(rt.RemoteError) as rejected:
            client.test("eve")
        assert rejected.value.exc_type == "PermissionError"
        assert "test needs a user" in str(rejected.value)
        with pytest.raises(DivisionByZero, match="not allowed"):
            client.divide(1, 2)
        assert "handler test" not in log  # rejected before the handler
        with rt.context_data(user="ann"):
            assert client.test("ann") == "hello, ann"
        assert "handler test" in log


class Explodes(rt.Middleware):
    def __init__(self, where: str) -> None:
        self.where = where

    def before(self, call: rt.HandlerCall) -> None:
        if self.where == "before" and call.name == "test":
            raise RuntimeError("middleware broke before")

    def after(self, call: rt.HandlerCall, result: object, error: BaseException | None) -> None:
        if self.where == "after" and call.name == "test":
            raise RuntimeError("middleware broke after")


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_middleware_that_raises_loses_nothing(
    rpc_uri: str, server_cls: type[Any], where: str, peek: Peek
) -> None:
    runner = rt.ServiceRunner(server_cls(), rpc_uri, middleware=[Explodes(where), Sessions()])
    runner.start()
    try:
        with HelloServiceClient.connect(rpc_uri, timeout=10) as client:
            with pytest.raises(rt.RemoteError, match=f"middleware broke {where}"):
                client.test("x")
            assert client.divide(1, 2) == 0.5  # the server goes on
    finally:
        assert runner.stop(timeout=10)  # every request settled: nothing left unacked
    assert peek.message_count("rpc-hello_service") == 0  # nothing requeued
    assert ("handler test" in server_cls.log) is (where == "after")


class Stock(rt.Server):
    service_name = "stock"
    methods = {}  # noqa: RUF012

    def __init__(self) -> None:
        self.seen: queue.Queue[tuple[OrderCreated, object]] = queue.Queue()

    @order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.seen.put((payload, session()["id"]))


class AsyncStock(Stock):
    @order_created.handler("singleton")
    async def on_order_async(self, payload: OrderCreated) -> None:
        await asyncio.sleep(0)
        self.seen.put((payload, session()["id"]))


class RejectBig(rt.Middleware):
    def before(self, call: rt.HandlerCall) -> None:
        (payload,) = call.args
        if payload.quantity > 100:
            raise PermissionError("too big")


def test_middleware_wraps_sync_and_async_event_handlers(rpc_uri: str) -> None:
    seen = Seen()
    stock = AsyncStock()
    with (
        rt.run_in_background(stock, rpc_uri, middleware=[seen, RejectBig(), Sessions()]),
        OrdersEvents.connect(rpc_uri) as orders,
    ):
        orders.order_created(OrderCreated(1, "sku", 2))
        got = sorted(stock.seen.get(timeout=10)[0].order_id for _ in range(2))
        assert got == [1, 1]
        calls = sorted((seen.calls.get(timeout=5) for _ in range(2)), key=lambda c: c.name)
        assert [(c.name, c.kind, c.handler_type, c.is_async) for c in calls] == [
            ("on_order", "event", "service_pool", False),
            ("on_order_async", "event", "singleton", True),
        ]
        assert all(
            c.event == "order_created" and c.args == (OrderCreated(1, "sku", 2),) for c in calls
        )
        orders.order_created(OrderCreated(2, "sku", 500))  # rejected by the middleware: acked
        orders.order_created(OrderCreated(3, "sku", 1))
        got = sorted(stock.seen.get(timeout=10)[0].order_id for _ in range(2))
        assert got == [3, 3]  # the rejected event never reached a handler, nor blocked the next
    assert stock.seen.empty()


class NotAMiddleware:
    def before(self, call: rt.HandlerCall) -> None:
        pass


def test_what_is_not_a_middleware_is_refused(rpc_uri: str) -> None:
    with pytest.raises(TypeError, match=r"not an rpcgen\.runtime\.Middleware"):
        rt.ServiceRunner(Hello(), rpc_uri, middleware=[NotAMiddleware()])  # type: ignore[list-item]


def test_a_factory_may_set_middleware_on_the_instance(rpc_uri: str) -> None:
    log: list[str] = []

    def make() -> Hello:
        hello = Hello()
        hello.middleware = (Recorder("factory", log), Sessions())
        return hello

    with (
        rt.run_in_background(make(), rpc_uri),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        assert client.compute(1, 2) == 1
    assert log == ["factory before compute", "factory after compute 1"]


class Outcomes(rt.Middleware):
    """Records what ``finished`` sees: (middleware, call name, outcome, reply result or error)."""

    def __init__(self, name: str, log: list[tuple[str, str, str | None, object]]) -> None:
        self.name = name
        self.log = log

    def finished(self, call: rt.HandlerCall) -> None:
        got = None if call.reply is None else _reply(call.reply)
        self.log.append((self.name, call.name, call.outcome, got))
        if call.name == "test" and self.name == "inner":
            raise RuntimeError("finished broke")  # logged and ignored: the reply stands


def _reply(body: bytes) -> object:
    """The result, or the error's type, of an encoded reply body."""
    reply = json.loads(body)
    return reply["result"] if reply["error"] is None else reply["error"]["exc_type"]


class BadResult(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return object()  # type: ignore[return-value]  # cannot be encoded: an error reply

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


def test_finished_sees_the_outcome_the_caller_gets(rpc_uri: str) -> None:
    log: list[tuple[str, str, str | None, object]] = []
    chain = [Outcomes("outer", log), Authorise(), Outcomes("inner", log)]
    with (
        rt.run_in_background(BadResult(), rpc_uri, middleware=chain),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        with rt.context_data(user="ann"):
            assert client.test("ann") == "hello, ann"  # inner's finished raised: ignored
            with pytest.raises(DivisionByZero):
                client.divide(1, 0)
            with pytest.raises(rt.RemoteError):
                client.compute(1, 2)  # a result that cannot be sent: an error nobody raised
        with pytest.raises(DivisionByZero, match="not allowed"):
            client.divide(1, 2)  # rejected by Authorise: inner still hears of it
    assert log == [
        ("inner", "test", "ok", "hello, ann"),
        ("outer", "test", "ok", "hello, ann"),
        ("inner", "divide", "declared_error", "DivisionByZero"),
        ("outer", "divide", "declared_error", "DivisionByZero"),
        ("inner", "compute", "error", log[4][3]),
        ("outer", "compute", "error", log[4][3]),
        ("inner", "divide", "declared_error", "DivisionByZero"),
        ("outer", "divide", "declared_error", "DivisionByZero"),
    ]
    assert log[4][3] in ("UnserializableValueError", "TypeError", "ValueError")


class Flaky(rt.Server):
    service_name = "stock"
    methods = {}  # noqa: RUF012

    def __init__(self) -> None:
        self.seen: queue.Queue[int] = queue.Queue()
        self.runs = 0

    @order_created.handler(requeue_on_error=True)
    def on_order(self, payload: OrderCreated) -> None:
        self.runs += 1
        self.seen.put(payload.order_id)
        if self.runs == 1:
            raise RuntimeError("first delivery fails")


def test_finished_sees_an_events_fate_and_queue(rpc_uri: str) -> None:
    calls: queue.Queue[tuple[str | None, str | None, str | None, str | None]] = queue.Queue()

    class Fates(rt.Middleware):
        def finished(self, call: rt.HandlerCall) -> None:
            calls.put((call.outcome, call.source, call.queue, None if call.reply else "no reply"))

    stock = Flaky()
    with (
        rt.run_in_background(stock, rpc_uri, middleware=[Fates()]),
        OrdersEvents.connect(rpc_uri) as orders,
    ):
        orders.order_created(OrderCreated(7, "sku", 1))
        assert [stock.seen.get(timeout=10) for _ in range(2)] == [7, 7]  # requeued, then run
        fates = [calls.get(timeout=5) for _ in range(2)]
    queue_name = "evt-orders-order_created--stock.on_order"
    assert fates == [
        ("requeue", "orders", queue_name, "no reply"),
        ("ack", "orders", queue_name, "no reply"),
    ]

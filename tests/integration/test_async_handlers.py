"""Async handlers: ``async def`` methods and event handlers served on the runner's loop, at most
``max_workers`` at once, with the request's context for the async calls they make. Every test
runs on both transports."""

from __future__ import annotations

import asyncio
import queue
import threading

import pytest
import rpcgen.runtime as rt

from generated.hello import DivisionByZero, HelloServiceClient
from tests.hello import AsyncHello
from tests.integration.impls import Itest
from tests.integration.stubs import ItestAsyncClient, ItestClient, ItestServer
from tests.integration.test_events import OrderCreated, OrdersEvents, order_created
from tests.waiting import wait_until


class AsyncItest(rt.Server):
    """The ``itest`` service with coroutine handlers (what a generated async skeleton gives)."""

    service_name = "itest"
    methods = {name: ItestServer.methods[name] for name in ("hello", "sleep", "fail")}  # noqa: RUF012

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.gate = threading.Event()  # sleep() waits for it (cleared by a test) before sleeping
        self.gate.set()
        self.events: queue.Queue[tuple[OrderCreated, str]] = queue.Queue()

    async def hello(self, name: str) -> str:
        return f"hello, {name}"

    async def sleep(self, seconds: float) -> float:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        if not self.gate.is_set():
            assert await asyncio.to_thread(self.gate.wait, 30)
        await asyncio.sleep(seconds)
        with self.lock:
            self.running -= 1
        return seconds

    async def fail(self, message: str) -> None:
        raise ValueError(message)

    @order_created.handler()
    async def on_order(self, payload: OrderCreated) -> None:
        ctx = rt.current_context()
        self.events.put((payload, "" if ctx is None else ctx.call_id))


def test_async_handlers_answer_bounded_by_max_workers(rpc_uri: str) -> None:
    impl = AsyncItest()
    with (
        rt.run_in_background(impl, rpc_uri, max_workers=3, prefetch=20),
        ItestClient.connect(rpc_uri, timeout=20) as client,
    ):
        assert client.hello("a") == "hello, a"
        impl.gate.clear()
        futures = [client.sleep.call_async(0.01) for _ in range(9)]
        # The first three hold their workers at the gate: they overlap, whatever the load.
        wait_until(lambda: impl.running == 3, what="three handlers at the gate")
        impl.gate.set()
        assert [f.result() for f in futures] == [0.01] * 9
        assert impl.most == 3  # never more than max_workers at once
        with pytest.raises(rt.RemoteError) as failed:
            client.fail("boom")
        assert failed.value.exc_type == "ValueError" and "boom" in str(failed.value)
        with OrdersEvents.connect(rpc_uri) as events:
            events.order_created(OrderCreated(3, "s", 1))
        payload, call_id = impl.events.get(timeout=10)
        assert payload == OrderCreated(3, "s", 1) and call_id.startswith("itest.on_order.")


CONTEXT: rt.Method[dict[str, str]] = ItestServer.methods["context"]  # type: ignore[assignment]


class AsyncRelay(rt.Server):
    service_name = "arelay"
    methods: dict[str, rt.Method[object]] = {}  # noqa: RUF012

    @rt.on_start
    def open(self, connection: rt.Transport) -> None:
        self.itest = ItestAsyncClient(connection, timeout=10)

    async def relay(self) -> dict[str, str]:
        return await self.itest._call(CONTEXT, (), {})


def test_an_async_handlers_async_calls_carry_its_context(rpc_uri: str) -> None:
    AsyncRelay.methods = {"relay": rt.Method("arelay", "relay", params=(), result=dict[str, str])}
    with (
        rt.run_in_background(Itest(), rpc_uri),
        rt.run_in_background(AsyncRelay(), rpc_uri),
        rt.open_connection(rpc_uri) as conn,
    ):
        call: rt.Method[dict[str, str]] = AsyncRelay.methods["relay"]  # type: ignore[assignment]
        future: rt.RpcFuture[dict[str, str]] = rt.RpcFuture(call, conn)
        conn.call(call, call.codec.encode_request((), {}), 10, future._resolve)
        seen = future.result()
    assert "arelay.relay." in seen["call_id_stack"] and "itest.context." in seen["call_id_stack"]


class GeneratedAsyncHello(AsyncHello):
    async def test(self, name: str) -> str:
        await asyncio.sleep(0.01)
        return f"hello, {name}"


def test_a_generated_async_skeleton_serves_like_the_sync_one(rpc_uri: str) -> None:
    with (
        rt.run_in_background(GeneratedAsyncHello(), rpc_uri),
        HelloServiceClient.connect(rpc_uri, timeout=10) as client,
    ):
        assert client.test("a") == "hello, a"
        assert client.compute(2, 3) == 5
        assert [f.result() for f in [client.test.call_async(str(i)) for i in range(20)]] == [
            f"hello, {i}" for i in range(20)
        ]
        with pytest.raises(DivisionByZero, match="cannot divide 1 by zero"):
            client.divide(1, 0)

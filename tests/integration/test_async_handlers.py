"""Async handlers: ``async def`` methods and event handlers served as tasks on the runner's loop,
at most ``max_concurrency`` at once (not bound to the ``max_workers`` threads, which run the sync
methods of a mixed server), with the request's context for the async calls they make. Every test
runs on both transports."""

from __future__ import annotations

import asyncio
import queue
import threading

import rpcgen.runtime as rt

from generated.hello import DivisionByZero, HelloServiceAsyncServer, HelloServiceClient
from tests.integration.conftest import Peek
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
        self.events: queue.Queue[tuple[OrderCreated, str]] = queue.Queue()

    async def hello(self, name: str) -> str:
        return f"hello, {name}"

    async def sleep(self, seconds: float) -> float:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
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


def test_async_handlers_run_as_tasks_not_bounded_by_max_workers(rpc_uri: str) -> None:
    impl = AsyncItest()
    with (
        rt.run_in_background(impl, rpc_uri, max_workers=1),
        ItestClient.connect(rpc_uri, timeout=20) as client,
    ):
        assert client.hello("a") == "hello, a"
        futures = [client.sleep.call_async(0.5) for _ in range(30)]
        assert [f.result() for f in futures] == [0.5] * 30
        assert impl.most == 30  # all at once on the loop, with a single worker thread
        try:
            client.fail("boom")
        except rt.RemoteError as exc:
            assert exc.exc_type == "ValueError" and "boom" in str(exc)
        else:
            raise AssertionError("no error")
        with OrdersEvents.connect(rpc_uri) as events:
            events.order_created(OrderCreated(3, "s", 1))
        payload, call_id = impl.events.get(timeout=10)
        assert payload == OrderCreated(3, "s", 1) and call_id.startswith("itest.on_order.")


def test_max_concurrency_bounds_async_handlers(rpc_uri: str) -> None:
    impl = AsyncItest()
    with (
        rt.run_in_background(impl, rpc_uri, max_concurrency=3) as runner,
        ItestClient.connect(rpc_uri, timeout=20) as client,
    ):
        assert runner.max_concurrency == 3
        futures = [client.sleep.call_async(0.3) for _ in range(9)]
        assert [f.result() for f in futures] == [0.3] * 9
        assert impl.most == 3  # at most max_concurrency at once, and they did overlap


class MixedItest(AsyncItest):
    """Async ``hello`` and ``sleep``, a sync ``context`` that blocks its worker thread."""

    methods = {  # noqa: RUF012
        name: ItestServer.methods[name] for name in ("hello", "sleep", "fail", "context")
    }

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.sync_running = 0
        self.sync_most = 0

    def context(self) -> dict[str, str]:
        with self.lock:
            self.sync_running += 1
            self.sync_most = max(self.sync_most, self.sync_running)
        self.release.wait(20)
        with self.lock:
            self.sync_running -= 1
        return {"thread": threading.current_thread().name}


def test_a_mixed_server_runs_sync_methods_on_workers_and_async_ones_on_its_loop(
    rpc_uri: str,
) -> None:
    impl = MixedItest()
    with (
        rt.run_in_background(impl, rpc_uri, max_workers=2),
        ItestClient.connect(rpc_uri, timeout=20) as client,
    ):
        blocked = [client.context.call_async() for _ in range(4)]
        # Both workers are held by sync calls: async calls still answer, on the loop.
        assert [client.sleep.call_async(0.05).result() for _ in range(3)] == [0.05] * 3
        assert client.hello("b") == "hello, b"
        assert not any(f.done() for f in blocked)
        impl.release.set()
        threads = {f.result()["thread"] for f in blocked}
    assert impl.sync_most == 2  # sync methods stay limited by max_workers
    assert all(name.startswith("rpcgen-itest-") for name in threads) and len(threads) <= 2


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


class GeneratedAsyncHello(HelloServiceAsyncServer):
    async def test(self, name: str) -> str:
        await asyncio.sleep(0.01)
        return f"hello, {name}"

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero(f"cannot divide {a} by zero")
        return a / b


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
        try:
            client.divide(1, 0)
        except DivisionByZero as exc:
            assert "cannot divide 1 by zero" in str(exc)
        else:
            raise AssertionError("no DivisionByZero")


def test_stop_drains_async_handlers_in_flight(rpc_uri: str, peek: Peek) -> None:
    impl = AsyncItest()
    runner = rt.ServiceRunner(impl, rpc_uri)
    runner.start()
    stopped = False
    try:
        with ItestClient.connect(rpc_uri, timeout=20) as client:
            in_flight = [client.sleep.call_async(0.5) for _ in range(5)]
            wait_until(lambda: impl.running == 5, 10, what="all five awaiting on the loop")
            assert runner.stop(timeout=20)  # settled: answered and acked
            stopped = True
            assert [f.result() for f in in_flight] == [0.5] * 5
    finally:
        if not stopped:
            runner.stop()
    assert peek.message_count("rpc-itest") == 0

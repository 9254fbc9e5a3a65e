"""The in-memory broker's own rules (tests/integration runs the shared behaviour on both
transports): topic routing, returns, prefetch, declare conflicts, what cannot travel, the
broker closing under its users, and the opt-in ``caller_runs`` mode."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._memory import topic_matches
from rpcgen.runtime.testing import TRANSPORTS, MemoryBroker

from generated.hello import HelloServiceAsyncClient, HelloServiceClient
from tests.hello import Hello as BaseHello
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import until_served, wait_until


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("itest.*", "itest.hello", True),
        ("itest.*", "itest", False),
        ("itest.*", "itest.a.b", False),
        ("*.hello", "itest.hello", True),
        ("#", "", True),
        ("#", "a.b.c", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y", False),
        ("#.c", "c", True),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
        ("order_created", "order_created", True),
        ("order_created", "order_updated", False),
    ],
)
def test_topic_bindings_match_as_rabbitmq_matches_them(
    pattern: str, key: str, matches: bool
) -> None:
    assert topic_matches(pattern, key) is matches


class Hello(BaseHello):
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.gate = threading.Event()  # compute() waits for it; open unless a test closes it
        self.gate.set()

    def test(self, name: str) -> str:
        self.threads.add(threading.current_thread().name)
        return f"hi {name}"

    def compute(self, a: int, b: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        assert self.gate.wait(30)
        with self.lock:
            self.running -= 1
        return a + b


@pytest.fixture
def broker() -> Iterator[MemoryBroker]:
    with MemoryBroker() as broker:
        yield broker


def test_a_memory_uri_names_one_broker_and_nothing_is_made_before_first_use() -> None:
    with MemoryBroker("named") as broker:
        assert broker.uri == "memory://named"
        with pytest.raises(ValueError, match="open already"):
            MemoryBroker("named")
        with rt.run_in_background(Hello(), "memory://named"):
            assert "rpc-hello_service" in broker.queue_names()
            with HelloServiceClient.connect("memory://named") as client:
                assert client.test("a") == "hi a"
    with pytest.raises(ValueError, match="memory://NAME"):
        rt.open_connection("memory://")
    with pytest.raises(ValueError, match="failover"):
        rt.open_connection(["memory://x", "amqp://localhost"])


def test_prefetch_bounds_the_requests_in_hand_whatever_the_workers(broker: MemoryBroker) -> None:
    impl = Hello()
    with (
        rt.run_in_background(impl, broker.uri, max_workers=8, prefetch=2),
        HelloServiceClient.connect(broker.uri) as client,
    ):
        impl.gate.clear()
        futures = [client.compute.call_async(i, 1) for i in range(8)]
        wait_until(lambda: impl.running == 2, what="two requests in hand")
        # The other six wait in the queue, not in the server, with six workers idle.
        wait_until(lambda: broker.message_count("rpc-hello_service") == 6, what="six queued")
        assert impl.running == 2
        impl.gate.set()
        assert [f.result() for f in futures] == [i + 1 for i in range(8)]
    assert impl.most == 2


def test_a_service_queue_outlives_its_server_and_keeps_requests(broker: MemoryBroker) -> None:
    with rt.run_in_background(Hello(), broker.uri):
        pass
    with HelloServiceClient.connect(broker.uri, timeout=10) as client:
        future = client.test.call_async("later")  # no UnknownService: the queue is there
        assert broker.message_count("rpc-hello_service") == 1
        with rt.run_in_background(Hello(), broker.uri):
            assert future.result() == "hi later"


def test_a_queue_declared_with_other_arguments_is_refused(broker: MemoryBroker) -> None:
    with rt.run_in_background(Hello(), broker.uri):
        pass
    runner = rt.ServiceRunner(Hello(), broker.uri, queue_type="quorum")
    with pytest.raises(rt.RpcConnectionError, match="PRECONDITION_FAILED"):
        runner.start()


@pytest.mark.parametrize("rpc_transport", TRANSPORTS)  # the same on both, so proven here
def test_context_data_that_cannot_travel_fails_the_call_as_on_the_wire(rpc_uri: str) -> None:
    with (
        rt.run_in_background(Itest(), rpc_uri),
        ItestClient.connect(rpc_uri, timeout=10) as client,
    ):
        # pika encodes no floats in a header table: the publish fails, as it does on the wire
        with rt.context_data(ratio=0.5), pytest.raises(rt.RpcConnectionError, match="float"):
            client.hello("x")
        with rt.context_data(flag=True, big=2**70 // 2**10):  # not plain, but pika sends these
            seen = client.context()
        assert (seen["flag"], seen["big"]) == ("true", str(2**60))


def test_a_value_the_codec_cannot_encode_fails_before_anything_is_sent(
    broker: MemoryBroker,
) -> None:
    with HelloServiceClient.connect(broker.uri) as client:
        with pytest.raises(TypeError, match="cannot send object"):
            client.test(object())  # type: ignore[arg-type]
        assert broker.queue_names() == [client_queue(broker)]


def test_closing_the_broker_fails_calls_and_stops_servers(broker: MemoryBroker) -> None:
    impl = Itest()
    runner = rt.ServiceRunner(impl, broker.uri)
    runner.start()
    try:
        client = ItestClient(rt.open_connection(broker.uri), timeout=None)
        pending = client.sleep.call_async(0.5)
        assert impl.started.acquire(timeout=10)
        broker.close()
        with pytest.raises(rt.RpcConnectionError, match="closed"):
            pending.result()
        assert runner.stopping.wait(5) and isinstance(runner.error, rt.RpcConnectionError)
        with pytest.raises(rt.RpcConnectionError, match="closed"):
            client.hello("after")
        MemoryBroker(broker.name).close()  # the name is free again
    finally:
        runner.stop()


_caller_only: contextvars.ContextVar[str] = contextvars.ContextVar("caller_only", default="")


class Watched(Itest):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def hello(self, name: str) -> str:
        self.seen.append((threading.current_thread().name, _caller_only.get()))
        return super().hello(name)


def client_queue(broker: MemoryBroker) -> str:
    (name,) = [q for q in broker.queue_names() if q.startswith("rpc.reply-")]
    return name


def test_caller_runs_serves_an_idle_service_in_the_callers_thread_with_its_own_context() -> None:
    impl = Watched()
    with (
        MemoryBroker(caller_runs=True) as broker,
        rt.run_in_background(impl, broker.uri, max_workers=2),
        ItestClient.connect(broker.uri, timeout=10) as client,
    ):
        seen = impl.seen
        _caller_only.set("secret")
        with rt.context_data(lang="en"):
            assert client.hello("a") == "hello, a"
            assert '"en"' in client.context()["lang"]
        assert seen == [(threading.current_thread().name, "")]
        assert client.hello.call_async("b").result() == "hello, b"  # futures: a worker
        assert seen[1][0].startswith("rpcgen-itest-")
        with pytest.raises(rt.RpcTimeout):  # raised once the handler returns, not at 0.1 s
            client.with_timeout(0.1).sleep(0.3)


def test_raw_and_asyncio_clients_take_memory_uris_too(broker: MemoryBroker) -> None:
    with (
        rt.run_in_background(Hello(), broker.uri),
        rt.RawClient.connect(broker.uri, timeout=10) as raw,
    ):
        assert raw.call("hello_service", "test", ["raw"]) == "hi raw"
        with pytest.raises(rt.MethodNotFound):
            raw.call("hello_service", "nope")

        async def main() -> int:
            async with HelloServiceAsyncClient.connect(broker.uri, timeout=10) as client:
                return await client.compute(2, 2)

        assert asyncio.run(main()) == 4


def test_serve_takes_a_memory_uri_and_returns_the_loss_when_the_broker_closes() -> None:
    errors: list[BaseException] = []

    def run(uri: str) -> None:
        try:
            rt.serve(Hello(), uri)  # not the main thread: no signal handlers
        except BaseException as exc:
            errors.append(exc)

    with MemoryBroker() as broker:
        thread = threading.Thread(target=run, args=(broker.uri,))
        thread.start()
        with HelloServiceClient.connect(broker.uri, timeout=10) as client:
            assert until_served(lambda: client.test("served")) == "hi served"
        broker.close()
        thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], rt.RpcConnectionError)


def test_requests_unsettled_when_a_stop_gives_up_are_redelivered(broker: MemoryBroker) -> None:
    first = Itest()
    runner = rt.ServiceRunner(first, broker.uri, max_workers=1)
    runner.start()
    with ItestClient.connect(broker.uri, timeout=30) as client:
        future = client.sleep.call_async(0.5)
        assert first.started.acquire(timeout=10)
        assert runner.stop(timeout=0.05) is False  # the handler is still running
        # Its connection closed with the request unacked: it is back in the queue.
        assert broker.message_count("rpc-itest") == 1
        second = Itest()
        with rt.run_in_background(second, broker.uri):
            assert future.result() == 0.5
            assert second.started.acquire(timeout=0)  # answered by the second server


def test_the_environment_may_name_a_memory_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    with MemoryBroker("from-env"):
        monkeypatch.setenv("RPCGEN_AMQP_URI", "memory://from-env")
        with rt.run_in_background(Hello()), HelloServiceClient.connect(timeout=10) as client:
            assert client.test("env") == "hi env"

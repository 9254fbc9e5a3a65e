"""Client behaviour against a real rpcgen server: results, errors, timeouts. Every test runs on
both transports (``[memory]`` and ``[rabbitmq]``, see conftest.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
import rpcgen.runtime as rt

from tests.integration.conftest import Peek
from tests.integration.impls import Itest
from tests.integration.stubs import (
    GhostClient,
    InsufficientFunds,
    ItestAsyncClient,
    ItestClient,
    StaleItestClient,
)
from tests.waiting import wait_until, wait_until_async


@pytest.fixture
def itest(rpc_uri: str) -> Iterator[Itest]:
    impl = Itest()
    with rt.run_in_background(impl, rpc_uri, max_workers=4):
        yield impl


@pytest.fixture
def client(rpc_uri: str, itest: Itest) -> Iterator[ItestClient]:
    with ItestClient.connect(rpc_uri, timeout=20) as client:
        yield client


def test_sync_calls_return_typed_results(client: ItestClient) -> None:
    assert client.hello("bob") == "hello, bob"
    assert client.compute(6, b=7) == 42
    assert client.compute(6) == 6  # the keyword-only default, sent explicitly


def test_many_futures_in_flight_on_one_connection(client: ItestClient) -> None:
    futures = [client.compute.call_async(i, b=2) for i in range(500)]
    assert [f.result(timeout=20) for f in futures] == [2 * i for i in range(500)]
    assert all(f.done() for f in futures)


def test_future_wait_timeout_leaves_the_call_pending(client: ItestClient, itest: Itest) -> None:
    future = client.sleep.call_async(0.5)
    with pytest.raises(rt.RpcTimeout):
        future.result(timeout=0.01)
    assert future.result() == 0.5


def test_threads_share_one_client(client: ItestClient) -> None:
    errors: list[BaseException] = []

    def work(base: int) -> None:
        try:
            for i in range(100):
                assert client.compute(base + i, b=3) == 3 * (base + i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(1000 * n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_declared_error_is_raised_as_its_generated_class(client: ItestClient) -> None:
    with pytest.raises(InsufficientFunds, match="balance 100 < 1000"):
        client.withdraw(1000)
    assert client.withdraw(30) == 70


def test_undeclared_exception_is_a_remote_error(client: ItestClient) -> None:
    with pytest.raises(rt.RemoteError) as info:
        client.fail("boom")
    assert (info.value.exc_type, info.value.exc_path, info.value.value) == (
        "ValueError",
        "builtins.ValueError",
        "boom",
    )
    assert str(info.value) == "ValueError boom"


@pytest.fixture
def stale(rpc_uri: str, itest: Itest) -> Iterator[StaleItestClient]:
    with StaleItestClient.connect(rpc_uri, timeout=20) as client:
        yield client


def test_unknown_method_is_method_not_found(stale: StaleItestClient) -> None:
    with pytest.raises(rt.MethodNotFound, match="nope"):
        stale.nope()


def test_wrong_argument_type_is_incorrect_signature(stale: StaleItestClient) -> None:
    # A client whose idea of hello() is out of date sends an int where the server wants a str.
    with pytest.raises(rt.IncorrectSignature, match="name") as info:
        stale.hello(5)
    assert "str" in str(info.value)


def test_unknown_service_fails_at_once_not_by_timeout(rpc_uri: str) -> None:
    # The timeout is far longer than the test's own limit: only UnknownService can pass.
    with ItestClient.connect(rpc_uri, timeout=600) as client:
        with pytest.raises(rt.UnknownService, match="`itest`"):
            client.hello("nobody")
        future = client.hello.call_async("nobody")
        with pytest.raises(rt.UnknownService):
            future.result()


def test_timeout_counts_total_time_not_silence(rpc_uri: str, itest: Itest, peek: Peek) -> None:
    """Replies to other calls keep arriving on the reply queue; the ghost call still times out."""
    peek.ghost("ghost")
    stop = threading.Event()
    answered: list[str] = []
    connection = rt.open_connection(rpc_uri)
    try:
        client = ItestClient(connection, timeout=10)
        ghost = GhostClient(connection, timeout=0.5)  # on the same connection and reply queue

        def chatter() -> None:
            while not stop.is_set():
                answered.append(client.hello("busy"))

        thread = threading.Thread(target=chatter)
        thread.start()
        try:
            wait_until(lambda: answered, what="replies flowing")
            before = len(answered)
            with pytest.raises(rt.RpcTimeout) as info:
                ghost.haunt()
            assert len(answered) > before  # replies kept arriving while the ghost call waited
        finally:
            stop.set()
            thread.join()
    finally:
        connection.close()
    assert info.value.routing_key == "ghost.haunt"
    assert info.value.timeout == 0.5
    assert "ghost.haunt" in str(info.value) and "0.5" in str(info.value)


def _dropped_replies(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The documented debug line of a reply nobody waits for (docs/clients.md)."""
    return [r for r in caplog.records if r.getMessage().startswith(DROPPED)]


DROPPED = "dropped a reply for unknown correlation id"


def test_late_reply_after_timeout_is_dropped(
    client: ItestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rpcgen")
    with pytest.raises(rt.RpcTimeout):
        client.with_timeout(0.2).sleep(0.6)
    # The late reply arrives and is dropped, logged at debug; the connection keeps working.
    (dropped,) = wait_until(lambda: _dropped_replies(caplog), what="the late reply dropped")
    assert dropped.levelno == logging.DEBUG
    assert client.hello("after") == "hello, after"


def test_closing_the_connection_fails_pending_calls(rpc_uri: str, itest: Itest) -> None:
    connection = rt.open_connection(rpc_uri)
    client = ItestClient(connection, timeout=None)
    future = client.sleep.call_async(1.0)
    assert itest.started.acquire(timeout=10)
    connection.close()
    with pytest.raises(rt.RpcConnectionError):
        future.result()
    with pytest.raises(rt.RpcConnectionError):
        client.hello("closed")
    assert not connection.is_open


def test_one_connection_serves_several_clients(rpc_uri: str, itest: Itest) -> None:
    with rt.open_connection(rpc_uri) as connection:
        fast, patient = ItestClient(connection, timeout=5), ItestClient(connection, timeout=None)
        assert fast.hello("a") == patient.hello("b").replace("b", "a")


async def _asyncio_many(uri: str) -> None:
    async with ItestAsyncClient.connect(uri, timeout=30) as client:
        # A liveness bound (the calls take ~2 s): a lost wake-up would stall to a heartbeat.
        calls = asyncio.gather(*(client.compute(i, b=2) for i in range(3000)))
        results = await asyncio.wait_for(calls, 20)
        assert results == [2 * i for i in range(3000)]


def test_asyncio_thousands_of_concurrent_awaits(rpc_uri: str, itest: Itest) -> None:
    asyncio.run(_asyncio_many(rpc_uri))


async def _asyncio_cancel(uri: str, itest: Itest, caplog: pytest.LogCaptureFixture) -> None:
    async with ItestAsyncClient.connect(uri, timeout=30) as client:
        tasks = [asyncio.create_task(client.sleep(0.3)) for _ in range(20)]
        await asyncio.to_thread(itest.started.acquire, True, 10)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        # The replies of the cancelled calls arrive and are dropped.
        await wait_until_async(lambda: len(_dropped_replies(caplog)) == 20, what="20 replies")
        assert await client.hello("still here") == "hello, still here"
        with pytest.raises(rt.RpcTimeout):
            await client.with_timeout(0.1).sleep(0.5)
        assert await client.compute(2, b=21) == 42


def test_asyncio_cancellation_leaves_the_connection_healthy(
    rpc_uri: str, itest: Itest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rpcgen")
    asyncio.run(_asyncio_cancel(rpc_uri, itest, caplog))


async def _asyncio_errors(uri: str) -> None:
    async with ItestAsyncClient.connect(uri, timeout=30) as client:
        ghost: rt.Method[None] = rt.Method("ghost", "x", params=(), result=None)
        with pytest.raises(rt.UnknownService):
            await client._call(ghost, (), {})


def test_asyncio_unknown_service(rpc_uri: str, itest: Itest) -> None:
    asyncio.run(_asyncio_errors(rpc_uri))


async def _asyncio_timeout(uri: str) -> None:
    async with ItestAsyncClient.connect(uri, timeout=0.3) as client:
        # Nothing will ever answer: only the call's own deadline can end it, well before 10 s.
        with pytest.raises(rt.RpcTimeout):
            await asyncio.wait_for(client.hello("ghost"), 10)


def test_asyncio_timeout_fires_without_any_traffic(rpc_uri: str, peek: Peek) -> None:
    peek.ghost("itest")
    asyncio.run(_asyncio_timeout(rpc_uri))

"""Documented behaviour with no other test of its own: the connection defaults (docs/clients.md),
``@on_stop`` after the last request in flight (docs/servers.md), and several in-memory servers of
one service sharing its queue round-robin (docs/testing.md)."""

from __future__ import annotations

import threading
import time

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import MemoryBroker, Vhost

from tests.faults.faultproxy import CONNECTION_OPEN, Fault, FaultProxy, When
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

MIB = 1024 * 1024


def test_max_message_bytes_defaults_to_16_mib(memory_broker: MemoryBroker) -> None:
    too_large = pytest.raises(rt.PayloadTooLarge, match=f"over the limit of {16 * MIB} bytes")
    with ItestClient.connect(memory_broker.uri, timeout=10) as client, too_large:
        client.hello("x" * (16 * MIB))  # the JSON body is a few bytes more than 16 MiB


def test_connect_timeout_defaults_to_10_s(rabbit_vhost: Vhost) -> None:
    # A broker that accepts the socket and then says nothing: connecting gives up at the default.
    # Timing is the behaviour here: not before 10 s (a busy machine only makes it later), and
    # well before pika's 60 s heartbeat would notice.
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        proxy.arm(Fault.BLACKHOLE, When(CONNECTION_OPEN))
        start = time.monotonic()
        with pytest.raises(rt.RpcConnectionError, match="Timeout while setting up AMQP"):
            rt.Connection(proxy.uri(rabbit_vhost.uri), reconnect=None)
        assert 9.5 <= time.monotonic() - start < 30


class Closing(Itest):
    """``sleep`` holds its worker until released; the hooks and the handler log their order."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.order: list[str] = []

    @rt.on_stop
    def closed(self) -> None:
        self.order.append("on_stop")

    def sleep(self, seconds: float) -> float:
        self.started.release()
        assert self.release.wait(30)
        self.order.append("last request")
        return seconds


def test_on_stop_runs_after_the_last_request_in_flight(rpc_uri: str) -> None:
    impl = Closing()
    runner = rt.ServiceRunner(impl, rpc_uri, max_workers=2)
    runner.start()
    with ItestClient.connect(rpc_uri, timeout=30) as client:
        in_flight = client.sleep.call_async(0.25)
        assert impl.started.acquire(timeout=10)
        stopping = threading.Thread(target=runner.stop, args=(30,))
        stopping.start()
        wait_until(runner.stopping.is_set, what="the stop begun")
        assert impl.order == []  # stopping, but the request is still running: no on_stop yet
        impl.release.set()
        assert in_flight.result() == 0.25
        stopping.join(30)
    assert impl.order == ["last request", "on_stop"]


class Counting(Itest):
    def __init__(self) -> None:
        super().__init__()
        self.answered = 0

    def hello(self, name: str) -> str:
        self.answered += 1
        return f"hello, {name}"


def test_several_in_memory_servers_of_a_service_share_its_queue(
    memory_broker: MemoryBroker,
) -> None:
    servers = [Counting() for _ in range(3)]
    runners = [rt.run_in_background(s, memory_broker.uri, max_workers=1) for s in servers]
    for runner in runners:
        runner.__enter__()
    try:
        assert memory_broker.consumer_count("rpc-itest") == 3  # one queue, three consumers
        with ItestClient.connect(memory_broker.uri, timeout=10) as client:
            assert [client.hello(str(i)) for i in range(30)] == [f"hello, {i}" for i in range(30)]
    finally:
        for runner in reversed(runners):
            runner.__exit__(None, None, None)
    # Sequential calls, round-robin: each server answered its third.
    assert [s.answered for s in servers] == [10, 10, 10]

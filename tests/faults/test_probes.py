"""``/healthz`` and ``/readyz`` (``rpcgen.runtime.probes``) flip as an orchestrator needs: not
ready while starting, while the broker is down and from the moment a drain begins; alive
throughout."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._amqp.connection import Backoff
from rpcgen.runtime.probes import ProbeServer
from rpcgen.runtime.testing import MemoryBroker
from rpcgen.runtime.testing.node import RabbitNode

from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(110)]


def get(probes: ProbeServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{probes.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_for(probes: ProbeServer, path: str, status: int, timeout: float = 30) -> str:
    seen: list[tuple[int, str]] = []  # the last answer, for the failure message

    def answered() -> tuple[str] | None:
        seen[:] = [get(probes, path)]
        got, text = seen[0]
        return (text,) if got == status else None  # a tuple: an empty body is an answer too

    return wait_until(answered, timeout, what=f"{path} {status}", describe=lambda: seen)[0]


class Holding(Itest):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> float:
        self.started.release()
        assert self.release.wait(60)
        return seconds


@pytest.fixture
def node(rabbit_node_factory: Callable[..., RabbitNode]) -> RabbitNode:
    return rabbit_node_factory(management=False)


@pytest.fixture
def runner_with_probes(node: RabbitNode) -> Iterator[tuple[rt.ServiceRunner, ProbeServer, Holding]]:
    impl = Holding()
    runner = rt.ServiceRunner(impl, node.uri, max_workers=2, reconnect=Backoff(max=0.5))
    probes = ProbeServer(runner, 0, "127.0.0.1")
    probes.start()
    try:
        yield runner, probes, impl
    finally:
        impl.release.set()
        runner.stop(10)
        probes.close()


def test_readiness_follows_start_outage_and_drain(
    runner_with_probes: tuple[rt.ServiceRunner, ProbeServer, Holding], node: RabbitNode
) -> None:
    runner, probes, impl = runner_with_probes
    assert get(probes, "/readyz") == (503, "starting\n")
    assert get(probes, "/healthz") == (200, "ok\n")
    assert get(probes, "/nothing")[0] == 404
    runner.start()
    wait_for(probes, "/readyz", 200)

    node.stop()
    reason = wait_for(probes, "/readyz", 503)
    assert reason == "not consuming rpc-itest (the connection is down or reconnecting)\n"
    assert get(probes, "/healthz") == (200, "ok\n")  # reconnecting is not dead
    node.start()
    wait_for(probes, "/readyz", 200, timeout=60)

    with ItestClient.connect(node.uri, timeout=60) as client:
        call = client.sleep.call_async(1.0)
        assert impl.started.acquire(timeout=30)
        stopper = threading.Thread(target=runner.stop, args=(30,))
        stopper.start()
        assert wait_for(probes, "/readyz", 503) == "stopping\n"  # draining: take nothing new
        assert get(probes, "/healthz") == (200, "ok\n")  # but alive: let it finish
        assert stopper.is_alive()  # the handler still runs
        impl.release.set()
        assert call.result(timeout=30) == 1.0
        stopper.join(30)
        assert not stopper.is_alive()


def test_liveness_fails_once_reconnecting_is_given_up(node: RabbitNode) -> None:
    runner = rt.ServiceRunner(Itest(), node.uri, reconnect=None)
    probes = ProbeServer(runner, 0, "127.0.0.1")
    probes.start()
    try:
        runner.start()
        wait_for(probes, "/readyz", 200)
        node.stop()
        reason = wait_for(probes, "/healthz", 503)
        assert reason.startswith("the connection is lost for good: ")
    finally:
        runner.stop(10)
        probes.close()


def test_probes_on_the_memory_transport(memory_broker: MemoryBroker) -> None:
    runner = rt.ServiceRunner(Itest(), memory_broker.uri)
    probes = ProbeServer(runner, 0, "127.0.0.1")
    probes.start()
    try:
        assert get(probes, "/readyz")[0] == 503
        runner.start()
        assert get(probes, "/readyz") == (200, "ok\n")
        runner.stop()
        assert get(probes, "/readyz") == (503, "stopping\n")
    finally:
        probes.close()

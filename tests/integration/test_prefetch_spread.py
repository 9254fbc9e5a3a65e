"""Requests spread over several servers of one service: a server holds at most its prefetch.

RabbitMQ delivers to a consumer while it has prefetch credit, and an rpcgen server returns a
credit only when a reply is confirmed. So a server that stops answering (stuck, or just slow)
holds at most ``prefetch`` requests, and every other request goes to the servers that answer.
That bound is what makes a larger default prefetch safe; ``bench/spread.py`` measures the
throughput and the tail it trades.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from generated.hello import HelloServiceClient
from tests.hello import Hello as BaseHello
from tests.waiting import wait_until

pytestmark = pytest.mark.broker

STUCK = 1_000_000


class Hello(BaseHello):
    """``compute(a, b)`` answers ``a + b + tag``; with ``gate``, only once the gate opens."""

    def __init__(self, tag: int = 0, gate: threading.Event | None = None) -> None:
        self.tag = tag
        self.gate = gate
        self.started = 0
        self.lock = threading.Lock()

    def compute(self, a: int, b: int) -> int:
        with self.lock:
            self.started += 1
        if self.gate is not None:
            self.gate.wait(60)
        return a + b + self.tag


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # never leave a worker waiting


@pytest.mark.parametrize("prefetch", [None, 7])
def test_a_stuck_server_holds_at_most_its_prefetch_and_the_other_answers_the_rest(
    rabbit_vhost: Vhost, gate: threading.Event, prefetch: int | None
) -> None:
    calls = 300
    stuck = Hello(STUCK, gate)
    with (
        rt.run_in_background(stuck, rabbit_vhost.uri, max_workers=2, prefetch=prefetch) as slow,
        rt.run_in_background(Hello(), rabbit_vhost.uri),
    ):
        rabbit_vhost.wait_for_consumers("rpc-hello_service", count=2, timeout=30)
        held = slow.prefetch
        assert held == (7 if prefetch else 20)  # the default: 10 per worker
        with HelloServiceClient.connect(rabbit_vhost.uri, timeout=60) as client:
            futures = [client.compute.call_async(i, 0) for i in range(calls)]
            # Everything the stuck server did not take is answered by the other one.
            answered = _answered(futures, calls - held, rabbit_vhost, held)
            assert len(answered) == calls - held
            assert all(f.result() < STUCK for f in answered)
            assert stuck.started == min(held, 2)  # two workers, the rest wait in its buffer
            gate.set()
            late = [f.result(timeout=60) for f in futures]
    assert sum(value >= STUCK for value in late) == held


def _answered(
    futures: list[rt.RpcFuture[int]], expected: int, vhost: Vhost, held: int
) -> list[rt.RpcFuture[int]]:
    """The futures answered once ``expected`` are and the queue shows exactly ``held`` requests
    taken and not acked (those the stuck server holds behind its gate, which cannot be answered):
    from then on no answer can come, so one too many or too few shows. The connection's I/O
    thread resolves the futures; nobody waits on them."""
    wait_until(lambda: sum(f.done() for f in futures) >= expected, 60, what=f"{expected} answers")

    def only_held_left() -> bool:
        info = vhost.queue("rpc-hello_service")
        return info is not None and (info.messages_ready, info.messages_unacknowledged) == (0, held)

    wait_until(only_held_left, 30, describe=lambda: vhost.queue("rpc-hello_service"))
    return [f for f in futures if f.done()]

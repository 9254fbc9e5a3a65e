"""Graceful shutdown under load: SIGTERM answers every request running, hands back the ones
not started, loses none."""

from __future__ import annotations

import signal
from pathlib import Path

import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import wait_settled
from tests.faults.procs import ServerProcess
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

CALLS = 200


def test_sigterm_under_load_answers_everything_in_flight(
    amqp_uri: str, rabbit_vhost: Vhost, tmp_path: Path
) -> None:
    # 20 workers, up to 100 requests held at once: SIGTERM arrives with many in flight.
    server = ServerProcess(amqp_uri, tmp_path / "server.log", max_workers=20, prefetch=100)
    try:
        server.wait_serving()
        with ItestClient.connect(amqp_uri, timeout=120) as client:
            futures = [client.sleep.call_async(0.05 + i / 10_000) for i in range(CALLS)]
            wait_until(lambda: sum(f.done() for f in futures) >= 20, 60, what="busy answering")
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(60) == 0, server.log.read_text()
            # Whatever it had started it answered before exiting; the rest is queued again.
            answered, queued = _settle(futures, rabbit_vhost)
            assert answered + queued == CALLS
            assert answered > 20, "no request was in flight at SIGTERM"
            # Another instance answers what the stopped one had not taken.
            with rt.run_in_background(Itest(), amqp_uri, max_workers=20):
                results = [f.result() for f in futures]
        assert results == [0.05 + i / 10_000 for i in range(CALLS)]
        assert "draining itest" in server.log.read_text()
        wait_settled(rabbit_vhost, "rpc-itest")
    finally:
        server.close()


def _settle(futures: list[rt.RpcFuture[float]], vhost: Vhost) -> tuple[int, int]:
    """(calls answered, requests ready in the queue) once the two add up, or after 20 s.

    Replies the stopped server sent may still be on their way to the client, so the count is
    polled rather than read once.
    """

    def counts() -> tuple[int, int] | None:
        info = vhost.queue("rpc-itest")
        assert info is not None and info.messages_unacknowledged == 0
        answered = sum(f.done() for f in futures)
        return (answered, info.messages_ready) if answered + info.messages_ready == CALLS else None

    return wait_until(counts, 20, what=f"answered + queued == {CALLS}")

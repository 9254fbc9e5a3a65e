"""The drain deadline: SIGTERM hands back at once what was not started, gives running handlers
until the deadline, then hands those back too (logged with method and call id) and exits 3; a
second signal does the same at once. A second instance answers everything: none is lost."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import wait_settled
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(110)]

ROOT = Path(__file__).resolve().parents[2]
CALLS = 10
HELD = (0, CALLS)  # (ready, unacknowledged) in the queue once the server holds every request
SERVE = textwrap.dedent(
    """
    import sys
    import rpcgen.runtime as rt
    from tests.integration.impls import Itest

    class Loud(Itest):
        def sleep(self, seconds: float) -> float:
            sys.stdout.write("started\\n")
            sys.stdout.flush()
            return super().sleep(seconds)

    drain = float(sys.argv[2])
    sys.exit(rt.serve_main(Loud, sys.argv[1], max_workers=2, prefetch=20, drain_timeout=drain))
    """
)
CUT_OFF = re.compile(
    r"handed back itest\.sleep \(call id itest\.sleep\.[0-9a-f-]{36}\) to the broker: the drain "
    r"deadline cut it off while running"
)


class Quick(Itest):
    """The second instance: answers at once."""

    def sleep(self, seconds: float) -> float:
        return seconds


class Server:
    def __init__(self, uri: str, drain: float) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, uri, str(drain)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def wait_log(self, text: str, timeout: float = 30) -> None:
        def logged() -> bool:
            if any(text in line for line in self.log):
                return True
            assert self.proc.poll() is None, "".join(self.log)  # exited early: fail at once
            return False

        wait_until(logged, timeout, what=f"{text!r} logged", describe=lambda: "".join(self.log))

    def wait_started(self, count: int) -> None:
        assert self.proc.stdout is not None
        for _ in range(count):
            assert self.proc.stdout.readline() == "started\n"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def wait_all_delivered(vhost: Vhost) -> None:
    """Until the server holds every request (none left ready in the queue)."""
    seen: list[object] = [None]  # the queue's last counts, for the failure message

    def delivered() -> bool:
        info = seen[0] = vhost.queue("rpc-itest")
        return info is not None and (info.messages_ready, info.messages_unacknowledged) == HELD

    wait_until(delivered, 30, what="all delivered", describe=lambda: seen[0])


@pytest.fixture
def client(amqp_uri: str) -> Iterator[ItestClient]:
    with ItestClient.connect(amqp_uri, timeout=100) as client:
        yield client


def test_the_drain_deadline_hands_back_running_requests_and_exits_3(
    amqp_uri: str, rabbit_vhost: Vhost, client: ItestClient
) -> None:
    server = Server(amqp_uri, drain=2)
    try:
        server.wait_log("serving itest")
        calls = [client.sleep.call_async(30.0 + i) for i in range(CALLS)]
        server.wait_started(2)  # two running, eight prefetched and waiting
        wait_all_delivered(rabbit_vhost)
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 3, "".join(server.log)
        # The 2 s deadline, then the hand-back and the disconnect; not the 30 s handlers.
        assert time.monotonic() - signalled < 20
        server._reader.join(10)
        log = "".join(server.log)
        assert len(CUT_OFF.findall(log)) == 2, log
        assert "handed back 8 requests and events not started" in log
        assert "drain cut short" in log
        with rt.run_in_background(Quick(), amqp_uri):
            results = [call.result(timeout=60) for call in calls]
        assert results == [30.0 + i for i in range(CALLS)]  # none lost
        wait_settled(rabbit_vhost, "rpc-itest")
    finally:
        server.close()


def test_unstarted_requests_go_back_at_once_and_a_second_signal_ends_the_drain(
    amqp_uri: str, rabbit_vhost: Vhost, client: ItestClient
) -> None:
    server = Server(amqp_uri, drain=90)
    try:
        server.wait_log("serving itest")
        calls = [client.sleep.call_async(30.0 + i) for i in range(CALLS)]
        server.wait_started(2)
        server.proc.send_signal(signal.SIGTERM)
        server.wait_log("draining itest (at most 90 s)")
        with rt.run_in_background(Quick(), amqp_uri):
            # The eight not started are answered by the second instance while the first
            # still drains its two running handlers.
            waiting = calls[2:]
            wait_until(
                lambda: all(call.done() for call in waiting),
                30,
                what="the unstarted requests handed back",
            )
            assert [call.result() for call in waiting] == [30.0 + i for i in range(2, CALLS)]
            assert server.proc.poll() is None  # still draining
            assert not any(call.done() for call in calls[:2])
            server.proc.send_signal(signal.SIGTERM)  # again: stop now
            assert server.proc.wait(30) == 3
            assert [call.result(timeout=60) for call in calls[:2]] == [30.0, 31.0]
        server._reader.join(10)
        assert len(CUT_OFF.findall("".join(server.log))) == 2
        wait_settled(rabbit_vhost, "rpc-itest")
    finally:
        server.close()


class Held(Itest):
    """``sleep`` blocks until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> float:
        self.started.release()
        assert self.release.wait(60)
        return -1.0  # never reaches the caller: the request was handed back


def test_a_cut_off_handler_that_finishes_later_is_not_answered_twice(
    amqp_uri: str, rabbit_vhost: Vhost, client: ItestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rpcgen")
    impl = Held()
    # A shared connection outlives the runner: the late outcome would reach the broker.
    with rt.Connection(amqp_uri, client_name="shared") as shared:
        runner = rt.ServiceRunner(impl, connection=shared, max_workers=1)
        runner.start()
        call = client.sleep.call_async(5.0)
        assert impl.started.acquire(timeout=30)
        assert runner.stop(timeout=0.5) is False  # cut short, handed back
        with rt.run_in_background(Quick(), amqp_uri):
            assert call.result(timeout=30) == 5.0  # the second instance's answer
            impl.release.set()
            dropped = "dropped the late outcome of itest.sleep"
            wait_until(
                lambda: dropped in caplog.text or "PRECONDITION_FAILED" in caplog.text,
                30,
                what="the late outcome dropped",
                describe=lambda: caplog.text,
            )
            # Settling it would ack a tag already requeued: RabbitMQ closes the channel.
            assert "PRECONDITION_FAILED" not in caplog.text
            assert dropped in caplog.text
            assert shared.is_connected
            wait_settled(rabbit_vhost, "rpc-itest")
    assert any(
        CUT_OFF.search(r.getMessage()) and r.levelno == logging.WARNING for r in caplog.records
    )

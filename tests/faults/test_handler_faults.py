"""Faults in user code: exceptions, hung handlers, a process dying in the middle of a request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import wait_settled
from tests.faults.procs import ServerProcess
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until


class Hanging(Itest):
    """``sleep`` hangs until the test releases it, whatever the argument."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> float:
        self.started.release()
        self.release.wait(120)
        return seconds


@pytest.fixture
def hanging(amqp_uri: str) -> Iterator[Hanging]:
    impl = Hanging()
    try:
        with rt.run_in_background(impl, amqp_uri, max_workers=2):
            yield impl
            impl.release.set()  # let the stop answer it
    finally:
        impl.release.set()


def test_exceptions_in_handlers_become_error_replies(amqp_uri: str) -> None:
    with (
        rt.run_in_background(Itest(), amqp_uri, max_workers=2) as runner,
        ItestClient.connect(amqp_uri, timeout=20) as client,
    ):
        for i in range(20):
            with pytest.raises(rt.RemoteError, match=f"ValueError boom {i}") as info:
                client.fail(f"boom {i}")
            assert info.value.exc_path == "builtins.ValueError"
        assert client.hello("after") == "hello, after"
        assert not runner.stopping.is_set()


def test_a_hung_handler_blocks_only_its_worker(
    amqp_uri: str, hanging: Hanging, rabbit_vhost: Vhost
) -> None:
    with ItestClient.connect(amqp_uri, timeout=30) as client:
        stuck = client.sleep.call_async(1.0)
        assert hanging.started.acquire(timeout=20)  # one of the two workers is now stuck
        # The other worker goes on answering, one call after the other.
        assert [client.hello(str(i)) for i in range(50)] == [f"hello, {i}" for i in range(50)]
        assert not stuck.done()
        hanging.release.set()
        assert stuck.result() == 1.0
    wait_settled(rabbit_vhost, "rpc-itest")


def test_a_process_dying_mid_request_has_it_redelivered_to_another(
    amqp_uri: str, rabbit_vhost: Vhost, tmp_path: Path
) -> None:
    doomed = ServerProcess(amqp_uri, tmp_path / "doomed.log")
    try:
        doomed.wait_serving()
        with ItestClient.connect(amqp_uri, timeout=60) as client:
            assert client.hello("before") == "hello, before"
            pending = client.hello.call_async("crash")
            assert doomed.proc.wait(30) == 3  # it took the request and died without answering
            assert not pending.done()
            # Back in the queue, nobody consuming. "before" may be back too: its ack waits for its
            # reply's confirm, which can land after the caller already has the reply.
            _wait_ready(rabbit_vhost, "rpc-itest", {1, 2})
            # Another instance takes the redelivered request and answers the waiting caller.
            with rt.run_in_background(Itest(), amqp_uri):
                assert pending.result() == "hello, crash"
        wait_settled(rabbit_vhost, "rpc-itest")
    finally:
        doomed.close()


def _wait_ready(vhost: Vhost, queue: str, counts: set[int], timeout: float = 20.0) -> None:
    """Wait until ``queue`` holds one of ``counts`` ready messages and none unacked."""

    def ready() -> bool:
        info = vhost.queue(queue)
        return (
            info is not None and info.messages_ready in counts and not info.messages_unacknowledged
        )

    wait_until(ready, timeout, what=f"{queue}: {counts} ready", describe=lambda: vhost.queue(queue))

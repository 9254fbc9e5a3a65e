"""``ServiceRunner.stop(timeout)`` drains the same way on both transports: what was not started
goes back at once, what runs past the deadline goes back too, and another runner answers all."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
import rpcgen.runtime as rt

from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient, ItestServer
from tests.waiting import wait_until


class Held(Itest):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> float:
        self.started.release()
        assert self.release.wait(60)
        return -1.0


class AsyncHeld(rt.Server):
    """``itest.sleep`` as an ``async def`` handler that awaits until released."""

    service_name = "itest"
    methods = {"sleep": ItestServer.methods["sleep"]}  # noqa: RUF012

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.finished = 0

    async def sleep(self, seconds: float) -> float:
        self.started.release()
        # Held in a thread of the loop's executor, so the loop itself stays free.
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        self.finished += 1
        return -1.0


class Quick(Itest):
    def sleep(self, seconds: float) -> float:
        return seconds


def test_stop_hands_back_unstarted_at_once_and_running_at_the_deadline(rpc_uri: str) -> None:
    held = Held()
    runner = rt.ServiceRunner(held, rpc_uri, max_workers=1, prefetch=5)
    runner.start()
    try:
        with ItestClient.connect(rpc_uri, timeout=60) as client:
            calls = [client.sleep.call_async(float(i)) for i in range(3)]
            assert held.started.acquire(timeout=30)  # one runs, two wait in the runner
            settled: list[bool] = []
            stopper = threading.Thread(target=lambda: settled.append(runner.stop(60)))
            stopper.start()
            with rt.run_in_background(Quick(), rpc_uri):
                wait_until(  # the two not started
                    lambda: sum(call.done() for call in calls) >= 2,
                    30,
                    what="the waiting requests handed back",
                )
                assert stopper.is_alive()  # still draining the running one
                runner.stop_now()
                stopper.join(30)
                assert settled == [False]
                assert sorted(call.result(timeout=30) for call in calls) == [0.0, 1.0, 2.0]
    finally:
        held.release.set()
        runner.stop(10)


def test_running_handlers_finish_within_the_deadline(rpc_uri: str) -> None:
    impl = Itest()
    runner = rt.ServiceRunner(impl, rpc_uri, max_workers=2)
    runner.start()
    try:
        with ItestClient.connect(rpc_uri, timeout=30) as client:
            call = client.sleep.call_async(0.5)
            assert impl.started.acquire(timeout=30)
            assert runner.stop(30) is True  # finished: nothing handed back
            assert call.result(timeout=30) == 0.5  # answered by the stopping runner itself
    finally:
        runner.stop(10)


def test_stop_hands_back_unstarted_async_requests_at_once_and_cuts_off_running_tasks(
    rpc_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    held = AsyncHeld()
    runner = rt.ServiceRunner(held, rpc_uri, max_concurrency=1, prefetch=5)
    runner.start()
    caplog.set_level(logging.INFO, logger="rpcgen.runtime.server")
    try:
        with ItestClient.connect(rpc_uri, timeout=60) as client:
            calls = [client.sleep.call_async(float(i)) for i in range(3)]
            assert held.started.acquire(timeout=30)  # one task runs, two wait for a slot
            assert not held.started.acquire(timeout=0.3)  # max_concurrency holds them
            settled: list[bool] = []
            stopper = threading.Thread(target=lambda: settled.append(runner.stop(60)))
            stopper.start()
            with rt.run_in_background(Quick(), rpc_uri):
                wait_until(  # the two not started
                    lambda: sum(call.done() for call in calls) == 2,
                    30,
                    what="the waiting requests handed back",
                )
                assert stopper.is_alive()  # still draining the running task
                assert runner.readiness() == "stopping"
                runner.stop_now()
                stopper.join(30)
                assert settled == [False]
                # All three answered by Quick (the held handler would answer -1.0).
                assert sorted(call.result(timeout=30) for call in calls) == [0.0, 1.0, 2.0]
        assert held.finished == 0  # the two handed back never ran, the cut-off one never ended
        cut = [r.getMessage() for r in caplog.records if "drain deadline cut it off" in r.message]
        assert len(cut) == 1 and "itest.sleep (call id itest.sleep." in cut[0], cut
    finally:
        held.release.set()
        runner.stop(10)

"""Deadlines across hops: a handler's calls get what remains of its caller's time, and a request
that arrives after its deadline is not run. Both run on both transports."""

from __future__ import annotations

import json
import logging
import threading
import time

import pika
import pytest
import rpcgen.runtime as rt

from tests.integration.conftest import Peek
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient, RelayClient, RelayServer
from tests.waiting import wait_until


class SlowRelay(RelayServer):
    """Calls a 5 s handler with a generous 30 s client timeout and times the outcome."""

    def __init__(self, connection: rt.Transport) -> None:
        self.itest = ItestClient(connection, timeout=30)
        self.waited: float | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.caller_gave_up = threading.Event()

    def relay(self) -> dict[str, str]:
        start = time.monotonic()
        try:
            self.itest.sleep(5.0)
        except rt.RpcTimeout as exc:
            self.error = exc
        finally:
            self.waited = time.monotonic() - start
            self.done.set()
        # Answer only after the caller gave up: the inner call's deadline is the caller's
        # own, so an immediate reply would race the caller's timer (in memory it can win).
        assert self.caller_gave_up.wait(30)
        return {}


def test_a_handlers_call_gets_only_the_time_its_caller_has_left(rpc_uri: str) -> None:
    relay_conn = rt.open_connection(rpc_uri, client_name="relay")
    try:
        relay = SlowRelay(relay_conn)
        with (
            rt.run_in_background(Itest(), rpc_uri),
            rt.run_in_background(relay, connection=relay_conn),
            RelayClient.connect(rpc_uri, timeout=1.0) as client,
        ):
            with pytest.raises(rt.RpcTimeout):
                client.relay()
            relay.caller_gave_up.set()
            assert relay.done.wait(10)
    finally:
        relay_conn.close()
    assert isinstance(relay.error, rt.RpcTimeout)  # not the 30 s of its own client
    # It waited about the caller's 1 s, not the 5 s the handler takes: a bound of 4 s leaves 3 s
    # for a busy 2-core machine and still tells the two apart.
    assert relay.waited is not None and relay.waited < 4.0


@pytest.mark.parametrize("late", [True, False])
def test_a_request_past_its_deadline_is_acked_not_run(
    rpc_uri: str, peek: Peek, late: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rpcgen")
    impl = Itest()
    with rt.run_in_background(impl, rpc_uri) as runner:
        reply_queue = peek.spy("nameko-rpc", "deadline-test-replies")
        deadline_ms = int((time.time() + (-1 if late else 30)) * 1000)
        props = pika.BasicProperties(
            content_type="application/json",
            reply_to="deadline-test-replies",
            correlation_id="c1",
            headers={"nameko.rpcgen_deadline_ms": deadline_ms},
        )
        peek.publish("nameko-rpc", "itest.hello", b'{"args": ["x"], "kwargs": {}}', props)
        if late:
            # Counted as it is acked without a reply: once counted, no reply can come.
            wait_until(lambda: runner.expired_requests == 1, what="the request expired")
            wait_until(lambda: peek.message_count("rpc-itest") == 0, what="the request acked")
            assert peek.message_count(reply_queue) == 0
            # docs/clients.md: acked, logged at debug, counted.
            (skipped,) = [r for r in caplog.records if "after its deadline" in r.getMessage()]
            assert skipped.levelno == logging.DEBUG and "itest.hello" in skipped.getMessage()
        else:
            _props, reply = peek.get(reply_queue, timeout=3)
            assert json.loads(reply)["result"] == "hello, x"
            assert runner.expired_requests == 0

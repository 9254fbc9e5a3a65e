"""Deadlines across hops: a handler's calls get what remains of its caller's time, and a request
that arrives after its deadline is not run."""

from __future__ import annotations

import json
import threading
import time

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.integration.helpers import raw_channel
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient, RelayClient, RelayServer


class SlowRelay(RelayServer):
    """Calls a 5 s handler with a generous 30 s client timeout and times the outcome."""

    def __init__(self, connection: rt.Connection) -> None:
        self.itest = ItestClient(connection, timeout=30)
        self.waited: float | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def relay(self) -> dict[str, str]:
        start = time.monotonic()
        try:
            self.itest.sleep(5.0)
        except rt.RpcTimeout as exc:
            self.error = exc
        finally:
            self.waited = time.monotonic() - start
            self.done.set()
        return {}


def test_a_handlers_call_gets_only_the_time_its_caller_has_left(rabbit_vhost: Vhost) -> None:
    with rt.Connection(rabbit_vhost.uri, client_name="relay") as relay_conn:
        relay = SlowRelay(relay_conn)
        with (
            rt.run_in_background(Itest(), rabbit_vhost.uri),
            rt.run_in_background(relay, connection=relay_conn),
            RelayClient.connect(rabbit_vhost.uri, timeout=1.0) as client,
        ):
            with pytest.raises(rt.RpcTimeout):
                client.relay()
            assert relay.done.wait(10)
    assert isinstance(relay.error, rt.RpcTimeout)  # not the 30 s of its own client
    assert relay.waited is not None and relay.waited < 1.5


@pytest.mark.parametrize("late", [True, False])
def test_a_request_past_its_deadline_is_acked_not_run(rabbit_vhost: Vhost, late: bool) -> None:
    impl = Itest()
    with (
        rt.run_in_background(impl, rabbit_vhost.uri) as runner,
        raw_channel(rabbit_vhost.uri) as channel,
    ):
        reply_queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(reply_queue, "nameko-rpc", routing_key=reply_queue)
        deadline_ms = int((time.time() + (-1 if late else 30)) * 1000)
        props = pika.BasicProperties(
            content_type="application/json",
            reply_to=reply_queue,
            correlation_id="c1",
            headers={"nameko.rpcgen_deadline_ms": deadline_ms},
        )
        channel.basic_publish("nameko-rpc", "itest.hello", b'{"args": ["x"], "kwargs": {}}', props)
        end = time.monotonic() + 3
        reply = None
        while reply is None and time.monotonic() < end:
            _m, _p, reply = channel.basic_get(reply_queue, auto_ack=True)
            time.sleep(0.05)
        if late:
            assert reply is None and runner.expired_requests == 1
            assert channel.queue_declare("rpc-itest", passive=True).method.message_count == 0
        else:
            assert reply is not None and json.loads(reply)["result"] == "hello, x"
            assert runner.expired_requests == 0

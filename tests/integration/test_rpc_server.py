"""Server behaviour: bad requests never kill it, graceful shutdown, context across a hop.

Tests taking ``rpc_uri`` run on both transports; those about other processes (``serve`` under
SIGTERM) or the broker closing connections (management API, reconnects) on RabbitMQ only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.integration.conftest import Peek
from tests.integration.helpers import close_connections, declare_ghost, raw_channel
from tests.integration.impls import Itest, Relay
from tests.integration.stubs import GhostClient, ItestClient, RelayClient
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_requests_without_reply_to_or_content_type_do_not_kill_it(rpc_uri: str, peek: Peek) -> None:
    with rt.run_in_background(Itest(), rpc_uri) as runner:
        reply_to = str(uuid.uuid4())
        queue = peek.spy("nameko-rpc", reply_to)  # a reply queue of our own, bound as a client's
        body = b'{"args": ["x"], "kwargs": {}}'
        json_props = {"content_type": "application/json", "correlation_id": "c1"}
        # Nameko crashes on these two (issue #753); they are acked and logged.
        peek.publish("nameko-rpc", "itest.hello", body, pika.BasicProperties(**json_props))
        peek.publish("nameko-rpc", "itest.hello", body, pika.BasicProperties())
        # With somewhere to answer, bad requests get the matching error.
        for cid, props in [
            ("no-type", {}),
            ("pickle", {"content_type": "application/x-python-serialize"}),
        ]:
            peek.publish(
                "nameko-rpc", "itest.hello", body,
                pika.BasicProperties(correlation_id=cid, reply_to=reply_to, **props),
            )  # fmt: skip
        peek.publish(
            "nameko-rpc", "itest.hello", b"not json",
            pika.BasicProperties(reply_to=reply_to, correlation_id="garbage", **{
                "content_type": "application/json"}),
        )  # fmt: skip
        replies = {}
        for _ in range(3):
            props, reply = peek.get(queue)
            replies[props.correlation_id] = json.loads(reply)["error"]["exc_type"]
        assert replies == {
            "no-type": "MalformedRequest",
            "pickle": "MalformedRequest",
            "garbage": "MalformedRequest",
        }
        with ItestClient.connect(rpc_uri, timeout=10) as client:
            assert client.hello("still up") == "hello, still up"
        runner.stop()
        assert peek.message_count("rpc-itest") == 0


def test_graceful_stop_answers_requests_in_flight(rpc_uri: str, peek: Peek) -> None:
    impl = Itest()
    runner = rt.ServiceRunner(impl, rpc_uri, max_workers=3)
    runner.start()
    with ItestClient.connect(rpc_uri, timeout=30) as client:
        futures = [client.sleep.call_async(0.5) for _ in range(3)]
        for _ in range(3):
            assert impl.started.acquire(timeout=10)
        assert runner.stop(timeout=30)
        assert [f.result() for f in futures] == [0.5] * 3
        # Stopped means stopped: a new request waits in the queue, unanswered. Nothing the
        # server held was left unacked: it would be back in the queue beside it.
        waiting = client.with_timeout(None).hello.call_async("anyone?")
        wait_until(lambda: peek.message_count("rpc-itest") == 1, what="the request queued")
        _props, body = peek.get("rpc-itest")
        assert json.loads(body)["args"] == ["anyone?"]
        assert peek.message_count("rpc-itest") == 0
        assert not waiting.done()


SERVE = textwrap.dedent(
    """
    import sys
    import rpcgen.runtime as rt
    from tests.integration.impls import Itest

    class Loud(Itest):
        def sleep(self, seconds: float) -> float:
            sys.stdout.write("started\\n")  # one write: two workers' prints interleave
            sys.stdout.flush()
            return super().sleep(seconds)

    sys.exit(rt.serve_main(Loud, sys.argv[1], max_workers=2))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_exits_0_on_a_signal_after_answering(
    rabbit_vhost: Vhost, signum: signal.Signals
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", SERVE, rabbit_vhost.uri],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stderr is not None
            for line in proc.stderr:  # wait until it serves
                if "serving itest" in line:
                    break
            with ItestClient.connect(rabbit_vhost.uri, timeout=30) as client:
                assert client.hello("x") == "hello, x"
                slow = [client.sleep.call_async(1.0) for _ in range(2)]
                assert proc.stdout.readline() == proc.stdout.readline() == "started\n"
                proc.send_signal(signum)
                assert [f.result() for f in slow] == [1.0, 1.0]
            assert proc.wait(timeout=30) == 0
            assert "draining itest" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()


def test_context_and_call_id_stack_cross_a_service_hop(rpc_uri: str, peek: Peek) -> None:
    relay_conn = rt.open_connection(rpc_uri, client_name="relay")
    try:
        hop = peek.spy("nameko-rpc", "itest.*")
        relay = Relay(relay_conn)
        with (
            rt.run_in_background(Itest(), rpc_uri),
            rt.run_in_background(relay, connection=relay_conn),
            RelayClient.connect(rpc_uri, timeout=20, client_name="caller") as client,
            rt.context_data(language="en", user_id=5, dropped=None),
        ):
            sent_at = time.time()
            seen = client.relay()
        props, _body = peek.get(hop)
    finally:
        relay_conn.close()
    stack = json.loads(seen.pop("call_id_stack"))
    # A deadline travels with each call: the relay's call (its client's 10 s timeout) is due
    # before the caller's (20 s), so it carries its own.
    deadline_ms = json.loads(seen.pop("rpcgen_deadline_ms"))
    assert sent_at + 10 <= deadline_ms / 1000 < time.time() + 10 + 0.002
    assert {k: json.loads(v) for k, v in seen.items()} == {"language": "en", "user_id": 5}
    assert len(stack) == 3
    assert stack[0].startswith("caller.call.")
    assert stack[1] == relay.own_stack[-1] and stack[1].startswith("relay.relay.")
    assert relay.own_stack == stack[:2]
    assert stack[2].startswith("itest.context.")
    # On the wire the hop carries the relay worker's stack and the caller's context data.
    assert props.headers == {
        "nameko.language": "en",
        "nameko.user_id": 5,
        "nameko.call_id_stack": stack[:2],
        "nameko.rpcgen_deadline_ms": deadline_ms,
    }


def test_without_reconnect_a_closed_connection_fails_calls_and_stops_the_server(
    rabbit_vhost: Vhost,
) -> None:
    impl = Itest()
    runner = rt.ServiceRunner(impl, rabbit_vhost.uri, max_workers=2, reconnect=None)
    runner.start()
    try:
        with raw_channel(rabbit_vhost.uri) as channel:
            declare_ghost(channel, "ghost")
        with rt.Connection(rabbit_vhost.uri, client_name="doomed", reconnect=None) as conn:
            client = ItestClient(conn, timeout=None)
            # Nobody serves ghost and the call has no timeout: only the lost connection ends it.
            pending = GhostClient(conn, timeout=None).wait.call_async()
            assert close_connections(rabbit_vhost, "rpcgen doomed") == 1
            with pytest.raises(rt.RpcConnectionError, match="lost the connection"):
                pending.result()
            with pytest.raises(rt.RpcConnectionError):
                client.hello("again")
        assert close_connections(rabbit_vhost, "rpcgen itest") == 1
        assert runner.stopping.wait(15)
        assert isinstance(runner.error, rt.RpcConnectionError)
    finally:
        runner.stop()


def test_a_connection_closed_by_the_broker_is_reopened_by_clients_and_servers(
    rabbit_vhost: Vhost,
) -> None:
    uri = rabbit_vhost.uri
    with (
        rt.run_in_background(Itest(), uri, max_workers=2) as runner,
        ItestClient.connect(uri, timeout=30, client_name="phoenix") as client,
    ):
        assert client.hello("before") == "hello, before"
        assert close_connections(rabbit_vhost, "rpcgen phoenix") == 1
        assert client.hello("client back") == "hello, client back"
        assert close_connections(rabbit_vhost, "rpcgen itest") == 1
        assert client.hello("server back") == "hello, server back"
        assert not runner.stopping.is_set() and runner.error is None

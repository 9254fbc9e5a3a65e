"""A connection ends for good only on ``close()``: an endpoint that accepts and then resets each
TCP connection (a load balancer in front of a broker that is down) is a failed attempt like a
refused one, and a client, a server and an event handler all serve again once the broker is back.
Each loss and each reconnect is one WARNING line.

Before the fix pika's connector raised ``ValueError("Expected connected socket, but getpeername()
failed")`` out of the I/O loop on such an endpoint, and rpcgen closed the connection for ever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime import Backoff
from rpcgen.runtime.testing import RabbitNode, Vhost

from generated.shop import OrderCreated, OrdersEvents
from tests.faults.faultproxy import AcceptThenReset
from tests.faults.test_event_reliability import Handler
from tests.integration.helpers import close_connections
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

FAST = Backoff(initial=0.005, max=0.02)  # many attempts a second: each one may hit the race
DOWN_FOR = 4.0  # seconds the node stays down while attempts hammer the resetting endpoint


def _outage(node: RabbitNode, endpoint: AcceptThenReset, is_connected: Callable[[], bool]) -> None:
    """Stop the node until the resetting endpoint has been hit many times, then start it."""
    node.stop()
    wait_until(lambda: not is_connected(), 30)
    before = endpoint.accepted
    deadline = time.monotonic() + DOWN_FOR
    wait_until(lambda: time.monotonic() > deadline and endpoint.accepted - before >= 20, 30)
    node.start()


def test_a_client_survives_an_endpoint_that_accepts_and_resets(
    rabbit_node_factory: Callable[..., RabbitNode], caplog: pytest.LogCaptureFixture
) -> None:
    node = rabbit_node_factory(management=False)
    with (
        AcceptThenReset() as endpoint,
        rt.run_in_background(Itest(), node.uri, reconnect=Backoff(initial=0.1, max=0.5)),
        rt.Connection([node.uri, endpoint.uri(node.uri)], reconnect=FAST) as connection,
    ):
        client = ItestClient(connection, timeout=30)
        assert client.hello("before") == "hello, before"
        with caplog.at_level(logging.WARNING, logger="rpcgen"):
            _outage(node, endpoint, lambda: connection.is_connected)
            assert connection.is_open  # never given up while the node was down
            wait_until(lambda: connection.is_connected, timeout=60)
        assert client.hello("after") == "hello, after"
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crashes == []
    assert all(r.levelno < logging.ERROR for r in caplog.records), caplog.text


def test_a_server_survives_an_endpoint_that_accepts_and_resets(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(management=False)
    with (
        AcceptThenReset() as endpoint,
        rt.run_in_background(Itest(), [node.uri, endpoint.uri(node.uri)], reconnect=FAST) as run,
    ):
        with ItestClient.connect(node.uri, timeout=30) as client:
            assert client.hello("before") == "hello, before"
        _outage(node, endpoint, lambda: run.connection.is_connected)
        assert run.error is None and not run.stopping.is_set()
        with ItestClient.connect(node.uri, timeout=30) as client:
            wait_until(lambda: run.connection.is_connected, timeout=60)
            assert client.hello("after") == "hello, after"
        assert run.error is None and not run.stopping.is_set()


def test_an_event_handler_survives_an_endpoint_that_accepts_and_resets(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(management=False)
    handler = Handler()
    with (
        AcceptThenReset() as endpoint,
        rt.run_in_background(handler, [node.uri, endpoint.uri(node.uri)], reconnect=FAST) as run,
    ):
        with OrdersEvents.connect(node.uri) as events:
            events.order_created(OrderCreated(1, "sku", 1))
            assert handler.got.get(timeout=20) == 1
        _outage(node, endpoint, lambda: run.connection.is_connected)
        wait_until(lambda: run.connection.is_connected, timeout=60)
        with OrdersEvents.connect(node.uri) as events:
            events.order_created(OrderCreated(2, "sku", 1))
            assert handler.got.get(timeout=20) == 2
        assert run.error is None and not run.stopping.is_set()


@pytest.mark.parametrize("reply_queue", [True, False])
def test_each_loss_and_reconnect_is_logged_once(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture, reply_queue: bool
) -> None:
    name = f"once-{reply_queue}"
    with (
        caplog.at_level(logging.DEBUG, logger="rpcgen"),
        rt.Connection(
            rabbit_vhost.uri, client_name=name, reply_queue=reply_queue, reconnect=Backoff(max=0.2)
        ),
    ):
        connected = [r.getMessage() for r in caplog.records if "connected to" in r.getMessage()]
        assert len(connected) == 1
        assert ("reply queue" in connected[0]) is reply_queue
        caplog.clear()
        assert close_connections(rabbit_vhost, f"rpcgen {name}") == 1
        wait_until(lambda: any("reconnected" in r.getMessage() for r in caplog.records), 30)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    lost, back = warnings
    assert lost.startswith("lost the connection to") and "reconnecting in" in lost
    assert back.startswith("reconnected to")
    assert ("reply queue" in back) is reply_queue


def test_anything_raised_out_of_the_io_loop_while_connected_is_a_loss(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise ValueError("unexpected inside pika's loop")

    with (
        rt.run_in_background(Itest(), rabbit_vhost.uri),
        rt.Connection(rabbit_vhost.uri, reconnect=Backoff(max=0.2)) as connection,
        caplog.at_level(logging.WARNING, logger="rpcgen"),
    ):
        client = ItestClient(connection, timeout=30)
        assert client.hello("before") == "hello, before"
        core = connection._core  # the connection's insides: its driver, timers and link
        core.post(lambda: core.call_later(0, boom))  # a timer of the loop raises
        wait_until(lambda: any("reconnected" in r.getMessage() for r in caplog.records), 30)
        assert connection.is_open
        assert client.hello("after") == "hello, after"
    [lost] = [r.getMessage() for r in caplog.records if "lost the connection" in r.getMessage()]
    assert "unexpected inside pika's loop" in lost


def test_a_bug_in_handling_a_fault_ends_the_connection_and_fails_its_calls(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise ValueError("unexpected inside pika's loop")

    def broken(exc: Exception) -> None:
        raise RuntimeError("a bug in the fault handling") from exc

    with rt.Connection(rabbit_vhost.uri) as connection:
        core = connection._core  # the connection's insides: its driver, timers and link
        core.link.fault = broken  # type: ignore[method-assign]
        core.post(lambda: core.call_later(0, boom))
        wait_until(lambda: not connection.is_open, 30)
        with pytest.raises(rt.RpcConnectionError, match="crashed"):
            ItestClient(connection, timeout=5).hello("after")
    assert any("I/O thread crashed" in r.getMessage() for r in caplog.records)

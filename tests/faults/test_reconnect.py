"""Losing the broker: clients and servers reconnect, and no call is lost or answered twice.

Each test restarts (or closes connections of) a real RabbitMQ node. The semantics under test
(docs/reliability.md): a call whose request was confirmed keeps waiting across a reconnect and
gets its reply from the durable reply queue; a request a server held unacked is redelivered and
answered once the broker is back (the copy waits for the first run, and the handler runs once);
a call made while disconnected waits for the reconnect within its timeout; a reply queue that
expired meanwhile fails the calls that waited on it with ``ReplyQueueExpired``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._amqp.connection import Backoff
from rpcgen.runtime.errors import ReplyQueueExpired
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.node import RabbitNode

from tests.faults.faultproxy import Armed, Direction, Fault, FaultProxy, When
from tests.integration.helpers import close_connections, declare_ghost, raw_channel
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient, ItestServer
from tests.waiting import elapsed_until, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(110)]

BASIC_ACK = (60, 80)  # a publisher confirm, when the broker sends it
FAST = Backoff(initial=0.1, max=0.5)
DEAD = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1: refused at once


class Holding(Itest):
    """``hello("hold")`` blocks until ``release`` is set; every run of it is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.held = threading.Semaphore(0)
        self.runs: list[str] = []

    def hello(self, name: str) -> str:
        self.runs.append(name)
        if name == "hold":
            self.held.release()
            assert self.release.wait(60)
        return f"hello, {name}"


class Outcomes:
    """Counts every completion of calls made through ``Connection.call``: duplicates show."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[bytes, BaseException | None]]] = {}
        self.cond = threading.Condition()

    def call(self, connection: rt.Connection, name: str, timeout: float) -> None:
        method = ItestServer.methods["hello"]
        body = method.codec.encode_request((name,), {})

        def done(reply: bytes, error: BaseException | None) -> None:
            with self.cond:
                self.seen.setdefault(name, []).append((reply, error))
                self.cond.notify_all()

        connection.call(method, body, timeout, done)

    def wait(self, name: str, timeout: float = 60) -> tuple[bytes, BaseException | None]:
        with self.cond:
            assert self.cond.wait_for(lambda: name in self.seen, timeout), f"{name}: no outcome"
            return self.seen[name][0]

    def value(self, name: str) -> str:
        reply, error = self.wait(name)
        assert error is None, error
        result = ItestServer.methods["hello"].codec.decode_reply(reply)
        assert isinstance(result, str)
        return result


def _confirms_to_client(proxy: FaultProxy) -> int:
    """Publisher confirms (``basic.ack`` from the broker) that have passed the proxy.

    One that passed is ahead of any news of a loss in the client's TCP stream, so the client
    handles it first: its request counts as confirmed when the connection drops.
    """
    return proxy.methods(Direction.TO_CLIENT).count(BASIC_ACK)


def _node(factory: Callable[..., RabbitNode]) -> RabbitNode:
    return factory(management=False)  # restarts fast: a graceful stop takes a second


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_calls_across_a_broker_restart_are_answered_once(
    rabbit_node_factory: Callable[..., RabbitNode], how: str
) -> None:
    node = _node(rabbit_node_factory)
    impl = Holding()
    fast = Backoff(initial=0.1, max=0.5)
    with (
        FaultProxy.to(node.uri) as proxy,  # only to see the confirm pass; it injects nothing
        rt.run_in_background(impl, node.uri, max_workers=2, reconnect=fast) as runner,
        rt.Connection([proxy.uri(node.uri), DEAD], reconnect=fast, connect_timeout=2) as connection,
    ):
        client, outcomes = ItestClient(connection, timeout=60), Outcomes()
        reply_queue = connection.reply_queue
        outcomes.call(connection, "hold", 60)  # the connection's first publish
        assert impl.held.acquire(timeout=30)  # the server holds the request, unacked
        wait_until(lambda: _confirms_to_client(proxy) == 1, what="the request's confirm")
        node.stop() if how == "stop" else node.kill()
        wait_until(lambda: not connection.is_connected, what="the loss noticed")
        assert connection.is_open  # reconnecting, not given up
        outcomes.call(connection, "while down", 60)  # waits for the reconnect
        node.start()
        impl.release.set()
        # The held request was redelivered to the reconnected server, where its copy waited
        # for the first run (Once, on by default) and was answered with its reply; the first
        # run's own reply, made for a dead channel, was dropped. The handler ran once.
        assert outcomes.value("hold") == "hello, hold"
        assert outcomes.value("while down") == "hello, while down"
        assert client.hello("after") == "hello, after"
        wait_until(lambda: runner.duplicates == 1, what="the copy settled without a run")
        assert impl.runs.count("hold") == 1
        assert connection.reply_queue == reply_queue  # durable: it survived the restart
        # Every request acked (a server acks only once its reply is confirmed) and every reply
        # taken and acked by the client: a duplicate reply would have been handled by now.
        wait_until(
            lambda: all(
                not q.messages_ready and not q.messages_unacknowledged
                for q in node.list_queues("/")
            ),
            what="the service and reply queues drained",
            describe=lambda: node.list_queues("/"),
        )
        assert {name: len(seen) for name, seen in outcomes.seen.items()} == {
            "hold": 1,
            "while down": 1,
        }
        assert runner.error is None and not runner.stopping.is_set()


@pytest.mark.parametrize("once", [True, False], ids=["once", "no once"])
def test_an_unconfirmed_request_is_published_again_with_its_correlation_id(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture, once: bool
) -> None:
    # docs/reliability.md: "request sent but not yet confirmed: published again after the
    # reconnect, same correlation id (the server runs it once)"; with once=False, twice.
    impl = Holding()
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        # The request reaches its queue, but the connection breaks as its confirm comes back.
        cut = proxy.arm(Fault.RESET, When(BASIC_ACK, direction=Direction.TO_CLIENT))
        _publish_once_resent(proxy, rabbit_vhost, impl, cut, once)
    assert "(1 calls pending, 1 to resend)" in caplog.text


def _publish_once_resent(
    proxy: FaultProxy, rabbit_vhost: Vhost, impl: Holding, cut: Armed, once: bool
) -> None:
    with (
        rabbit_vhost.spy(routing_key="itest.hello") as spy,
        rt.run_in_background(impl, rabbit_vhost.uri, max_workers=2, once=once) as runner,
        rt.Connection(proxy.uri(rabbit_vhost.uri), reconnect=FAST) as connection,
    ):
        outcomes = Outcomes()
        # The handler holds until the confirm was cut: a reply that came first would finish
        # the call, and a finished call is not published again.
        outcomes.call(connection, "hold", 60)
        assert cut.wait(30), "no confirm came back"
        impl.release.set()
        assert outcomes.value("hold") == "hello, hold"
        copies = spy.get(2)
        assert copies[0].properties["correlation_id"] == copies[1].properties["correlation_id"]
        assert copies[0].body == copies[1].body
        wait_until(lambda: runner.duplicates + len(impl.runs) == 2, what="both copies settled")
        # With Once, the second copy got the first reply; without, the handler ran again.
        assert impl.runs == (["hold"] if once else ["hold", "hold"])
        wait_until(
            lambda: all(
                not q.messages_ready and not q.messages_unacknowledged
                for q in rabbit_vhost.queues()
                if not q.name.startswith("rpcgen-spy")
            ),
            what="the service and reply queues drained",
        )
        assert len(outcomes.seen["hold"]) == 1  # the second reply was dropped


def test_a_call_outliving_its_timeout_while_disconnected_times_out(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = _node(rabbit_node_factory)
    with (
        rt.run_in_background(Itest(), node.uri, max_workers=1, reconnect=Backoff(max=0.5)),
        ItestClient.connect(node.uri, timeout=1.0, reconnect=Backoff(initial=0.2, max=0.2)) as c,
    ):
        assert c.hello("up") == "hello, up"
        node.stop()
        with pytest.raises(rt.RpcTimeout) as timed_out:
            c.hello("down")
        # It says the broker is the problem, since when, and where it keeps trying.
        since = r"\d\d:\d\d:\d\d"
        where = re.escape(f"amqp://guest:***@127.0.0.1:{node.amqp_port}/")
        assert re.fullmatch(
            rf"itest\.hello: no reply within 1 s; not connected to the broker since {since} "
            rf"\(reconnecting to {where}\)",
            str(timed_out.value),
        )
        node.start()
        assert c.with_timeout(30).hello("up again") == "hello, up again"
        assert c.with_timeout(1).hello("up") == "hello, up"  # reconnected: nothing to say


def test_fail_fast_refuses_calls_while_disconnected_at_once(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = _node(rabbit_node_factory)
    fast = Backoff(initial=0.2, max=0.2)
    with (
        rt.run_in_background(Itest(), node.uri, max_workers=1, reconnect=Backoff(max=0.5)),
        rt.Connection(node.uri, reconnect=fast, fail_fast=True) as connection,
    ):
        client = ItestClient(connection, timeout=60)
        assert client.hello("up") == "hello, up"
        node.stop()
        wait_until(lambda: not connection.is_connected, 30, what="the client seeing the loss")

        def refused() -> bool:
            with pytest.raises(rt.RpcConnectionError, match="not connected to the broker since"):
                client.hello("down")
            return True

        # At once: well under the call's 60 s timeout (which would raise RpcTimeout instead).
        took = elapsed_until(refused, 60, what="the call refused while disconnected")
        assert took < 10, f"refused after {took:.1f} s, not at once"
        node.start()

        def served() -> str:  # refused until the connection is back, then served as usual
            try:
                return client.hello("up again")
            except rt.RpcConnectionError:
                return ""

        assert wait_until(served, 60, what="reconnected") == "hello, up again"


def test_reconnecting_gives_up_after_its_attempts(
    rabbit_node_factory: Callable[..., RabbitNode], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    node = _node(rabbit_node_factory)
    with raw_channel(node.uri) as channel:
        declare_ghost(channel, "itest")  # a queue nobody serves: the call stays pending
    connection = rt.Connection(node.uri, reconnect=Backoff(initial=0.2, factor=1, attempts=2))
    client = ItestClient(connection, timeout=None)
    try:
        future = client.hello.call_async("nobody home")
        node.stop()
        with pytest.raises(rt.RpcConnectionError, match="gave up after 2 rounds"):
            future.result(timeout=30)
        assert not connection.is_open
        with pytest.raises(rt.RpcConnectionError):
            client.hello("closed")
    finally:
        connection.close()
    # docs/reliability.md: the loss, each failed round and the end are logged by rpcgen, with
    # the password masked; pika's own lines for a refused attempt are lowered to DEBUG.
    ours = [r for r in caplog.records if r.name.startswith("rpcgen")]
    warned = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    # The loss, with its count of calls (whether the request's confirm beat the stop may vary).
    assert sum("lost the connection" in m and "(1 calls pending" in m for m in warned) == 1
    assert sum("reconnecting in" in m for m in warned) == 2, warned  # before rounds 1 and 2
    (gave_up,) = [r.getMessage() for r in ours if r.levelno >= logging.ERROR]
    assert "gave up after 2 rounds" in gave_up
    pika_said = [r for r in caplog.records if r.name.startswith("pika")]
    assert not [r.getMessage() for r in pika_said if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "guest:guest" in r.getMessage()]


def test_serve_raises_the_loss_once_its_reconnect_attempts_are_used_up(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    # docs/reliability.md: when `attempts` rounds have failed, serve() gives up (and a script
    # calling it exits 1 with the RpcConnectionError).
    node = _node(rabbit_node_factory)
    served = _serving(node.uri, reconnect=Backoff(initial=0.2, factor=1, attempts=2))
    node.stop()
    error = served.result(timeout=60)  # still running with its broker gone: a timeout
    assert isinstance(error, rt.RpcConnectionError), error
    assert "gave up after 2 rounds" in str(error)


def test_a_reply_queue_that_expired_meanwhile_fails_its_calls(rabbit_vhost: Vhost) -> None:
    impl = Holding()
    slow = Backoff(initial=3.0, factor=1.0)  # stays away long past the queue's x-expires
    with (
        FaultProxy.to(rabbit_vhost.uri) as proxy,  # only to see the confirm pass
        rt.run_in_background(impl, rabbit_vhost.uri, max_workers=2),
        rt.Connection(
            proxy.uri(rabbit_vhost.uri),
            client_name="forgetful",
            reconnect=slow,
            reply_queue_ttl_ms=300,
        ) as connection,
    ):
        client = ItestClient(connection, timeout=60)
        old_queue = connection.reply_queue
        future = client.hello.call_async("hold")  # the connection's first publish
        assert impl.held.acquire(timeout=30)
        # Once confirmed, the call waits on its reply queue (an unconfirmed one would be resent).
        wait_until(lambda: _confirms_to_client(proxy) == 1, what="the request's confirm")
        assert close_connections(rabbit_vhost, "rpcgen forgetful") == 1
        impl.release.set()  # its reply goes to a queue about to expire
        with pytest.raises(ReplyQueueExpired, match="expired while disconnected"):
            future.result()
        assert connection.reply_queue != old_queue
        assert client.hello("fresh") == "hello, fresh"  # on the new reply queue
        assert rabbit_vhost.queue(old_queue) is None


def test_serve_without_reconnect_returns_the_loss_as_an_error(rabbit_vhost: Vhost) -> None:
    served = _serving(rabbit_vhost.uri, reconnect=None)
    assert close_connections(rabbit_vhost, "rpcgen itest") == 1
    error = served.result(timeout=30)
    assert isinstance(error, rt.RpcConnectionError), error


def _serving(uri: str, reconnect: Backoff | None) -> Future[BaseException | None]:
    """``rt.serve(Itest(), uri)`` in a thread, once it answers; its future holds what serve()
    raised (None if it returned)."""
    outcome: Future[BaseException | None] = Future()

    def run() -> None:
        try:
            rt.serve(Itest(), uri, max_workers=1, reconnect=reconnect)
            outcome.set_result(None)
        except BaseException as exc:  # what serve() raised, for the test to look at
            outcome.set_result(exc)

    threading.Thread(target=run, daemon=True).start()
    with ItestClient.connect(uri, timeout=10, reconnect=None) as client:
        wait_until(lambda: _answers(client), what="served")
    return outcome


def _answers(client: ItestClient) -> bool:
    try:
        return client.hello("up?") == "hello, up?"
    except rt.UnknownService:
        return False

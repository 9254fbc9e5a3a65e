"""Every phase of a connection is bounded in time, whatever the peer does (issue 8, item 8).

A ``FaultProxy`` sits between rpcgen and the test's broker and strikes at chosen AMQP moments:
a peer that goes silent (BLACKHOLE) in the middle of the topology set-up, a TCP reset (RESET)
while a server's consumer is being declared. The runtime must then

- fail ``Connection()`` within about its ``connect_timeout``, never wait for pika's heartbeat
  check (heartbeat + 5 s: 65 s here);
- abandon a reconnect attempt that went silent within its ``connect_timeout``, and connect on
  a later one;
- return from ``close()`` within a bound when the peer is silent;
- keep a server serving after its consumer set-up was reset (a TCP loss is a lost connection,
  reconnected, not a refused declare);
- word a TCP reset as a lost connection, never as "RabbitMQ closed the channel".

Heartbeats are 60 s and every bound asserted is far below that, so a phase left unbounded fails
the test instead of passing late. Margins are generous for a noisy 2-core CI machine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.faults.faultproxy import (
    BASIC_CONSUME,
    CHANNEL_OPEN,
    CONFIRM_SELECT,
    CONNECTION_OPEN_OK,
    EXCHANGE_DECLARE,
    PROTOCOL_HEADER,
    QUEUE_BIND,
    QUEUE_DECLARE,
    Direction,
    Fault,
    FaultProxy,
    Frame,
    FrameError,
    FrameParser,
    When,
)
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import elapsed_until, wait_until

CONNECT_TIMEOUT = 2.0
HEARTBEAT = 60  # pika notices a silent peer after heartbeat + 5 s: far beyond every bound here
BOUND = 2 * CONNECT_TIMEOUT + 2  # how long a phase (or Connection(), or close()) may take
FAST = rt.Backoff(initial=0.1, max=0.5)
SERVICE_QUEUE = "rpc-itest"

SETUP_STEPS = {
    "channel_open": CHANNEL_OPEN,
    "exchange_declare": EXCHANGE_DECLARE,
    "confirm_select": CONFIRM_SELECT,
    "queue_declare": QUEUE_DECLARE,
    "queue_bind": QUEUE_BIND,
    "basic_consume": BASIC_CONSUME,
}


@pytest.fixture
def proxy(rabbit_vhost: Vhost) -> Iterator[FaultProxy]:
    with FaultProxy.to(rabbit_vhost.uri) as p:
        yield p


def _connect(uri: str, reconnect: rt.Backoff | None = FAST) -> rt.Connection:
    return rt.Connection(
        uri, connect_timeout=CONNECT_TIMEOUT, heartbeat=HEARTBEAT, reconnect=reconnect
    )


T = TypeVar("T")


def _bounded(proxy: FaultProxy, limit: float, what: str, action: Callable[[], T]) -> T:
    """``action()``'s result (or exception), or a failure if it takes over ``limit`` seconds.

    ``action`` runs in a thread so that a runtime which waits for pika's heartbeat fails the
    test at once instead of holding it for a minute. On a failure the proxy is closed, which
    ends the wait (the runtime sees its socket close), and the thread is joined.
    """
    outcome: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:
            errors.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=run, name=f"bounded: {what}")
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        proxy.close()
        thread.join(30)
        pytest.fail(
            f"{what} still waiting after {limit:g} s (done after "
            f"{time.monotonic() - start:.1f} s once the proxy closed)"
        )
    if errors:
        raise errors[0]
    return outcome[0]


def _answered(uri: str, within: float) -> float:
    """Seconds until ``itest`` answers a call made on ``uri`` (a direct, unfaulted link)."""
    start = time.monotonic()
    with ItestClient.connect(uri, timeout=within) as client:
        assert client.hello("anyone") == "hello, anyone"
    return time.monotonic() - start


# -- the proxy itself (no broker) -----------------------------------------------------------------


def _method_frame(channel: int, method: tuple[int, int], args: bytes = b"") -> bytes:
    payload = method[0].to_bytes(2, "big") + method[1].to_bytes(2, "big") + args
    return (
        b"\x01" + channel.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload + b"\xce"
    )


def test_parser_cuts_frames_however_the_bytes_arrive() -> None:
    declare = _method_frame(1, QUEUE_DECLARE, b"\x00\x00" + b"\x09rpc-itest" + b"\x02")
    heartbeat = b"\x08\x00\x00\x00\x00\x00\x00\xce"
    stream = PROTOCOL_HEADER + declare + heartbeat + _method_frame(0, (10, 50))
    for size in (1, 3, 7, 64):
        parser = FrameParser(Direction.TO_BROKER)
        frames: list[Frame] = []
        for i in range(0, len(stream), size):
            frames += parser.feed(stream[i : i + size])
        assert b"".join(f.raw for f in frames) == stream  # forwarding is byte-exact
        assert [(f.type, f.channel, f.method) for f in frames] == [
            (0, 0, None),
            (1, 1, QUEUE_DECLARE),
            (8, 0, None),
            (1, 0, (10, 50)),
        ]
        assert frames[1].name == SERVICE_QUEUE
        assert When(QUEUE_DECLARE, name=SERVICE_QUEUE).matches(frames[1])
        assert not When(QUEUE_DECLARE, name="other").matches(frames[1])
        assert not When(QUEUE_DECLARE, direction=Direction.TO_CLIENT).matches(frames[1])


def test_parser_rejects_what_is_not_amqp() -> None:
    with pytest.raises(FrameError):
        FrameParser(Direction.TO_BROKER).feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(FrameError):  # a bad frame end
        FrameParser(Direction.TO_CLIENT).feed(_method_frame(0, (10, 10))[:-1] + b"\x00")


def test_proxy_passes_a_working_connection_through(proxy: FaultProxy, rabbit_vhost: Vhost) -> None:
    with (
        rt.run_in_background(Itest(), proxy.uri(rabbit_vhost.uri), max_workers=1),
        _connect(proxy.uri(rabbit_vhost.uri)) as connection,
    ):
        assert ItestClient(connection, timeout=10).hello("proxy") == "hello, proxy"
        assert proxy.live == 2
        sent = proxy.methods(Direction.TO_BROKER)
        for step in SETUP_STEPS.values():
            assert step in sent
        assert CONNECTION_OPEN_OK in proxy.methods(Direction.TO_CLIENT)
    wait_until(lambda: proxy.live == 0, 5, what="connections closed")


# -- Connection(): a silent peer during set-up ----------------------------------------------------


@pytest.mark.parametrize("step", list(SETUP_STEPS), ids=list(SETUP_STEPS))
def test_connect_fails_within_its_timeout_when_the_broker_goes_silent_in_setup(
    proxy: FaultProxy, rabbit_vhost: Vhost, step: str
) -> None:
    armed = proxy.arm(Fault.BLACKHOLE, When(SETUP_STEPS[step]))
    uri = proxy.uri(rabbit_vhost.uri)
    start = time.monotonic()
    with pytest.raises(rt.RpcConnectionError):
        _bounded(proxy, BOUND + 2, "Connection()", lambda: _connect(uri, reconnect=None).close())
    took = time.monotonic() - start
    assert armed.fired.is_set(), f"the connection never sent {step}"
    assert took <= BOUND, f"Connection() took {took:.1f} s with connect_timeout={CONNECT_TIMEOUT}"


# -- a reconnect attempt that goes silent ---------------------------------------------------------


@pytest.mark.parametrize("step", ["queue_declare", "exchange_declare", "basic_consume"])
def test_a_silent_reconnect_attempt_is_abandoned_and_a_later_one_connects(
    proxy: FaultProxy, rabbit_vhost: Vhost, step: str
) -> None:
    with (
        rt.run_in_background(Itest(), rabbit_vhost.uri, max_workers=1),  # direct, unfaulted
        _connect(proxy.uri(rabbit_vhost.uri)) as connection,
    ):
        client = ItestClient(connection, timeout=30)
        assert client.hello("before") == "hello, before"
        armed = proxy.arm(Fault.BLACKHOLE, When(SETUP_STEPS[step]))  # the next connection only
        assert proxy.now(Fault.RESET) == 1
        assert armed.wait(10), f"the reconnect attempt never sent {step}"
        took = elapsed_until(lambda: connection.is_connected, BOUND + 3, what="reconnected")
        assert proxy.connections >= 3  # the first, the silent attempt, the one that worked
        assert took <= BOUND + 1  # the silent attempt was abandoned after its connect_timeout
        assert client.hello("after") == "hello, after"


# -- close() --------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["ready", "reconnecting"])
def test_close_returns_within_a_bound_when_the_broker_is_silent(
    proxy: FaultProxy, rabbit_vhost: Vhost, when: str
) -> None:
    connection = _connect(proxy.uri(rabbit_vhost.uri))
    if when == "ready":
        assert proxy.now(Fault.BLACKHOLE) == 1
    else:  # stuck in the set-up of a reconnect attempt
        armed = proxy.arm(Fault.BLACKHOLE, When(QUEUE_DECLARE))
        proxy.now(Fault.RESET)
        assert armed.wait(10)
    start = time.monotonic()
    _bounded(proxy, CONNECT_TIMEOUT + 4, "close()", connection.close)
    took = time.monotonic() - start
    assert took <= CONNECT_TIMEOUT + 2, f"close() took {took:.1f} s"
    assert not connection.is_open


# -- a server whose consumer set-up is reset ------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "step"),
    [
        (Fault.RESET, "queue_declare"),
        (Fault.RESET, "basic_consume"),
        (Fault.BLACKHOLE, "basic_consume"),
    ],
)
def test_a_server_whose_consumer_setup_fails_serves_after_reconnecting(
    proxy: FaultProxy, rabbit_vhost: Vhost, fault: Fault, step: str
) -> None:
    # Only the consumer's channel declares or consumes the service queue.
    armed = proxy.arm(fault, When(SETUP_STEPS[step], name=SERVICE_QUEUE))
    runner = rt.ServiceRunner(
        Itest(),
        proxy.uri(rabbit_vhost.uri),
        max_workers=1,
        connect_timeout=CONNECT_TIMEOUT,
        heartbeat=HEARTBEAT,
        reconnect=FAST,
    )
    try:
        start = time.monotonic()
        # start() may return before or after the reconnect, but must not raise.
        _bounded(proxy, BOUND + 4, "ServiceRunner.start()", runner.start)
        assert armed.fired.is_set()
        took = time.monotonic() - start
        assert took <= BOUND + 2, f"start() took {took:.1f} s"
        _answered(rabbit_vhost.uri, within=BOUND + 4)
        assert runner.error is None
        assert not runner.stopping.is_set()
    finally:
        runner.stop(timeout=10)


def test_a_server_whose_consumer_is_reset_while_resuming_serves_after_reconnecting(
    proxy: FaultProxy, rabbit_vhost: Vhost
) -> None:
    with rt.run_in_background(
        Itest(),
        proxy.uri(rabbit_vhost.uri),
        max_workers=1,
        connect_timeout=CONNECT_TIMEOUT,
        heartbeat=HEARTBEAT,
        reconnect=FAST,
    ) as runner:
        _answered(rabbit_vhost.uri, within=10)
        armed = proxy.arm(Fault.RESET, When(BASIC_CONSUME, name=SERVICE_QUEUE))
        proxy.now(Fault.RESET)  # lost; the reconnect's consumer set-up is reset again
        assert armed.wait(10), "the reconnect never resumed the consumer"
        _answered(rabbit_vhost.uri, within=BOUND + 4)
        assert runner.error is None
        assert not runner.stopping.is_set()


# -- wording --------------------------------------------------------------------------------------


def test_a_tcp_reset_is_reported_as_a_lost_connection(
    proxy: FaultProxy, rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rpcgen")
    uri = proxy.uri(rabbit_vhost.uri)
    with (
        rt.run_in_background(Itest(), uri, max_workers=1, reconnect=FAST) as runner,
        _connect(uri) as reconnecting,
        _connect(uri, reconnect=None) as final,
    ):
        assert ItestClient(final, timeout=10).hello("x") == "hello, x"
        assert proxy.now(Fault.RESET) == 3  # the server's, and both clients'
        wait_until(lambda: not final.is_open, 10, what="the loss noticed")
        with pytest.raises(rt.RpcConnectionError) as failed:
            ItestClient(final, timeout=10).hello("after the loss")
        wait_until(lambda: reconnecting.is_connected, BOUND + 3, what="reconnected")
        _answered(rabbit_vhost.uri, within=BOUND + 4)
        assert runner.error is None
    said = [record.getMessage() for record in caplog.records] + [str(failed.value)]
    assert not [line for line in said if "closed the channel" in line], said
    assert [line for line in said if "lost" in line.lower()], said
    assert "lost" in str(failed.value).lower() or "closed" in str(failed.value).lower()


def test_stall_shorter_than_the_timeout_is_waited_out(
    proxy: FaultProxy, rabbit_vhost: Vhost
) -> None:
    """A slow broker (each set-up step late, but within connect_timeout) is not given up on."""
    armed = proxy.arm(Fault.STALL, When(QUEUE_DECLARE), seconds=CONNECT_TIMEOUT / 4)
    with _connect(proxy.uri(rabbit_vhost.uri), reconnect=None) as connection:
        assert armed.fired.is_set()
        assert connection.is_connected
        assert proxy.connections == 1

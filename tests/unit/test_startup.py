"""A server's first connect waits for the broker: capped exponential backoff with jitter, each
attempt logged, a start-up limit, and a stop that ends the wait (``_startup.open_when_up``)."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from rpcgen.runtime._startup import STARTUP_BACKOFF, StartupAborted, StartupTimeout, open_when_up
from rpcgen.runtime.errors import RpcConnectionError

DEAD = "amqp://guest:secret@127.0.0.1:1/"  # nothing listens on port 1: refused at once


def test_the_backoff_doubles_from_half_a_second_to_ten_with_jitter() -> None:
    assert (STARTUP_BACKOFF.initial, STARTUP_BACKOFF.factor) == (0.5, 2.0)
    assert (STARTUP_BACKOFF.max, STARTUP_BACKOFF.jitter) == (10.0, 0.2)
    for attempt, base in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 10.0), (40, 10.0)):
        delays = {STARTUP_BACKOFF.delay(attempt) for _ in range(50)}
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 1  # spread, so that replicas do not knock in step


def test_each_attempt_is_logged_until_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rpcgen.runtime.server")
    with pytest.raises(StartupTimeout) as gave_up:
        open_when_up(DEAD, startup_timeout=2.0, reconnect=None)
    assert isinstance(gave_up.value, RpcConnectionError)
    message = str(gave_up.value)
    assert re.match(r"gave up after \d+ attempts in 2 s \(the start-up limit is 2 s\): ", message)
    assert "Connection refused" in message
    assert "secret" not in message  # the password stays masked
    waits = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.search(r"retrying in ([\d.]+) s", r.getMessage()))
    ]
    assert len(waits) >= 2
    assert 0.4 <= waits[0] <= 0.6 and 0.8 <= waits[1] <= 1.2
    assert caplog.records[0].getMessage().startswith("broker not reachable (attempt 1): ")


def test_no_limit_means_one_attempt() -> None:
    with pytest.raises(RpcConnectionError) as failed:
        open_when_up(DEAD, startup_timeout=0, reconnect=None)
    assert not isinstance(failed.value, StartupTimeout)


def test_a_stop_ends_the_wait() -> None:
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(StartupAborted):
        open_when_up(DEAD, startup_timeout=600, stop=stop, reconnect=None)

"""The reconnect policy's waits: exponential, capped, spread by jitter."""

from __future__ import annotations

import pytest
from rpcgen.runtime._amqp.uris import Backoff


def test_without_jitter_the_waits_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.1, max=1.0, factor=2.0, jitter=0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.delay(10_000) == 1.0  # no overflow after a very long outage


def test_jitter_spreads_each_wait_around_its_base() -> None:
    backoff = Backoff(initial=1.0, max=8.0, factor=2.0, jitter=0.25)
    for attempt, base in [(1, 1.0), (3, 4.0), (9, 8.0)]:
        waits = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.75 * base <= w <= 1.25 * base for w in waits)
        assert max(waits) - min(waits) > 0.25 * base  # spread out, not one value


def test_the_default_policy_has_jitter() -> None:
    waits = {Backoff().delay(1) for _ in range(50)}
    assert len(waits) > 1 and all(0.08 <= w <= 0.12 for w in waits)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1}, {"factor": 0.5}, {"attempts": -1}, {"jitter": 1.0}, {"jitter": -0.1}],
)
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**kwargs)  # type: ignore[arg-type]

"""``Settlement``: each delivery a runner takes is settled once, by its runner or by the drain."""

from __future__ import annotations

from rpcgen.runtime._settling import Settlement
from rpcgen.runtime._transport import Delivery, Properties


def _delivery(tag: int = 1) -> Delivery:
    return Delivery(tag, "greeter.hello", Properties(), b"{}")


def test_a_worker_settles_what_it_runs_when_no_drain_cuts_in() -> None:
    settlement, delivery = Settlement(), _delivery()
    assert settlement.begin("worker", delivery)
    assert settlement.claim(delivery, "worker")
    settlement.end("worker", delivery)
    assert settlement.claim_running() == []


def test_once_the_drain_began_nothing_more_is_started() -> None:
    settlement = Settlement()
    settlement.drain()
    assert not settlement.begin("worker", _delivery())
    assert settlement.claim_running() == []


def test_a_drain_cut_short_claims_what_runs_and_the_late_outcome_is_refused() -> None:
    settlement, delivery, other = Settlement(), _delivery(1), _delivery(2)
    settlement.begin("a", delivery)
    settlement.begin("b", other)
    assert settlement.claim(other, "b")  # b settles its own first
    assert settlement.claim_running() == [("a", delivery)]
    assert not settlement.claim(delivery, "a")  # handed back: a drops its outcome
    assert settlement.claim_running() == []  # claimed once, not twice


def test_unstarted_hand_backs_are_counted() -> None:
    settlement = Settlement()
    settlement.handed_back_unstarted()
    settlement.handed_back_unstarted()
    assert settlement.unstarted_handed_back == 2

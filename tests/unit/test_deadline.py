"""Deadlines in the call context: parsing, the budget of a handler's calls, the headers sent."""

from __future__ import annotations

import time

import pytest
from rpcgen.runtime import context


def test_deadline_is_read_from_headers_or_context_in_whole_milliseconds() -> None:
    assert context.deadline_of({"nameko.rpcgen_deadline_ms": 1_500}) == 1.5
    assert context.deadline_of({"rpcgen_deadline_ms": 2_000}) == 2.0
    for bad in ("1500", 1.5, True, None, [1]):
        assert context.deadline_of({"rpcgen_deadline_ms": bad}) is None
    assert context.deadline_of(None) is None


def test_outside_a_handler_the_budget_is_the_callers_timeout() -> None:
    before = time.time()
    timeout, deadline = context.budget(5.0)
    assert timeout == 5.0 and deadline is not None
    assert before + 5.0 <= deadline <= time.time() + 5.0
    assert context.budget(None) == (None, None)


@pytest.mark.parametrize(
    ("own", "left", "expected"), [(10.0, 2.0, 2.0), (1.0, 2.0, 1.0), (None, 2.0, 2.0)]
)
def test_inside_a_handler_a_call_gets_at_most_what_remains(
    own: float | None, left: float, expected: float
) -> None:
    incoming = {"nameko.rpcgen_deadline_ms": int((time.time() + left) * 1000)}
    token = context.enter(context.incoming(incoming, "svc.m.1"))
    try:
        timeout, deadline = context.budget(own)
        headers = context.outgoing_headers("unused", deadline)
    finally:
        context.leave(token)
    assert timeout is not None and expected - 0.05 < timeout <= expected
    assert headers["nameko.rpcgen_deadline_ms"] == pytest.approx(int(deadline * 1000), abs=1)
    assert headers["nameko.call_id_stack"] == ["svc.m.1"]


def test_a_passed_deadline_leaves_no_time_and_events_do_not_carry_it() -> None:
    incoming = {"nameko.rpcgen_deadline_ms": int((time.time() - 1) * 1000), "nameko.lang": "en"}
    token = context.enter(context.incoming(incoming, "svc.m.1"))
    try:
        assert context.budget(30.0)[0] == 0.0
        assert context.event_headers() == {
            "nameko.lang": "en",
            "nameko.call_id_stack": ["svc.m.1"],
        }
    finally:
        context.leave(token)

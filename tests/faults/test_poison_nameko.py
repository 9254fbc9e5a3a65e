"""The same poison messages sent to Nameko 2.14.1: what its users get, as measured.

A characterisation, not a goal: each case records what a Nameko service does with a message
that rpcgen's server answers or acks (tests/faults/test_poison.py). It fails if Nameko's
behaviour changes. Skipped without the Nameko environment (scripts/_setup.sh makes it), failed
under CI.
"""

from __future__ import annotations

from typing import Any

import pytest
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import JSON, RawCaller
from tests.interop.harness import NamekoServices
from tests.waiting import wait_until

pytestmark = pytest.mark.nameko
GOOD = b'{"args": ["x"], "kwargs": {}}'


def _outcome(caller: RawCaller, services: NamekoServices, vhost: Vhost, **case: Any) -> str:
    """What one message does to Nameko: its reply's exc_type, 'no reply', or 'died'."""
    body = case.pop("body", GOOD)
    cid = caller.publish("greeter.hello", body, **case)
    try:
        reply = caller.replies(1, timeout=5)[cid]
        return str(reply["error"]["exc_type"]) if reply["error"] else "result"
    except AssertionError:
        pass
    return wait_until(lambda: _settled(services, vhost), what="Nameko done with the message")


def _settled(services: NamekoServices, vhost: Vhost) -> str | None:
    """'died (...)' once Nameko exited and the broker took its message back; 'no reply (...)'
    once a living Nameko holds nothing unacked; None while neither holds yet.

    A message Nameko is still working on stays unacked, so neither answer is given early; one it
    died on is unacked until the broker sees the connection drop, then back in the queue.
    """
    queue = vhost.queue("rpc-greeter")
    assert queue is not None
    if services.exited():  # its message back in the queue, for the next one
        if queue.messages_unacknowledged:
            return None
        return f"died ({queue.messages_ready} ready)"
    if queue.messages_unacknowledged:
        return None
    return f"no reply ({queue.messages_ready} ready, {queue.messages_unacknowledged} unacked)"


# case: (message, what Nameko 2.14.1 does); rpcgen's answer in the comment.
CASES: dict[str, tuple[dict[str, Any], str]] = {
    # rpcgen: MalformedRequest. Nameko: dropped silently (acked), the caller waits it out.
    "pickle content type": ({"content_type": "application/x-python-serialize"},
                            "no reply (0 ready, 0 unacked)"),
    "invalid json": ({"body": b"{not json", **JSON}, "no reply (0 ready, 0 unacked)"),
    "invalid utf-8": ({"body": b'{"args": ["\xff"], "kwargs": {}}', **JSON},
                      "no reply (0 ready, 0 unacked)"),
    # rpcgen: MalformedRequest / acked and logged. Nameko: the service process exits and the
    # message goes back to the queue, to kill the next instance too (issue #753).
    "no content type": ({}, "died (1 ready)"),
    "no reply_to": ({"reply": False, **JSON}, "died (1 ready)"),
    # rpcgen: MalformedRequest ("request body is a JSON array, not an object"). Nameko: a
    # TypeError from its own code.
    "array body": ({"body": b"[1]", **JSON}, "TypeError"),
    # Both: MalformedRequest.
    "no kwargs": ({"body": b'{"args": ["x"]}', **JSON}, "MalformedRequest"),
    # Both answer; Nameko splits the string into a stack of characters, rpcgen keeps it whole.
    "call_id_stack string": ({"headers": {"nameko.call_id_stack": "abc"}, **JSON}, "result"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_nameko_on_poison(
    nameko_greeter: NamekoServices, rabbit_vhost: Vhost, amqp_uri: str, case: str
) -> None:
    caller = RawCaller(amqp_uri)
    try:
        props, expected = CASES[case]
        assert _outcome(caller, nameko_greeter, rabbit_vhost, **dict(props)) == expected
    finally:
        caller.close()

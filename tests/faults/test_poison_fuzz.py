"""Fuzz a running server with thousands of generated messages (hypothesis), then check it.

Each example publishes a batch of messages with plain pika: random bytes or JSON bodies (some
shaped like requests, some over the size limit), content types and encodings, headers of every
AMQP field type pika and RabbitMQ carry (floats and far timestamps included), routing keys
under the service (known and unknown methods) and unroutable ones, with or without
``reply_to``. Every message that reaches the queue with a ``reply_to`` must get exactly one
well-formed reply; afterwards the server must still answer a good call and its queue must
hold nothing ready and nothing unacked. Bounded: about 3,000 messages, well under a minute.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import rpcgen.runtime as rt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpcgen.runtime.testing import Vhost

from tests.faults.poison import RawCaller, wait_settled
from tests.faults.rawamqp import float32, float64, raw_fields, timestamp
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient

LIMIT = 4096
# sleep is left out: a long sleep is a hung handler (tests/faults/test_handler_faults.py).
CONTENT_TYPES = [
    None, "application/json", "application/x-python-serialize", "text/plain", "",
    "application/json; charset=utf-8", "APPLICATION/JSON",
]  # fmt: skip
METHODS = ["hello", "compute", "withdraw", "fail", "context", "nope", "sleep_not", "x" * 200]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
request_like = st.fixed_dictionaries(
    {},
    optional={
        "args": st.lists(json_values, max_size=3) | json_values,
        "kwargs": st.dictionaries(st.sampled_from(["a", "b", "name", "amount", "x"]), json_values)
        | json_values,
    },
).map(lambda d: json.dumps(d).encode())
bodies = st.one_of(
    request_like,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.builds(lambda n: b'{"args": ["' + b"x" * n + b'"], "kwargs": {}}', st.integers(0, LIMIT)),
    st.integers(LIMIT + 1, LIMIT + 64).map(lambda n: b"\x00" * n),
)
amqp_scalars = st.one_of(
    text,
    st.binary(max_size=20),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.none(),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    st.floats(allow_nan=False, allow_infinity=False).map(float64),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(float32),
    st.integers(0, 2**64 - 1).map(timestamp),
)
amqp_values: st.SearchStrategy[Any] = st.recursive(
    amqp_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
header_keys = st.one_of(
    text, st.sampled_from(["nameko.call_id_stack", "nameko.language", "nameko.x" * 30])
)
messages = st.fixed_dictionaries(
    {
        "routing_key": st.one_of(
            st.sampled_from(METHODS).map(lambda m: f"itest.{m}"),
            st.from_regex(r"\Aitest\.[a-z_]{1,12}\Z"),
            st.just("itest.hello.too.deep"),  # routes nowhere: the broker drops it
        ),
        "body": bodies,
        "content_type": st.sampled_from(CONTENT_TYPES),
        "content_encoding": st.sampled_from([None, "utf-8", "UTF-8", "binary", "gzip"]),
        "headers": st.none() | st.dictionaries(header_keys, amqp_values, max_size=4),
        "reply": st.booleans(),
        "correlation_id": st.none() | text,
    }
)


def _routed(routing_key: str) -> bool:
    return routing_key.count(".") == 1


@pytest.fixture
def server(amqp_uri: str) -> Iterator[rt.ServiceRunner]:
    conn = rt.Connection(amqp_uri, client_name="itest", reply_queue=False, max_message_bytes=LIMIT)
    with conn, rt.run_in_background(Itest(), connection=conn, max_workers=4) as runner:
        yield runner


def test_fuzzed_messages_never_hurt_the_server(
    server: rt.ServiceRunner, amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    caller = RawCaller(amqp_uri)
    stats = {"messages": 0, "replies": 0}
    try:
        with raw_fields():
            _fuzz(caller, stats)
        with ItestClient.connect(amqp_uri, timeout=20) as client:
            assert client.hello("still up") == "hello, still up"
        wait_settled(rabbit_vhost, "rpc-itest")
        assert not caller.replies_left()  # no late second reply to any request
        assert not server.stopping.is_set() and server.error is None
    finally:
        caller.close()
    assert stats["messages"] >= 2000, stats  # the run really was thousands of messages


def _fuzz(caller: RawCaller, stats: dict[str, int]) -> None:
    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(messages, min_size=20, max_size=40))
    def run(batch: list[dict[str, Any]]) -> None:
        expected: set[str] = set()
        for msg in batch:
            expected |= _publish(caller, msg)
        replies = caller.replies(len(expected), timeout=30)
        assert set(replies) == expected  # one reply per answerable request, no duplicates
        for reply in replies.values():
            assert set(reply) == {"result", "error"}
            if reply["error"] is not None:
                assert {"exc_type", "exc_path", "exc_args", "value"} <= set(reply["error"])
        stats["messages"] += len(batch)
        stats["replies"] += len(replies)

    run()


def _publish(caller: RawCaller, msg: dict[str, Any]) -> set[str]:
    """Publish one generated message; the correlation ids of the replies it must produce."""
    answerable = msg["reply"] and _routed(msg["routing_key"])
    # Answerable messages get a unique id so their replies can be told apart.
    cid = str(uuid.uuid4()) if answerable else msg["correlation_id"]
    props = {
        "content_type": msg["content_type"],
        "content_encoding": msg["content_encoding"],
        "headers": msg["headers"],
    }
    caller.publish(msg["routing_key"], msg["body"], reply=msg["reply"], cid=cid, **props)
    return {cid} if answerable else set()

"""What rpcgen puts on the wire and declares on the broker, checked from the outside."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.integration import helpers
from tests.integration.helpers import declare_ghost, get, prefetch_counts, raw_channel
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = pytest.mark.broker

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def ghost(rabbit_vhost: Vhost) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel on which ``rpc-itest`` exists but nobody serves it."""
    with raw_channel(rabbit_vhost.uri) as channel:
        declare_ghost(channel, "itest")
        yield channel


def test_request_properties_and_body(rabbit_vhost: Vhost, ghost: pika.channel.Channel) -> None:
    with rt.Connection(rabbit_vhost.uri, client_name="props") as connection:
        sent_at = time.time()
        ItestClient(connection, timeout=60.5).hello.call_async("bob")
        method, props, body = get(ghost, "rpc-itest")
    assert method.routing_key == "itest.hello" and method.exchange == "nameko-rpc"
    assert body == b'{"args": ["bob"], "kwargs": {}}'
    assert (props.content_type, props.content_encoding) == ("application/json", "utf-8")
    assert (props.delivery_mode, props.priority) == (2, 0)
    assert UUID.match(props.correlation_id)
    assert props.reply_to == connection.reply_to and UUID.match(props.reply_to)
    assert props.expiration == "60500"  # the call's timeout, in ms
    deadline_ms = props.headers.pop("nameko.rpcgen_deadline_ms")  # the call's deadline, Unix ms
    assert sent_at + 60.5 <= deadline_ms / 1000 < time.time() + 60.5 + 0.002
    assert props.headers == {"nameko.call_id_stack": [f"props.call.{props.correlation_id}"]}
    for absent in ("message_id", "timestamp", "type", "user_id", "app_id", "cluster_id"):
        assert getattr(props, absent) is None


def test_request_without_timeout_has_no_expiration(
    rabbit_vhost: Vhost, ghost: pika.channel.Channel
) -> None:
    with ItestClient.connect(rabbit_vhost.uri, timeout=None) as client:
        client.hello.call_async("patient")
        _method, props, _body = get(ghost, "rpc-itest")
    assert props.expiration is None


def test_unanswered_request_dies_in_the_queue(
    rabbit_vhost: Vhost, ghost: pika.channel.Channel
) -> None:
    with ItestClient.connect(rabbit_vhost.uri, timeout=0.3) as client, pytest.raises(rt.RpcTimeout):
        client.hello("too late")
    # Its per-message TTL (the call's 0.3 s timeout) drops it from the queue's head unserved.
    wait_until(
        lambda: ghost.queue_declare("rpc-itest", passive=True).method.message_count == 0,
        what="the request expired in the queue",
    )
    assert ghost.basic_get("rpc-itest", auto_ack=True)[0] is None  # expired, not served late


def test_reply_properties_and_body(rabbit_vhost: Vhost) -> None:
    with rt.run_in_background(Itest(), rabbit_vhost.uri), raw_channel(rabbit_vhost.uri) as ch:
        reply_to = str(uuid.uuid4())
        queue = str(ch.queue_declare("", exclusive=True).method.queue)
        ch.queue_bind(queue, "nameko-rpc", reply_to)
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            priority=0, correlation_id="cid-1", reply_to=reply_to, headers={},
        )  # fmt: skip
        ch.basic_publish("nameko-rpc", "itest.hello", b'{"args": ["bob"], "kwargs": {}}', props)
        ch.basic_publish("nameko-rpc", "itest.nope", b'{"args": [], "kwargs": {}}', props)
        got = [get(ch, queue), get(ch, queue)]  # two workers: either may answer first
        got.sort(key=lambda m: b'"error": null' not in m[2])
        (method, reply, body), (_m, _p, error) = got
    assert method.exchange == "nameko-rpc" and method.routing_key == reply_to
    assert body == b'{"result": "hello, bob", "error": null}'
    assert (reply.content_type, reply.content_encoding) == ("application/json", "utf-8")
    assert (reply.delivery_mode, reply.priority) == (2, 0)
    assert reply.correlation_id == "cid-1"
    assert reply.headers == {}
    assert reply.reply_to is None and reply.expiration is None
    assert error == (
        b'{"result": null, "error": {"exc_type": "MethodNotFound", "exc_path": '
        b'"nameko.exceptions.MethodNotFound", "exc_args": ["nope"], "value": "nope"}}'
    )


def test_topology_matches_nameko(rabbit_vhost: Vhost) -> None:
    with (
        rt.run_in_background(Itest(), rabbit_vhost.uri, max_workers=7),
        rt.Connection(rabbit_vhost.uri, client_name="topo") as connection,
    ):
        exchange = helpers.exchange(rabbit_vhost, "nameko-rpc")
        service = helpers.queue_row(rabbit_vhost, "rpc-itest")
        replies = helpers.queue_row(rabbit_vhost, connection.reply_queue)
        bindings = {(b["destination"], b["routing_key"]) for b in helpers.bindings(rabbit_vhost)}
        prefetch = prefetch_counts(rabbit_vhost, "rpc-itest")
    assert (exchange["type"], exchange["durable"], exchange["auto_delete"]) == (
        "topic",
        True,
        False,
    )
    assert exchange["internal"] is False and exchange["arguments"] == {}
    assert service is not None and replies is not None
    assert (service["durable"], service["auto_delete"], service["exclusive"]) == (
        True,
        False,
        False,
    )
    assert service["arguments"] == {}
    assert connection.reply_queue == f"rpc.reply-topo-{connection.reply_to}"
    assert (replies["durable"], replies["auto_delete"], replies["exclusive"]) == (
        True,
        False,
        False,
    )
    assert replies["arguments"] == {"x-expires": 300000}
    assert {("rpc-itest", "itest.*"), (connection.reply_queue, connection.reply_to)} <= bindings
    assert prefetch == [70]  # rt.PREFETCH_PER_WORKER (10) x max_workers


def test_unknown_correlation_ids_are_dropped(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="rpcgen")
    with rt.run_in_background(Itest(), rabbit_vhost.uri), raw_channel(rabbit_vhost.uri) as ch:
        with ItestClient.connect(rabbit_vhost.uri, timeout=10) as client:
            reply_to = client._connection.reply_to
            stray = pika.BasicProperties(content_type="application/json", correlation_id="stray")
            ch.basic_publish("nameko-rpc", reply_to, b'{"result": 1, "error": null}', stray)
            assert client.hello("after a stray") == "hello, after a stray"
            reply_queue = client._connection.reply_queue
        assert ch.queue_declare(reply_queue, passive=True).method.message_count == 0
    assert any("'stray'" in r.getMessage() for r in caplog.records)


def test_request_body_of_every_shape_is_kombu_json(
    rabbit_vhost: Vhost, ghost: pika.channel.Channel
) -> None:
    with ItestClient.connect(rabbit_vhost.uri, timeout=0.5) as client:
        client.compute.call_async(3, b=4)
        _m, _p, body = get(ghost, "rpc-itest")
    assert body == b'{"args": [3], "kwargs": {"b": 4}}'
    assert json.loads(body) == {"args": [3], "kwargs": {"b": 4}}


def test_exchange_name_is_configurable(rabbit_vhost: Vhost) -> None:
    with (
        rt.run_in_background(Itest(), rabbit_vhost.uri, exchange="custom-rpc"),
        ItestClient.connect(rabbit_vhost.uri, timeout=10, exchange="custom-rpc") as client,
    ):
        assert client.hello("custom") == "hello, custom"
        exchange = helpers.exchange(rabbit_vhost, "custom-rpc")
        # Nothing is bound for itest on nameko-rpc: a client left on the default finds no service.
        with (
            ItestClient.connect(rabbit_vhost.uri, timeout=600) as stray,
            pytest.raises(rt.UnknownService),
        ):
            stray.hello("wrong exchange")
    assert (exchange["type"], exchange["durable"], exchange["auto_delete"]) == (
        "topic",
        True,
        False,
    )

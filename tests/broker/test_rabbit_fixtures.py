"""The session broker and the per-test vhost fixtures (rpcgen.runtime.testing)."""

from __future__ import annotations

import json

import pika
import pytest
from rpcgen.runtime.testing import Broker, ExternalBroker, RabbitNode, Vhost, plugin


def _declare_and_publish(uri: str, queue: str, body: bytes = b"x", **props: object) -> None:
    with pika.BlockingConnection(pika.URLParameters(uri)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(queue, durable=True)
        ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2, **props))


def test_amqp_uri_connects_to_the_tests_own_vhost(amqp_uri: str, rabbit_vhost: Vhost) -> None:
    assert amqp_uri == rabbit_vhost.uri
    assert amqp_uri.endswith("/" + rabbit_vhost.name)
    with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as conn:
        assert conn.is_open
    assert rabbit_vhost.name in rabbit_vhost.broker.management.vhosts()


def test_vhosts_are_isolated(rabbit_node: Broker, rabbit_vhost: Vhost) -> None:
    other = rabbit_node.add_vhost(rabbit_vhost.name + "-other")
    try:
        _declare_and_publish(rabbit_vhost.uri, "only-here")
        assert [q.name for q in rabbit_vhost.queues()] == ["only-here"]
        assert rabbit_node.list_queues(rabbit_vhost.name + "-other") == []
        with (
            pika.BlockingConnection(pika.URLParameters(other)) as conn,
            pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"),
        ):
            conn.channel().queue_declare("only-here", passive=True)
    finally:
        rabbit_node.delete_vhost(rabbit_vhost.name + "-other")


def test_closing_a_vhost_deletes_it_and_its_queues(rabbit_node: Broker) -> None:
    vhost = Vhost(rabbit_node, "rpcgen-closing", rabbit_node.add_vhost("rpcgen-closing"))
    _declare_and_publish(vhost.uri, "doomed")
    vhost.close()
    assert "rpcgen-closing" not in rabbit_node.management.vhosts()
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError, match="not found"):
        pika.BlockingConnection(pika.URLParameters(vhost.uri))


def test_queue_counters_are_exact(rabbit_vhost: Vhost) -> None:
    _declare_and_publish(rabbit_vhost.uri, "q1")
    _declare_and_publish(rabbit_vhost.uri, "q1")
    with pika.BlockingConnection(pika.URLParameters(rabbit_vhost.uri)) as conn:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume("q1", lambda *_: None)
        conn.process_data_events(time_limit=0.2)  # the one prefetched delivery stays unacked
        q = rabbit_vhost.queue("q1")
        assert q is not None
        assert (q.messages_ready, q.messages_unacknowledged, q.consumers) == (1, 1, 1)
        assert (q.durable, q.auto_delete, q.exclusive, q.arguments) == (True, False, False, {})
        rabbit_vhost.wait_for_consumers("q1", timeout=10)
        [consumer] = rabbit_vhost.consumers()
        assert (consumer.queue, consumer.prefetch_count, consumer.ack_required) == ("q1", 1, True)


def test_bindings_and_queue_arguments(rabbit_vhost: Vhost) -> None:
    with pika.BlockingConnection(pika.URLParameters(rabbit_vhost.uri)) as conn:
        ch = conn.channel()
        ch.exchange_declare("nameko-rpc", exchange_type="topic", durable=True)
        ch.queue_declare("rpc.reply-x-1", durable=True, arguments={"x-expires": 300000})
        ch.queue_bind("rpc.reply-x-1", "nameko-rpc", routing_key="1")
    assert [(b.source, b.destination, b.routing_key) for b in rabbit_vhost.bindings()] == [
        ("nameko-rpc", "rpc.reply-x-1", "1")
    ]
    q = rabbit_vhost.queue("rpc.reply-x-1")
    assert q is not None and q.arguments == {"x-expires": 300000}


def test_spy_records_properties_and_raw_body(rabbit_vhost: Vhost) -> None:
    spy = rabbit_vhost.spy("nameko-rpc", "#")
    body = json.dumps({"args": ["b\u00f6b"], "kwargs": {}}).encode()
    with pika.BlockingConnection(pika.URLParameters(rabbit_vhost.uri)) as conn:
        props = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            correlation_id="c1",
            headers={"nameko.call_id_stack": ["a.b.c"], "nameko.user_id": 5},
        )
        conn.channel().basic_publish("nameko-rpc", "greeter.hello", body, props)
    [msg] = spy.get(1, timeout=10)
    assert (msg.exchange, msg.routing_key, msg.body) == ("nameko-rpc", "greeter.hello", body)
    assert msg.properties == {
        "content_type": "application/json",
        "delivery_mode": 2,
        "correlation_id": "c1",
        "headers": {"nameko.call_id_stack": ["a.b.c"], "nameko.user_id": 5},
    }
    assert msg.json() == {"args": ["b\u00f6b"], "kwargs": {}}
    assert spy.drain(settle=0.05) == []


def test_user_without_permissions_is_refused(rabbit_node: Broker, rabbit_vhost: Vhost) -> None:
    rabbit_node.add_user("rpcgen-nobody", "secret")
    try:
        uri = rabbit_vhost.uri.replace("guest:guest", "rpcgen-nobody:secret")
        with pytest.raises(pika.exceptions.ProbableAccessDeniedError, match="refused"):
            pika.BlockingConnection(pika.URLParameters(uri))
    finally:
        rabbit_node.management.delete_user("rpcgen-nobody")


def test_external_broker_surface(rabbit_node: Broker) -> None:
    if not isinstance(rabbit_node, RabbitNode):
        pytest.skip("the session already runs on an external broker")
    external = ExternalBroker(rabbit_node.uri, rabbit_node.mgmt_url)
    uri = external.add_vhost("rpcgen-external")
    try:
        _declare_and_publish(uri, "ext")
        assert "ext" in [q.name for q in external.list_queues("rpcgen-external")]
    finally:
        external.delete_vhost("rpcgen-external")
    assert "guest" not in repr(external).replace("guest:***", "")


def test_a_missing_broker_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        plugin.skip_or_fail("no broker")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no broker.*CI is set"):
        plugin.skip_or_fail("no broker")
    with pytest.raises(pytest.skip.Exception, match="a pre-release"):  # CI may lack it too
        plugin.skip_or_fail("a pre-release", required_in_ci=False)

"""RabbitNode's life cycle: restart keeps durable state, kill, TLS, and a clean close."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pika
import pytest
from rpcgen.runtime.testing import BrokerError, RabbitNode

NodeFactory = Callable[..., RabbitNode]


def _publish_persistent(uri: str, queue: str, body: bytes) -> None:
    with pika.BlockingConnection(pika.URLParameters(uri)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()  # confirmed persistent messages are on disk, so they survive kill -9
        ch.queue_declare(queue, durable=True)
        ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)


def _get(uri: str, queue: str) -> bytes | None:
    with pika.BlockingConnection(pika.URLParameters(uri)) as conn:
        _, _, body = conn.channel().basic_get(queue, auto_ack=True)
        return None if body is None else bytes(body)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_restart_and_kill_keep_durable_queues_and_ports(rabbit_node_factory: NodeFactory) -> None:
    node = rabbit_node_factory(management=False)
    _publish_persistent(node.uri, "durable-q", b"one")
    _publish_persistent(node.uri, "durable-q", b"two")

    node.stop()
    assert not node.running and not _port_open(node.amqp_port)
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(pika.URLParameters(node.uri))
    with socket.socket() as squatter:  # a failed boot reports its cause, and is retried fine
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", node.amqp_port))
        squatter.listen()
        with pytest.raises(BrokerError, match="eaddrinuse"):
            node.start()
    node.start()
    assert [(q.name, q.messages_ready) for q in node.list_queues("/")] == [("durable-q", 2)]

    node.kill()
    assert not node.running
    node.start()
    # Only confirmed publishes are safe from kill -9 (a consumed message's ack may not be on disk
    # yet, so none was consumed before the kill).
    assert [(q.name, q.messages_ready) for q in node.list_queues("/")] == [("durable-q", 2)]
    assert _get(node.uri, "durable-q") == b"one"


def test_vhosts_without_management_use_rabbitmqctl(rabbit_node_factory: NodeFactory) -> None:
    node = rabbit_node_factory(management=False)
    uri = node.add_vhost("plain")
    _publish_persistent(uri, "q", b"x")
    assert [q.name for q in node.list_queues("plain")] == ["q"]
    node.delete_vhost("plain")
    assert "plain" not in node.ctl("list_vhosts", "name").split()
    with pytest.raises(BrokerError, match="management=False"):
        _ = node.mgmt_url


def test_tls_listener_with_generated_certificates(rabbit_node_factory: NodeFactory) -> None:
    node = rabbit_node_factory(tls=True, management=False)
    assert node.tls is not None and node.amqps_port is not None
    assert node.amqps_uri == f"amqps://guest:guest@localhost:{node.amqps_port}/"

    for client_cert in (False, True):
        ctx = node.tls.client_context(client_cert=client_cert)
        params = pika.ConnectionParameters(
            "localhost", node.amqps_port, ssl_options=pika.SSLOptions(ctx, "localhost")
        )
        with pika.BlockingConnection(params) as conn:
            assert conn.is_open

    untrusting = pika.SSLOptions(ssl.create_default_context(), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError):
        pika.BlockingConnection(
            pika.ConnectionParameters("localhost", node.amqps_port, ssl_options=untrusting)
        )


@pytest.mark.broker
def test_close_removes_everything(rabbit_node_factory: NodeFactory) -> None:
    node = rabbit_node_factory(management=False)  # closed here; the factory's close is a no-op
    ports = (node.amqp_port, node.dist_port, node.epmd_port)
    beam = node._beam_pid()
    assert beam is not None and all(_port_open(p) for p in ports)
    node.close()
    node.close()  # idempotent
    assert not node.dir.exists()
    assert not any(_port_open(p) for p in ports)  # AMQP, distribution and the private epmd
    stat = Path(f"/proc/{beam}/stat")
    assert not stat.exists() or ") Z " in stat.read_text()  # gone, or a zombie nobody reaped yet

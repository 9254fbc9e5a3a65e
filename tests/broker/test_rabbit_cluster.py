"""RabbitCluster: three nodes that really form one cluster and survive losing a member."""

from __future__ import annotations

import pika
from rpcgen.runtime.testing import RabbitCluster

QQ = {"x-queue-type": "quorum"}


def test_cluster_forms_and_fails_over(rabbit_cluster: RabbitCluster) -> None:
    first, second, third = rabbit_cluster.nodes
    names = sorted(n.nodename for n in rabbit_cluster.nodes)
    assert rabbit_cluster.running_nodes() == names

    uris = rabbit_cluster.add_vhost("ha")
    with pika.BlockingConnection(pika.URLParameters(uris[0])) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("qq", durable=True, arguments=QQ)
        for i in range(3):
            ch.basic_publish("", "qq", str(i).encode(), pika.BasicProperties(delivery_mode=2))

    first.stop()
    assert rabbit_cluster.running_nodes() == sorted(n.nodename for n in (second, third))
    with pika.BlockingConnection(pika.URLParameters(uris[1])) as conn:
        ch = conn.channel()
        bodies = [ch.basic_get("qq", auto_ack=True)[2] for _ in range(3)]
    assert bodies == [b"0", b"1", b"2"]

    first.start()  # rejoins by itself
    assert rabbit_cluster.running_nodes() == names

"""More than one machine: a 3-node cluster loses the node its client and server use.

The service queue is a quorum queue (replicated on every node); the client's reply queue is a
classic queue homed on the node it connected to. When that node stops, both reconnect through
the next URI; the client finds its reply queue unreachable (its node is down), fails the call
that was waiting on it with ``RpcConnectionError`` and continues on a new reply queue.
"""

from __future__ import annotations

import json

import pytest
import rpcgen.runtime as rt
from pika.exceptions import ChannelClosedByBroker
from rpcgen.runtime._amqp.connection import Backoff
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.cluster import RabbitCluster

from tests.faults.faultproxy import Direction, FaultProxy
from tests.integration.helpers import raw_channel
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(110)]
BASIC_ACK = (60, 80)  # a publisher confirm, when the broker sends it


def _queue_types(cluster: RabbitCluster, vhost: str) -> dict[str, str]:
    rows = json.loads(
        cluster.ctl("list_queues", "-p", vhost, "name", "type", "--formatter", "json")
    )
    return {row["name"]: row["type"] for row in rows}


def test_calls_go_on_through_the_other_nodes(rabbit_cluster: RabbitCluster) -> None:
    uris = rabbit_cluster.add_vhost("failover")
    impl = Itest()
    fast = Backoff(initial=0.1, max=1.0)
    with (
        FaultProxy.to(uris[0]) as proxy,  # only to see the confirm pass; it injects nothing
        rt.run_in_background(impl, uris, max_workers=2, queue_type="quorum", reconnect=fast),
        rt.Connection(
            [proxy.uri(uris[0]), *uris[1:]], client_name="roamer", reconnect=fast
        ) as connection,
    ):
        client = ItestClient(connection, timeout=30)
        assert connection.uri == rt.mask_uri(proxy.uri(uris[0]))
        old_reply_queue = connection.reply_queue

        in_flight = client.sleep.call_async(2.0)  # the connection's first publish
        assert impl.started.acquire(timeout=30)
        # Once confirmed, it waits on the reply queue of node 1 (unconfirmed, it would be resent).
        wait_until(
            lambda: BASIC_ACK in proxy.methods(Direction.TO_CLIENT), what="the request's confirm"
        )
        assert _queue_types(rabbit_cluster, "failover")["rpc-itest"] == "quorum"
        rabbit_cluster.nodes[0].stop()
        with pytest.raises(rt.RpcConnectionError, match="node that is down"):
            in_flight.result()

        answers = [client.hello(f"call {i}") for i in range(20)]
        assert answers == [f"hello, call {i}" for i in range(20)]
        assert connection.uri in {rt.mask_uri(uri) for uri in uris[1:]}
        assert connection.reply_queue != old_reply_queue


def test_a_quorum_service_queue_must_be_declared_identically_by_every_peer(
    rabbit_vhost: Vhost,
) -> None:
    uri = rabbit_vhost.uri
    with (
        rt.run_in_background(Itest(), uri, queue_type="quorum"),
        ItestClient.connect(uri, timeout=30) as client,
    ):
        assert client.hello("quorum") == "hello, quorum"
        info = rabbit_vhost.queue("rpc-itest")
        assert info is not None and info.arguments == {"x-queue-type": "quorum"}
        # What Nameko 2.14.1 does when it serves the service: declare it without arguments.
        with raw_channel(uri) as channel, pytest.raises(ChannelClosedByBroker) as refused:
            channel.queue_declare("rpc-itest", durable=True)
        assert refused.value.reply_code == 406
        # And an rpcgen peer declaring the default (classic) queue fails to start, clearly.
        with pytest.raises(rt.RpcConnectionError, match="PRECONDITION_FAILED"):
            rt.ServiceRunner(Itest(), uri).start()

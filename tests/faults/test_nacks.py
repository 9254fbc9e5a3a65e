"""A request RabbitMQ refuses (``basic.nack``) is sent again on a new connection, then fails.

RabbitMQ nacks a publish when a queue it was routed to refuses it. Here that queue is the
service queue declared with ``x-max-length`` and ``x-overflow: reject-publish`` (a full queue);
on a cluster, a quorum queue whose leader has just moved nacks the same way for a while
(docs/wire.md §10.3), which is why the client retries at all. A spy queue bound to
the same routing key receives a copy of every publish, so the retries can be counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._amqp.connection import MAX_NACKS, Backoff
from rpcgen.runtime.testing import Vhost

from tests.integration.helpers import get, raw_channel, spy
from tests.integration.stubs import ItestClient

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

REFUSED = "RabbitMQ refused the request to itest.hello (nack)"


def declare_refusing(channel: Any, max_length: int) -> None:
    """``rpc-itest`` as a bounded queue that refuses publishes once it holds ``max_length``."""
    channel.exchange_declare("nameko-rpc", "topic", durable=True)
    arguments = {"x-max-length": max_length, "x-overflow": "reject-publish"}
    channel.queue_declare("rpc-itest", durable=True, arguments=arguments)
    channel.queue_bind("rpc-itest", "nameko-rpc", "itest.*")


def copies(channel: Any, queue: str) -> list[str]:
    """Correlation ids of the requests the spy ``queue`` has received so far."""
    found = []
    while True:
        method, props, _body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return found
        found.append(props.correlation_id)


def test_without_reconnect_a_refused_request_fails_at_once(rabbit_vhost: Vhost) -> None:
    with raw_channel(rabbit_vhost.uri) as channel:
        declare_refusing(channel, max_length=0)
        # The nack's error, not the timeout's (which would be an RpcTimeout after 60 s).
        refused = pytest.raises(rt.RpcConnectionError, match=re.escape(REFUSED))
        with rt.Connection(rabbit_vhost.uri, reconnect=None) as connection, refused:
            ItestClient(connection, timeout=60).hello("refused")


def test_a_refused_request_is_sent_again_then_fails_and_the_connection_lives_on(
    rabbit_vhost: Vhost,
) -> None:
    with raw_channel(rabbit_vhost.uri) as channel:
        declare_refusing(channel, max_length=0)
        copy = spy(channel, "itest.*")
        fast = Backoff(initial=0.05, max=0.05)
        with rt.Connection(rabbit_vhost.uri, reconnect=fast) as connection:
            client = ItestClient(connection, timeout=20)
            with pytest.raises(rt.RpcConnectionError, match=re.escape(REFUSED)):
                client.hello("refused")
            sent = copies(channel, copy)
            # The first publish and MAX_NACKS more, each on a new connection, all one call.
            assert len(sent) == MAX_NACKS + 1 and len(set(sent)) == 1
            assert connection.is_open and connection.is_connected
            channel.queue_delete("rpc-itest")  # both gone: the next call is unroutable
            channel.queue_delete(copy)
            with pytest.raises(rt.UnknownService):
                client.hello("after")


def test_a_request_refused_once_is_accepted_when_sent_again(rabbit_vhost: Vhost) -> None:
    with raw_channel(rabbit_vhost.uri) as channel:
        declare_refusing(channel, max_length=1)
        channel.basic_publish("nameko-rpc", "itest.hello", b"junk")  # full now
        copy = spy(channel, "itest.*")
        # One second before the retry: time to make room in the queue.
        with rt.Connection(rabbit_vhost.uri, reconnect=Backoff(initial=1.0)) as connection:
            future = ItestClient(connection, timeout=20).hello.call_async("again")
            _method, first, _body = get(channel, copy)  # the first publish (nacked)
            channel.queue_purge("rpc-itest")
            _method, props, body = get(channel, "rpc-itest")  # the same request, sent again
            assert props.correlation_id == first.correlation_id
            assert json.loads(body) == {"args": ["again"], "kwargs": {}}
            reply = b'{"result": "accepted", "error": null}'
            reply_props = pika.BasicProperties(
                content_type="application/json", correlation_id=props.correlation_id
            )
            channel.basic_publish("nameko-rpc", props.reply_to, reply, reply_props)
            assert future.result(timeout=20) == "accepted"
            assert copies(channel, copy) == [first.correlation_id]  # sent twice in all

"""Shared helpers of the poison-message tests: a raw publisher with a reply queue of its own."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pika
from rpcgen.runtime.testing import Vhost

from tests.waiting import wait_until

JSON = {"content_type": "application/json", "content_encoding": "utf-8"}


class RawCaller:
    """Publishes hand-made requests with plain pika and reads the replies from its own queue."""

    def __init__(self, uri: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(uri))
        self.ch = self.conn.channel()
        self.ch.exchange_declare("nameko-rpc", "topic", durable=True)
        self.reply_to = str(uuid.uuid4())
        self.queue = str(self.ch.queue_declare("", exclusive=True).method.queue)
        self.ch.queue_bind(self.queue, "nameko-rpc", self.reply_to)

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        reply: bool = True,
        cid: str | None = "",
        **props: Any,
    ) -> str | None:
        """Publish one message (``cid=""``: a fresh correlation id); returns its correlation id."""
        if cid == "":
            cid = str(uuid.uuid4())
        properties = pika.BasicProperties(
            correlation_id=cid, reply_to=self.reply_to if reply else None, **props
        )
        self.ch.basic_publish("nameko-rpc", routing_key, body, properties)
        return cid

    def replies(self, count: int, timeout: float = 20.0) -> dict[str | None, Any]:
        """``count`` replies by correlation id (JSON-decoded bodies); a second reply to one
        request fails."""
        got: dict[str | None, Any] = {}

        def all_in() -> bool:
            while len(got) < count:
                method, props, body = self.ch.basic_get(self.queue, auto_ack=True)
                if method is None:
                    return False
                assert props.correlation_id not in got, f"two replies to {props.correlation_id}"
                got[props.correlation_id] = json.loads(body)
            return True

        wait_until(all_in, timeout, what=f"{count} replies", describe=lambda: len(got))
        return got

    def replies_left(self) -> list[bytes]:
        """Replies not taken yet. Complete once the service queue settled (``wait_settled``):
        a server acks a request only after its reply's confirm, so every reply is queued."""
        left = []
        while (got := self.ch.basic_get(self.queue, auto_ack=True))[0] is not None:
            left.append(got[2])
        return left

    def ask(self, routing_key: str, body: bytes, **props: Any) -> Any:
        """Publish one request and return its reply's ``error`` (None for a result)."""
        cid = self.publish(routing_key, body, **props)
        return self.replies(1)[cid]["error"]

    def close(self) -> None:
        self.conn.close()


def wait_settled(vhost: Vhost, queue: str, timeout: float = 20.0) -> None:
    """Wait until ``queue`` holds nothing ready and nothing unacked (exact counts)."""

    def settled() -> bool:
        info = vhost.queue(queue)
        assert info is not None, f"{queue} is gone"
        return info.messages_ready == 0 and info.messages_unacknowledged == 0

    wait_until(settled, timeout, what=f"{queue} settled", describe=lambda: vhost.queue(queue))

"""Shared helpers of the poison-message tests: a raw publisher with a reply queue of its own."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pika
from rpcgen.runtime.testing import Vhost

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
        """``count`` replies by correlation id (JSON-decoded bodies)."""
        got: dict[str | None, Any] = {}
        deadline = time.monotonic() + timeout
        while len(got) < count:
            method, props, body = self.ch.basic_get(self.queue, auto_ack=True)
            if method is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{len(got)} of {count} replies after {timeout} s")
                time.sleep(0.01)
                continue
            got[props.correlation_id] = json.loads(body)
        return got

    def replies_left(self, settle: float) -> list[bytes]:
        """Replies that arrive within ``settle`` seconds (there should be none left)."""
        time.sleep(settle)
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
    deadline = time.monotonic() + timeout
    while True:
        info = vhost.queue(queue)
        assert info is not None, f"{queue} is gone"
        if info.messages_ready == 0 and info.messages_unacknowledged == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{queue}: {info.messages_ready} ready, {info.messages_unacknowledged} unacked"
            )
        time.sleep(0.05)

"""Baseline: RabbitMQ's RPC tutorial pattern with plain pika (BlockingConnection).

What the tutorial does, and so what this baseline does: a transient request queue on the default
exchange, transient messages, no publisher confirms, no `mandatory`, an exclusive server-named
callback queue with auto-ack, and the server acks after it has published the reply. One change: the
tutorial's server sets `prefetch_count=1`, which caps pipelining at one broker round trip per
request (about 2,000 calls/s here); this baseline uses 100, so the yardstick is the pattern at its
fastest. Bodies are JSON (stdlib) so that the work per call is comparable with the other systems.
Pipelined calls publish N requests and then collect N replies.

    python bench/system_pika.py server --uri URI
    python bench/system_pika.py client --uri URI --server-pid PID [workload options]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import uuid
from typing import Any

import pika
import workload
from pika.adapters.blocking_connection import BlockingChannel

QUEUE = "bench_pika_rpc"
PREFETCH = 100


def _handle(request: dict[str, Any]) -> object:
    args = request["args"]
    if request["method"] == "compute":
        return args[0] + args[1]
    return args[0]


def serve(uri: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE)
    channel.basic_qos(prefetch_count=PREFETCH)

    def on_request(ch: BlockingChannel, method: Any, props: Any, body: bytes) -> None:
        reply = json.dumps(_handle(json.loads(body)))
        ch.basic_publish(
            exchange="",
            routing_key=props.reply_to,
            properties=pika.BasicProperties(correlation_id=props.correlation_id),
            body=reply,
        )
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_consume(queue=QUEUE, on_message_callback=on_request)
    # SIGTERM interrupts the blocking loop at once; stop_consuming() from a handler took seconds.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        channel.start_consuming()
    connection.close()


class PikaClient:
    """The tutorial's client, with many calls allowed in flight."""

    def __init__(self, uri: str) -> None:
        self._conn = pika.BlockingConnection(pika.URLParameters(uri))
        self._ch = self._conn.channel()
        self._callback_queue = self._ch.queue_declare(queue="", exclusive=True).method.queue
        self._ch.basic_consume(
            queue=self._callback_queue, on_message_callback=self._on_response, auto_ack=True
        )
        self._replies: dict[str, bytes] = {}

    def _on_response(self, ch: Any, method: Any, props: Any, body: bytes) -> None:
        self._replies[props.correlation_id] = body

    def _publish(self, method: str, args: list[object]) -> str:
        corr_id = str(uuid.uuid4())
        self._ch.basic_publish(
            exchange="",
            routing_key=QUEUE,
            properties=pika.BasicProperties(reply_to=self._callback_queue, correlation_id=corr_id),
            body=json.dumps({"method": method, "args": args}),
        )
        return corr_id

    def _wait(self, corr_id: str) -> object:
        while corr_id not in self._replies:
            self._conn.process_data_events(time_limit=None)
        return json.loads(self._replies.pop(corr_id))

    def compute(self) -> int:
        result = self._wait(self._publish("compute", [1, 2]))
        assert isinstance(result, int)
        return result

    def echo(self, payload: str) -> str:
        result = self._wait(self._publish("echo", [payload]))
        assert isinstance(result, str)
        return result

    def burst(self, n: int) -> None:
        for corr_id in [self._publish("compute", [1, 2]) for _ in range(n)]:
            self._wait(corr_id)

    def close(self) -> None:
        self._conn.close()


def main() -> None:
    role = sys.argv.pop(1)
    if role == "server":
        parser = argparse.ArgumentParser()
        parser.add_argument("--uri", required=True)
        serve(parser.parse_args().uri)
    else:
        workload.main_sync(lambda cfg, _ns: PikaClient(cfg.uri))


if __name__ == "__main__":
    main()

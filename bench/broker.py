"""The broker a benchmark run uses: its own ephemeral RabbitMQ node, or a given URI.

Also the two broker-side helpers the driver needs: the broker's OS pid (so that clients can read its
CPU from /proc) and a readiness wait (a server is ready once its request queue has a consumer).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions


@dataclass
class BenchBroker:
    """An AMQP URI to benchmark against, and how to clean up afterwards."""

    uri: str
    description: str
    pid: int = 0  # the broker's OS pid when known, for its CPU figures
    _cleanup: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for step in reversed(self._cleanup):
            with contextlib.suppress(Exception):
                step()
        self._cleanup.clear()


def start_node() -> BenchBroker:
    """Boot a private RabbitMQ node (the project's test helper); it is removed on close."""
    # rabbitnode is stdlib-only; rpcgen.runtime.testing re-exports it but needs pytest.
    from rpcgen.runtime.testing.node import RabbitNode

    node = RabbitNode(management=False)
    broker = BenchBroker(node.uri, "ephemeral RabbitMQ node started by the benchmark")
    broker.pid = listener_pid(node.uri)
    broker._cleanup.append(node.close)
    return broker


def external(uri: str, mgmt_url: str | None) -> BenchBroker:
    """Use a running broker; with `mgmt_url`, on a fresh vhost that is deleted afterwards."""
    broker = BenchBroker(uri, "existing broker (shared: its CPU includes other clients' work)")
    if mgmt_url:
        vhost = "bench-" + secrets.token_hex(4)
        _mgmt(mgmt_url, "PUT", f"vhosts/{vhost}", None)
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        user = urllib.parse.urlsplit(uri).username or "guest"
        _mgmt(mgmt_url, "PUT", f"permissions/{vhost}/{user}", perms)
        broker._cleanup.append(lambda: _mgmt(mgmt_url, "DELETE", f"vhosts/{vhost}", None))
        parts = urllib.parse.urlsplit(uri)
        broker.uri = f"{parts.scheme}://{parts.netloc}/{vhost}"
        broker.description += f", fresh vhost {vhost}"
    broker.pid = listener_pid(uri)
    return broker


def _mgmt(base: str, method: str, path: str, body: object) -> None:
    """One call to the RabbitMQ management HTTP API (credentials taken from the URL)."""
    parts = urllib.parse.urlsplit(base)
    auth = b64encode(f"{parts.username or 'guest'}:{parts.password or 'guest'}".encode()).decode()
    url = f"{parts.scheme}://{parts.hostname}:{parts.port}/api/{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("authorization", f"Basic {auth}")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10):
        pass


def listener_pid(uri: str) -> int:
    """The pid of the local process listening on the URI's port (via `ss`); 0 if unknown."""
    port = urllib.parse.urlsplit(uri).port or 5672
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r"pid=(\d+)", out)
    return int(match.group(1)) if match else 0


def wait_for_consumer(
    uri: str, queue: str, alive: Any, timeout: float = 60.0, consumers: int = 1
) -> None:
    """Block until `queue` has a consumer; `alive()` returning False aborts (the server died)."""
    deadline = time.monotonic() + timeout
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(f"server exited before it consumed from {queue!r}")
            channel = connection.channel()
            try:
                frame = channel.queue_declare(queue=queue, passive=True)
                if frame.method.consumer_count >= consumers:
                    return
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass  # 404: not declared yet
            time.sleep(0.1)
        raise TimeoutError(f"no consumer on {queue!r} after {timeout:.0f} s")
    finally:
        connection.close()

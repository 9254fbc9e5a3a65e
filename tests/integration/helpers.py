"""Small pika-level helpers for looking at the wire from the outside in integration tests."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pika

AMQP = os.environ.get("RPCGEN_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5699/")
MGMT = os.environ.get("RPCGEN_TEST_MGMT_URI", "http://guest:guest@127.0.0.1:15699/api/")


@dataclass
class Broker:
    """One test's vhost: its AMQP URI and management API helpers."""

    vhost: str
    uri: str

    def api(self, method: str, path: str, body: object = None) -> Any:
        parts = urlsplit(MGMT)
        base = f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path.rstrip('/')}"
        auth = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode()
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{base}/{path}", data=data, method=method)
        req.add_header("authorization", f"Basic {auth}")
        req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def queue(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.api("GET", f"queues/{quote(self.vhost, safe='')}/{quote(name, safe='')}")
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def queues(self) -> list[dict[str, Any]]:
        return list(self.api("GET", f"queues/{quote(self.vhost, safe='')}"))

    def exchange(self, name: str) -> dict[str, Any]:
        return dict(self.api("GET", f"exchanges/{quote(self.vhost, safe='')}/{quote(name)}"))

    def bindings(self) -> list[dict[str, Any]]:
        return list(self.api("GET", f"bindings/{quote(self.vhost, safe='')}"))


def with_vhost(uri: str, vhost: str) -> str:
    parts = urlsplit(uri)
    return parts._replace(path="/" + quote(vhost, safe="")).geturl()


@contextmanager
def raw_channel(uri: str) -> Iterator[Any]:
    """A plain BlockingConnection channel on ``uri``, for publishing and peeking."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        yield conn.channel()
    finally:
        conn.close()


def declare_ghost(channel: Any, service: str) -> None:
    """A service queue exactly as a server declares it, but with nobody consuming it."""
    channel.exchange_declare("nameko-rpc", "topic", durable=True)
    channel.queue_declare(f"rpc-{service}", durable=True)
    channel.queue_bind(f"rpc-{service}", "nameko-rpc", f"{service}.*")


def spy(channel: Any, routing_key: str) -> str:
    """A queue receiving a copy of every message published with ``routing_key``."""
    channel.exchange_declare("nameko-rpc", "topic", durable=True)
    name = str(channel.queue_declare("", exclusive=True).method.queue)
    channel.queue_bind(name, "nameko-rpc", routing_key)
    return name


def get(channel: Any, queue: str, timeout: float = 10.0) -> tuple[Any, Any, bytes]:
    """The next message on ``queue`` (method, properties, body), waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            return method, props, body
        time.sleep(0.02)
    raise AssertionError(f"no message on {queue} within {timeout} s")

"""Small pika-level and management-API helpers for looking at the wire from the outside.

The broker and the per-test vhost come from rpcgen's pytest plugin (``rabbit_vhost``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pika
from rpcgen.runtime.testing import Vhost

from tests.waiting import wait_until


def api(vhost: Vhost, method: str, path: str, body: object = None) -> Any:
    """Call the management API of the broker that holds ``vhost``."""
    return vhost.broker.management.request(method, path, body)


def queue_row(vhost: Vhost, name: str) -> dict[str, Any] | None:
    """The management API's description of a queue (flags, arguments), None if missing."""
    row = vhost.broker.management.request(
        "GET", f"queues/{_q(vhost.name)}/{_q(name)}", ok_missing=True
    )
    return None if row is None else dict(row)


def exchange(vhost: Vhost, name: str) -> dict[str, Any]:
    return dict(api(vhost, "GET", f"exchanges/{_q(vhost.name)}/{_q(name)}"))


def bindings(vhost: Vhost) -> list[dict[str, Any]]:
    return list(api(vhost, "GET", f"bindings/{_q(vhost.name)}"))


def _q(segment: str) -> str:
    return quote(segment, safe="")


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

    def one() -> tuple[Any, Any, bytes] | None:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        return None if method is None else (method, props, body)

    return wait_until(one, timeout, what=f"a message on {queue}")


def prefetch_counts(vhost: Vhost, queue: str) -> list[int]:
    """The prefetch of each consumer of ``queue``, once the management API lists one (it lags)."""

    def found() -> list[int]:
        consumers = api(vhost, "GET", f"consumers/{_q(vhost.name)}")
        return [c["prefetch_count"] for c in consumers if c["queue"]["name"] == queue]

    return wait_until(found, 15, what=f"consumers of {queue}", interval=0.2)


def close_connections(vhost: Vhost, connection_name: str) -> int:
    """Have the broker close every connection of ``vhost`` with that client name; how many."""

    def closed() -> int:
        rows = api(vhost, "GET", f"vhosts/{quote(vhost.name, safe='')}/connections")
        names = [
            row["name"]
            for row in rows
            if row.get("client_properties", {}).get("connection_name") == connection_name
        ]
        for name in names:
            api(vhost, "DELETE", f"connections/{quote(name, safe='')}")
        return len(names)

    # The management API lists new connections with a lag.
    return wait_until(closed, 15, what=f"connections named {connection_name!r}", interval=0.2)

"""Connection settings, defined once: the keyword arguments every helper passes to ``Connection``.

``Connection(uri, **options)`` defines each setting and its default; ``Client.connect``,
``AsyncClient.connect``, ``AsyncConnection.open``, ``ServiceRunner``, ``run_in_background`` and
``serve`` take the same ``**options`` (typed by ``ConnectionOptions``) and hand them on
unchanged, so a new setting is added in two places: here and in ``Connection``. A test checks
that the two agree.
"""

from __future__ import annotations

from typing import TypedDict

from rpcgen.runtime._amqp import Backoff

__all__ = ["ConnectionOptions"]


class ConnectionOptions(TypedDict, total=False):
    """Settings of a ``Connection``; see its docstring for each one's meaning and default."""

    exchange: str
    client_name: str
    heartbeat: int
    connect_timeout: float
    max_message_bytes: int
    reconnect: Backoff | None
    reply_queue_ttl_ms: int
    fail_fast: bool

"""The one place that reads a URI and picks what carries the messages: RabbitMQ, or memory.

``memory://NAME`` (also through ``$RPCGEN_AMQP_URI``) gives a ``MemoryConnection`` on the
in-process broker of that name (made on first use); anything else a real ``Connection``. This is
the only module that knows both transports; each implements ``_transport.Transport``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rpcgen.runtime._amqp import URI_ENV, Connection, as_received
from rpcgen.runtime._memory import SCHEME, MemoryConnection, broker_named
from rpcgen.runtime._transport import Transport

if TYPE_CHECKING:
    from rpcgen.runtime.options import ConnectionOptions
    from typing_extensions import Unpack

__all__ = ["is_memory_uri", "open_connection"]


def is_memory_uri(uri: str | Sequence[str] | None) -> bool:
    """Whether ``uri`` (None: ``$RPCGEN_AMQP_URI``) names an in-memory broker."""
    if uri is None:
        uri = os.environ.get(URI_ENV, "")
    return isinstance(uri, str) and uri.startswith(SCHEME)


def open_connection(
    uri: str | Sequence[str] | None = None,
    *,
    reply_queue: bool = True,
    **options: Unpack[ConnectionOptions],
) -> Transport:
    """A connection on ``uri``: a ``Connection``, or a ``MemoryConnection`` for ``memory://NAME``."""
    if is_memory_uri(uri):
        name = (uri if isinstance(uri, str) else os.environ[URI_ENV])[len(SCHEME) :]
        if not name or "/" in name:
            raise ValueError(f"a memory URI is memory://NAME, not {uri!r}")
        # Headers travel as AMQP tables would: through the real encoder, unless plain.
        broker = broker_named(name)
        return MemoryConnection(broker, reply_queue=reply_queue, as_received=as_received, **options)
    if not isinstance(uri, str) and uri is not None and any(is_memory_uri(u) for u in uri):
        raise ValueError("a memory:// URI cannot be part of a failover list")
    return Connection(uri, reply_queue=reply_queue, **options)

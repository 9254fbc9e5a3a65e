"""The in-memory transport: a broker in this process, for tests (``memory://NAME`` URIs).

- ``broker``: ``MemoryBroker`` (exchanges, queues, bindings, consumers, as RabbitMQ routes and
  delivers) and the registry of open brokers by name.
- ``connection``: ``MemoryConnection``, the ``_transport.Transport`` on such a broker.
- ``consumer``: ``MemoryConsumer`` (the ``_transport.Served`` of a queue), ``Declarer`` (runs
  ``_topology``'s declare steps against the broker).

Requests, replies and events are built, encoded, dispatched and decoded by the same neutral
core as on a real broker (``_transport``, ``_calls``, ``_topology``, ``_dispatch``); only the
sockets are missing. Nothing here imports pika or the AMQP transport (a test checks it).
``_connect.open_connection`` picks this package for a ``memory://`` URI. Importing it starts
nothing and registers nothing.
"""

from rpcgen.runtime._memory.broker import SCHEME, MemoryBroker, broker_named, topic_matches
from rpcgen.runtime._memory.connection import MemoryConnection, MemoryConsumer

__all__ = [
    "SCHEME",
    "MemoryBroker",
    "MemoryConnection",
    "MemoryConsumer",
    "broker_named",
    "topic_matches",
]

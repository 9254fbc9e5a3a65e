"""The in-memory transport: a broker in this process, for tests (``memory://NAME`` URIs).

- ``broker``: ``MemoryBroker`` (exchanges, queues, bindings, consumers, as RabbitMQ routes and
  delivers) and the registry of open brokers by name.
- ``connection``: ``MemoryConnection`` (what clients and ``ServiceRunner`` use of a
  ``Connection``) and ``MemoryConsumer`` (what the runner uses of a ``Consumer``).

Requests, replies and events are built, encoded, dispatched and decoded by the same core as
on a real broker; only the sockets are missing. ``_transport.open_connection`` picks this
package for a ``memory://`` URI. Importing it starts nothing and registers nothing.
"""

from rpcgen.runtime._memory.broker import MemoryBroker, broker_named, topic_matches
from rpcgen.runtime._memory.connection import MemoryConnection, MemoryConsumer

__all__ = ["MemoryBroker", "MemoryConnection", "MemoryConsumer", "broker_named", "topic_matches"]
